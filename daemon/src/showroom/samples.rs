//! A showroom's sample file: a CSV whose header names the columns, read
//! whole into memory, and matched to a model's features by name.
//!
//! Receives a path (and, to bind, a model's feature names and types). Emits
//! a [`SampleSet`] (every cell as written) and, per model version, the
//! [`Bound`] feature values in the model's order (numbers parsed, text as
//! written, an empty text cell NULL); or a [`SampleError`] naming the file,
//! the line and why. Blocking (file reads).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::model::FeatureKind;
use crate::model::input::{OwnedInputs, Value};

/// More rows than a person looks at; a bigger file is a data set, not samples,
/// and would not fit in one answer.
pub const MAX_ROWS: usize = 10_000;

/// What is wrong with a sample file: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SampleError {
    pub path: PathBuf,
    /// The file's line (the header is line 1), when the fault has one.
    pub line: Option<u64>,
    pub reason: String,
}

/// Identifies one version of a file's content cheaply, to notice it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    /// The file's stamp now; `None` when it cannot be read (a changed state too).
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
            inode: m.ino(),
        })
    }
}

/// One data line of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub line: u64,
    /// Trimmed, one per header column.
    pub cells: Vec<String>,
}

/// A sample file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSet {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub records: Vec<Record>,
}

/// A sample set's feature values in a model's feature order: `rows[row][feature]`,
/// and the same as model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub rows: Vec<Vec<Value>>,
    pub inputs: OwnedInputs,
}

impl SampleSet {
    /// Reads and checks the whole file: a header, then rows with as many fields.
    pub fn load(path: &Path) -> Result<SampleSet, SampleError> {
        let fail = |line: Option<u64>, reason: String| SampleError {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(None, format!("cannot read it: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(fail(
                None,
                "the file is empty; expected a header naming the model's features, then sample rows"
                    .into(),
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(bytes.as_slice());
        // The line from the byte offset: the csv crate's own line count
        // skips blank lines, and people count them.
        let line_at = |p: &csv::Position| {
            let mut end = (p.byte() as usize).min(bytes.len());
            // A record's position may point at the blank lines before it.
            while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
                end += 1;
            }
            1 + bytes[..end].iter().filter(|b| **b == b'\n').count() as u64
        };
        let csv_error = |e: csv::Error| {
            let line = e.position().map(line_at);
            let reason = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            fail(line, reason)
        };
        let header: Vec<String> = reader
            .headers()
            .map_err(csv_error)?
            .iter()
            .map(str::to_string)
            .collect();
        for (i, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(fail(
                    Some(1),
                    format!("column {} of the header has no name", i + 1),
                ));
            }
            if header[..i].contains(name) {
                return Err(fail(Some(1), format!("column {name:?} appears twice")));
            }
        }
        let mut records = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = record.position().map(line_at).unwrap_or(0);
            if record.len() == 1 && record.get(0) == Some("") {
                continue; // a blank line
            }
            if record.len() != header.len() {
                return Err(fail(
                    Some(line),
                    format!(
                        "{} field{}, but the header has {} columns",
                        record.len(),
                        if record.len() == 1 { "" } else { "s" },
                        header.len()
                    ),
                ));
            }
            if records.len() == MAX_ROWS {
                return Err(fail(
                    Some(line),
                    format!(
                        "more than {MAX_ROWS} sample rows; a showroom shows samples, not a data set"
                    ),
                ));
            }
            records.push(Record {
                line,
                cells: record.iter().map(str::to_string).collect(),
            });
        }
        if records.is_empty() {
            return Err(fail(Some(1), "a header but no sample rows".into()));
        }
        Ok(SampleSet {
            path: path.to_path_buf(),
            header,
            records,
        })
    }

    /// The feature values in `features`' order: a number feature's cell a
    /// finite number, a text feature's cell as written (empty: NULL); the
    /// error names the missing column or the line and the cell.
    pub fn bind(
        &self,
        features: &[String],
        kinds: &[FeatureKind],
        model: &str,
    ) -> Result<Bound, SampleError> {
        let fail = |line: u64, reason: String| SampleError {
            path: self.path.clone(),
            line: Some(line),
            reason,
        };
        let mut columns = Vec::with_capacity(features.len());
        let mut missing = Vec::new();
        for f in features {
            match self.header.iter().position(|h| h == f) {
                Some(c) => columns.push(c),
                None => missing.push(f.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(fail(
                1,
                format!(
                    "no column for feature{} {} (model {model} takes {})",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    features.join(", ")
                ),
            ));
        }
        let mut rows = Vec::with_capacity(self.records.len());
        for record in &self.records {
            let mut row = Vec::with_capacity(features.len());
            for (j, &c) in columns.iter().enumerate() {
                let cell = &record.cells[c];
                let kind = kinds.get(j).copied().unwrap_or_default();
                row.push(match kind {
                    FeatureKind::Text if cell.is_empty() => Value::Null,
                    FeatureKind::Text => Value::Text(cell.clone()),
                    FeatureKind::Number => Value::Number(parse_number(cell).ok_or_else(|| {
                        fail(
                            record.line,
                            if cell.is_empty() {
                                format!("{} is empty; expected a number", features[j])
                            } else {
                                format!("{} is {cell:?}, not a number", features[j])
                            },
                        )
                    })?),
                });
            }
            rows.push(row);
        }
        let inputs = OwnedInputs::from_rows(&rows, kinds);
        Ok(Bound { rows, inputs })
    }
}

/// A finite number, as people write them in CSV files.
pub fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Vec<String> {
        ["a", "b"].iter().map(|s| s.to_string()).collect()
    }

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_valid_file_binds_by_name_in_the_models_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "ok.csv",
            b"id, b ,a,note\n1,2,3,x\n\n2, 5,4.5 ,\"y, z\"\n",
        );
        let s = SampleSet::load(&p).unwrap();
        assert_eq!(s.header, ["id", "b", "a", "note"]);
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0].line, 2);
        assert_eq!(s.records[1].line, 4);
        assert_eq!(s.records[1].cells, ["2", "5", "4.5", "y, z"]);
        let kinds = [FeatureKind::Number; 2];
        let b = s.bind(&features(), &kinds, "m").unwrap();
        assert_eq!(b.inputs.numbers.row(0).to_vec(), vec![3.0, 2.0]);
        assert_eq!(b.inputs.numbers.row(1).to_vec(), vec![4.5, 5.0]);
        // A text feature takes the cell as written; an empty cell is NULL.
        let b = s
            .bind(
                &["note".to_string(), "a".to_string()],
                &[FeatureKind::Text, FeatureKind::Number],
                "m",
            )
            .unwrap();
        assert_eq!(b.rows[0], vec![Value::Text("x".into()), Value::Number(3.0)]);
        assert_eq!(b.rows[1][0], Value::Text("y, z".into()));
        assert_eq!(b.inputs.texts.get(0).unwrap().get(1), Some("y, z"));
    }

    #[test]
    fn a_changed_file_has_another_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s.csv", b"a,b\n1,2\n");
        let before = FileStamp::of(&p).unwrap();
        assert_eq!(FileStamp::of(&p), Some(before));
        std::fs::write(&p, b"a,b\n1,2\n3,4\n").unwrap();
        assert_ne!(FileStamp::of(&p), Some(before));
        assert_eq!(FileStamp::of(&dir.path().join("gone.csv")), None);
    }
}

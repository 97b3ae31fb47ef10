//! Training datasets: reading a configured CSV (or a datalake query) into
//! feature columns — numbers, and text (categories, one-hot encoded before
//! fitting) — and the label (classes, or a number to predict), describing it
//! for the catalog, and fingerprinting the rows trained on.
//!
//! Receives a `[models.datasets.NAME]` entry. Emits a [`LoadedDataset`] or a
//! [`TrainingError`] that names the file, line and column at fault.

use std::path::Path;

use std::collections::BTreeMap;

use crate::datalake::Datalake;
use crate::model::{FeatureKind, TextColumn, TextColumns};
use mld_shared::config::{DatalakeConfig, DatasetConfig, DatasetTask};
use ndarray::Array2;
use sha2::{Digest, Sha256};

use super::TrainingError;

pub use crate::model::Task;

/// A dataset in memory: `x` rows in `features` order (a text feature's
/// column holds zeros; its values are in `texts`), and the label: `y`
/// indexes `classes` (sorted) for classification, `targets` are the numbers
/// to predict for regression.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    pub features: Vec<String>,
    pub kinds: Vec<FeatureKind>,
    pub label: String,
    pub x: Array2<f64>,
    /// Text features' values, by feature index; NULL (an empty cell) is `None`.
    pub texts: TextColumns,
    pub y: Vec<usize>,
    pub classes: Vec<String>,
    pub targets: Vec<f64>,
    pub task: Task,
}

impl LoadedDataset {
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }
}

/// A label column of numbers that are not all integers is a regression target;
/// anything else (text, integer codes) names classes.
fn infer_task(labels: &[String]) -> Task {
    let numeric: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.trim().parse::<f64>().ok())
        .collect();
    match numeric {
        Some(v) if v.iter().any(|x| x.fract() != 0.0) => Task::Regression,
        _ => Task::Classification,
    }
}

fn task_of(config: &DatasetConfig) -> Option<Task> {
    config.task.map(|t| match t {
        DatasetTask::Classification => Task::Classification,
        DatasetTask::Regression => Task::Regression,
    })
}

/// The sorted distinct labels, and each row's index into them.
fn classes_of(labels: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut classes = labels.to_vec();
    classes.sort();
    classes.dedup();
    let y = labels
        .iter()
        .map(|l| classes.binary_search(l).unwrap_or(0))
        .collect();
    (classes, y)
}

/// A label column read: the classes and each row's class index (a
/// classifier's), or each row's target (a regressor's).
type LabelValues = (Vec<String>, Vec<usize>, Vec<f64>);

/// The label as the task reads it: classes, or numbers (the error names the
/// row whose label is not a number).
fn label_values(
    raw: &[String],
    task: Task,
    row_name: &dyn Fn(usize) -> String,
) -> Result<LabelValues, String> {
    match task {
        Task::Classification => {
            let (classes, y) = classes_of(raw);
            Ok((classes, y, Vec::new()))
        }
        Task::Regression => {
            let targets = raw
                .iter()
                .enumerate()
                .map(|(r, l)| match l.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(format!(
                        "{}: the label is {l:?}, not a number (a regression dataset predicts numbers)",
                        row_name(r)
                    )),
                })
                .collect::<Result<_, _>>()?;
            Ok((Vec::new(), Vec::new(), targets))
        }
    }
}

/// Reads a dataset: a CSV file, or a query on a datalake.
pub fn load(
    name: &str,
    config: &DatasetConfig,
    datalakes: &BTreeMap<String, DatalakeConfig>,
) -> Result<LoadedDataset, TrainingError> {
    if let Some(path) = config.csv.as_deref() {
        return load_csv_as(
            name,
            path,
            &config.label,
            config.features.as_deref(),
            task_of(config),
        );
    }
    let fail = |reason: String| TrainingError::Dataset {
        name: name.to_string(),
        reason,
    };
    let (Some(lake_name), Some(query)) = (&config.datalake, &config.query) else {
        return Err(fail("needs `csv`, or `datalake` and `query`".into()));
    };
    let Some(features) = config.features.as_deref() else {
        return Err(fail("a query dataset names its `features`".into()));
    };
    let lake_cfg = datalakes
        .get(lake_name)
        .ok_or_else(|| fail(format!("no datalake named {lake_name:?} is configured")))?;
    let lake = Datalake::from_config(lake_name, lake_cfg).map_err(|e| fail(e.to_string()))?;
    load_query_as(name, &lake, query, &config.label, features, task_of(config))
}

/// Reads a query dataset through the datalake's streaming reader: the label
/// column comes back as text (the reader's row key); each feature as the
/// database types it (a number column as numbers, any other as text).
pub fn load_query(
    name: &str,
    lake: &Datalake,
    query: &str,
    label: &str,
    features: &[String],
) -> Result<LoadedDataset, TrainingError> {
    load_query_as(name, lake, query, label, features, None)
}

pub fn load_query_as(
    name: &str,
    lake: &Datalake,
    query: &str,
    label: &str,
    features: &[String],
    task: Option<Task>,
) -> Result<LoadedDataset, TrainingError> {
    let fail = |reason: String| TrainingError::Dataset {
        name: name.to_string(),
        reason,
    };
    if features.is_empty() {
        return Err(fail("no feature columns".into()));
    }
    let mut reader = lake
        .read_database_typed(query, label, features, lake.batch_size())
        .map_err(|e| fail(e.to_string()))?;
    let kinds = reader.kinds().to_vec();
    let mut values = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    let mut texts = TextColumns::new();
    for (j, k) in kinds.iter().enumerate() {
        if *k == FeatureKind::Text {
            texts.insert(j, TextColumn::new());
        }
    }
    while let Some(batch) = reader.next_batch().map_err(|e| fail(e.to_string()))? {
        if let Some(u) = batch.unscorable.first() {
            return Err(fail(format!(
                "the row labelled {:?} cannot be used: {}",
                u.key, u.reason
            )));
        }
        values.extend(batch.features.iter().copied());
        for (j, t) in batch.texts.iter() {
            if let Some(all) = texts.get_mut(j) {
                for r in 0..t.len() {
                    all.push(t.get(r));
                }
            }
        }
        raw_labels.extend(batch.keys);
    }
    if raw_labels.is_empty() {
        return Err(fail("the query returned no rows".into()));
    }
    if raw_labels.iter().any(|l| l.is_empty()) {
        return Err(fail(format!("empty label in column {label:?}")));
    }
    let task = task.unwrap_or_else(|| infer_task(&raw_labels));
    let (classes, y, targets) =
        label_values(&raw_labels, task, &|r| format!("row {}", r + 1)).map_err(fail)?;
    let x = Array2::from_shape_vec((raw_labels.len(), features.len()), values)
        .map_err(|e| fail(e.to_string()))?;
    Ok(LoadedDataset {
        features: features.to_vec(),
        kinds,
        label: label.to_string(),
        x,
        texts,
        y,
        classes,
        targets,
        task,
    })
}

pub fn load_csv(
    name: &str,
    path: &Path,
    label: &str,
    features: Option<&[String]>,
) -> Result<LoadedDataset, TrainingError> {
    load_csv_as(name, path, label, features, None)
}

/// Reads a CSV dataset. A feature column is text when some cell in it is not
/// a number (an empty cell of a text column is NULL); in a number column
/// every cell must be a number.
pub fn load_csv_as(
    name: &str,
    path: &Path,
    label: &str,
    features: Option<&[String]>,
    task: Option<Task>,
) -> Result<LoadedDataset, TrainingError> {
    let fail = |reason: String| TrainingError::Dataset {
        name: name.to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| fail(format!("{}: {e}", path.display())))?
        .iter()
        .map(str::to_string)
        .collect();
    let label_col = header.iter().position(|h| h == label).ok_or_else(|| {
        fail(format!(
            "{}: no label column {label:?} in the header",
            path.display()
        ))
    })?;
    let features: Vec<String> = match features {
        Some(f) => f.to_vec(),
        None => header.iter().filter(|h| *h != label).cloned().collect(),
    };
    let feature_cols: Vec<usize> = features
        .iter()
        .map(|f| {
            header.iter().position(|h| h == f).ok_or_else(|| {
                fail(format!(
                    "{}: no feature column {f:?} in the header",
                    path.display()
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if features.is_empty() {
        return Err(fail(format!("{}: no feature columns", path.display())));
    }

    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        records.push((line, record));
    }
    if records.is_empty() {
        return Err(fail(format!("{}: no records", path.display())));
    }
    // A column with a cell that is there but not a number is text.
    let kinds: Vec<FeatureKind> = feature_cols
        .iter()
        .map(|&c| {
            let text = records.iter().any(|(_, r)| {
                let cell = r.get(c).unwrap_or("");
                !cell.is_empty() && cell.parse::<f64>().is_err()
            });
            if text {
                FeatureKind::Text
            } else {
                FeatureKind::Number
            }
        })
        .collect();
    let mut texts = TextColumns::new();
    for (j, k) in kinds.iter().enumerate() {
        if *k == FeatureKind::Text {
            texts.insert(j, TextColumn::new());
        }
    }
    let mut values = Vec::with_capacity(records.len() * features.len());
    let mut raw_labels = Vec::with_capacity(records.len());
    let mut lines = Vec::with_capacity(records.len());
    for (line, record) in &records {
        for (j, (f, &c)) in features.iter().zip(&feature_cols).enumerate() {
            let cell = record.get(c).unwrap_or("");
            match kinds[j] {
                FeatureKind::Number => {
                    let v: f64 = cell.parse().map_err(|_| {
                        fail(format!(
                            "{} line {line}: feature {f:?} is {cell:?}, not a number",
                            path.display()
                        ))
                    })?;
                    values.push(v);
                }
                FeatureKind::Text => {
                    values.push(0.0);
                    if let Some(t) = texts.get_mut(j) {
                        t.push((!cell.is_empty()).then_some(cell));
                    }
                }
            }
        }
        let l = record.get(label_col).unwrap_or("");
        if l.is_empty() {
            return Err(fail(format!("{} line {line}: empty label", path.display())));
        }
        raw_labels.push(l.to_string());
        lines.push(*line);
    }
    let task = task.unwrap_or_else(|| infer_task(&raw_labels));
    let (classes, y, targets) = label_values(&raw_labels, task, &|r| {
        format!("{} line {}", path.display(), lines[r])
    })
    .map_err(fail)?;
    let x = Array2::from_shape_vec((raw_labels.len(), features.len()), values)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(LoadedDataset {
        features,
        kinds,
        label: label.to_string(),
        x,
        texts,
        y,
        classes,
        targets,
        task,
    })
}

/// sha256 (hex) of the rows `rows` of `data`: feature names, then per row the
/// features (numbers as little-endian f64, text as its bytes) and the label
/// text. Same rows, same fingerprint.
pub fn fingerprint(data: &LoadedDataset, rows: &[usize]) -> String {
    let mut h = Sha256::new();
    for f in &data.features {
        h.update(f.as_bytes());
        h.update([0]);
    }
    for &r in rows {
        for (j, v) in data.x.row(r).iter().enumerate() {
            match data.texts.get(j) {
                Some(t) => {
                    match t.get(r) {
                        Some(s) => h.update(s.as_bytes()),
                        None => h.update([0xff]),
                    }
                    h.update([0]);
                }
                None => h.update(v.to_le_bytes()),
            }
        }
        match data.task {
            Task::Classification => h.update(data.classes[data.y[r]].as_bytes()),
            Task::Regression => h.update(data.targets[r].to_le_bytes()),
        }
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_are_found_and_a_fractional_label_is_a_regression() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        std::fs::write(
            &p,
            "plan,tenure,revenue\npro,3,10.5\n,4,11\nbasic,5.5,2.25\n",
        )
        .unwrap();
        let d = load_csv("d", &p, "revenue", None).unwrap();
        assert_eq!(d.kinds, [FeatureKind::Text, FeatureKind::Number]);
        assert_eq!(d.task, Task::Regression);
        assert_eq!(d.targets, [10.5, 11.0, 2.25]);
        let plan = d.texts.get(0).unwrap();
        assert_eq!(
            (0..3).map(|r| plan.get(r)).collect::<Vec<_>>(),
            [Some("pro"), None, Some("basic")]
        );
        assert_eq!(d.x.column(1).to_vec(), [3.0, 4.0, 5.5]);
        // Whole-number labels name classes unless the dataset says it is a regression.
        std::fs::write(&p, "a,y\n1,3\n2,4\n").unwrap();
        assert_eq!(
            load_csv("d", &p, "y", None).unwrap().task,
            Task::Classification
        );
        let d = load_csv_as("d", &p, "y", None, Some(Task::Regression)).unwrap();
        assert_eq!(
            (d.task, d.targets.clone()),
            (Task::Regression, vec![3.0, 4.0])
        );
        // A regression label must be a number, and the error names the line.
        std::fs::write(&p, "a,y\n1,3\n2,many\n").unwrap();
        let e = load_csv_as("d", &p, "y", None, Some(Task::Regression))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("not a number"), "{e}");
        // An empty cell of a number column is still an error.
        std::fs::write(&p, "a,y\n1,x\n,y\n").unwrap();
        let e = load_csv("d", &p, "y", None).unwrap_err().to_string();
        assert!(e.contains("line 3: feature \"a\" is \"\""), "{e}");
    }
}

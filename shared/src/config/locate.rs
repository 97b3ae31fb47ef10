//! Keeps the parsed TOML with its spans, so any error, from serde or from
//! validation, can be pinned to a line and a key.

use super::error::ConfigError;
use serde::de::DeserializeOwned;
use std::fmt::Write as _;
use std::path::Path;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A step in a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Renders a key path the way errors show it: `jobs[0].schedule`.
pub fn key_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(k);
                } else {
                    let _ = write!(out, "\"{}\"", k.replace('"', "\\\""));
                }
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

pub struct Document<'a> {
    path: &'a Path,
    text: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl<'a> Document<'a> {
    pub fn parse(path: &'a Path, text: &'a str) -> Result<Self, ConfigError> {
        match DeTable::parse(text) {
            Ok(root) => Ok(Document { path, text, root }),
            Err(e) => {
                let (line, column) = match e.span() {
                    Some(span) => line_col(text, span.start),
                    None => (0, 0),
                };
                Err(ConfigError {
                    file: path.to_path_buf(),
                    line: (line > 0).then_some(line),
                    column: (column > 0).then_some(column),
                    key: None,
                    message: format!("invalid TOML: {}", e.message().trim_end()),
                })
            }
        }
    }

    /// Deserializes the whole document, turning a serde error into one that
    /// names the key and the line.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let de = toml::Deserializer::from(self.root.clone());
        serde_path_to_error::deserialize(de).map_err(|e| {
            let mut key = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().trim_end().to_string();
            // serde reports a missing field at its parent; name the field itself.
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                key = if key == "." || key.is_empty() {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
            }
            if key == "." {
                key.clear();
            }
            let (line, column) = match inner.span() {
                Some(span) => line_col(self.text, span.start),
                None => self.locate_str(&key),
            };
            ConfigError {
                file: self.path.to_path_buf(),
                line: (line > 0).then_some(line),
                column: (column > 0).then_some(column),
                key: (!key.is_empty()).then_some(key),
                message,
            }
        })
    }

    /// An error about the value at `path`, placed at that value's line (or at
    /// its nearest parent that exists in the file).
    pub fn error(&self, path: &[Seg], message: impl Into<String>) -> ConfigError {
        let (line, column) = self.locate(path);
        ConfigError {
            file: self.path.to_path_buf(),
            line: (line > 0).then_some(line),
            column: (column > 0).then_some(column),
            key: Some(key_string(path)),
            message: message.into(),
        }
    }

    fn locate(&self, path: &[Seg]) -> (usize, usize) {
        let mut best = 0usize;
        let mut table: Option<&DeTable<'_>> = Some(self.root.get_ref());
        let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
        for seg in path {
            let found: Option<&Spanned<DeValue<'_>>> = match (seg, table, array) {
                (Seg::Key(k), Some(t), _) => {
                    let hit = t
                        .iter()
                        .find(|(key, _)| key.get_ref().as_ref() == k.as_str());
                    if let Some((key, _)) = hit {
                        best = key.span().start;
                    }
                    hit.map(|(_, v)| v)
                }
                (Seg::Index(i), _, Some(a)) => a.get(*i),
                _ => None,
            };
            let Some(value) = found else { break };
            if !matches!(value.get_ref(), DeValue::Table(_)) || matches!(seg, Seg::Index(_)) {
                best = value.span().start;
            }
            table = None;
            array = None;
            match value.get_ref() {
                DeValue::Table(t) => table = Some(t),
                DeValue::Array(a) => array = Some(&a[..]),
                _ => {}
            }
        }
        if best == 0 && path.is_empty() {
            (0, 0)
        } else {
            line_col(self.text, best)
        }
    }

    fn locate_str(&self, key: &str) -> (usize, usize) {
        let mut segs = Vec::new();
        for part in key.split('.') {
            let mut rest = part;
            if let Some(open) = rest.find('[') {
                segs.push(Seg::Key(rest[..open].to_string()));
                rest = &rest[open..];
                while let Some(stripped) = rest.strip_prefix('[') {
                    let close = stripped.find(']').unwrap_or(stripped.len());
                    if let Ok(i) = stripped[..close].parse() {
                        segs.push(Seg::Index(i));
                    }
                    rest = stripped.get(close + 1..).unwrap_or("");
                }
            } else if !rest.is_empty() {
                segs.push(Seg::Key(rest.to_string()));
            }
        }
        self.locate(&segs)
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_render_like_toml() {
        let p = [Seg::from("jobs"), Seg::from(2), Seg::from("schedule")];
        assert_eq!(key_string(&p), "jobs[2].schedule");
        assert_eq!(
            key_string(&[Seg::from("datalakes"), Seg::from("my lake")]),
            "datalakes.\"my lake\""
        );
    }

    #[test]
    fn locates_nested_values() {
        let text = "[daemon]\nsocket = \"x\"\n\n[[jobs]]\nname = \"a\"\n\n[[jobs]]\nname = \"b\"\nschedule = \"bad\"\n";
        let path = Path::new("t.toml");
        let doc = Document::parse(path, text).unwrap();
        let e = doc.error(&["jobs".into(), 1.into(), "schedule".into()], "nope");
        assert_eq!(e.line, Some(9));
        assert_eq!(e.column, Some(12));
        let missing = doc.error(&["jobs".into(), 0.into(), "schedule".into()], "nope");
        assert_eq!(missing.line, Some(4), "falls back to the job's table");
    }
}

//! Training datasets: reading a configured CSV into a feature matrix and class
//! labels, describing it for the catalog, and fingerprinting the rows trained on.
//!
//! Receives a `[models.datasets.NAME]` entry. Emits a [`LoadedDataset`] or a
//! [`TrainingError`] that names the file, line and column at fault.

use std::path::Path;

use std::collections::BTreeMap;

use crate::datalake::Datalake;
use mld_shared::config::{DatalakeConfig, DatasetConfig};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrainingError;

/// What a dataset's label asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Classification,
    Regression,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
}

/// A dataset in memory: `x` rows in `features` order, `y` indexes `classes` (sorted).
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    pub features: Vec<String>,
    pub label: String,
    pub x: Array2<f64>,
    pub y: Vec<usize>,
    pub classes: Vec<String>,
    pub task: Task,
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

/// Reads a dataset: a CSV file, or a query on a datalake. Every feature must
/// be a number on every row.
pub fn load(
    name: &str,
    config: &DatasetConfig,
    datalakes: &BTreeMap<String, DatalakeConfig>,
) -> Result<LoadedDataset, TrainingError> {
    if let Some(path) = config.csv.as_deref() {
        return load_csv(name, path, &config.label, config.features.as_deref());
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
    load_query(name, &lake, query, &config.label, features)
}

/// Reads a query dataset through the datalake's streaming reader: the label
/// column comes back as text (the reader's row key), the features as f64.
pub fn load_query(
    name: &str,
    lake: &Datalake,
    query: &str,
    label: &str,
    features: &[String],
) -> Result<LoadedDataset, TrainingError> {
    let fail = |reason: String| TrainingError::Dataset {
        name: name.to_string(),
        reason,
    };
    if features.is_empty() {
        return Err(fail("no feature columns".into()));
    }
    let mut reader = lake
        .read(query, label, features, lake.batch_size())
        .map_err(|e| fail(e.to_string()))?;
    let mut values = Vec::new();
    let mut raw_labels: Vec<String> = Vec::new();
    while let Some(batch) = reader.next_batch().map_err(|e| fail(e.to_string()))? {
        if let Some(u) = batch.unscorable.first() {
            return Err(fail(format!(
                "the row labelled {:?} cannot be used: {}",
                u.key, u.reason
            )));
        }
        values.extend(batch.features.iter().copied());
        raw_labels.extend(batch.keys);
    }
    if raw_labels.is_empty() {
        return Err(fail("the query returned no rows".into()));
    }
    if raw_labels.iter().any(|l| l.is_empty()) {
        return Err(fail(format!("empty label in column {label:?}")));
    }
    let (classes, y) = classes_of(&raw_labels);
    let x = Array2::from_shape_vec((raw_labels.len(), features.len()), values)
        .map_err(|e| fail(e.to_string()))?;
    Ok(LoadedDataset {
        features: features.to_vec(),
        label: label.to_string(),
        x,
        y,
        task: infer_task(&raw_labels),
        classes,
    })
}

pub fn load_csv(
    name: &str,
    path: &Path,
    label: &str,
    features: Option<&[String]>,
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

    let mut values = Vec::new();
    let mut raw_labels = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        for (f, &c) in features.iter().zip(&feature_cols) {
            let cell = record.get(c).unwrap_or("");
            let v: f64 = cell.parse().map_err(|_| {
                fail(format!(
                    "{} line {line}: feature {f:?} is {cell:?}, not a number",
                    path.display()
                ))
            })?;
            values.push(v);
        }
        let l = record.get(label_col).unwrap_or("");
        if l.is_empty() {
            return Err(fail(format!("{} line {line}: empty label", path.display())));
        }
        raw_labels.push(l.to_string());
    }
    if raw_labels.is_empty() {
        return Err(fail(format!("{}: no records", path.display())));
    }
    let (classes, y) = classes_of(&raw_labels);
    let x = Array2::from_shape_vec((raw_labels.len(), features.len()), values)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(LoadedDataset {
        features,
        label: label.to_string(),
        x,
        y,
        task: infer_task(&raw_labels),
        classes,
    })
}

/// sha256 (hex) of the rows `rows` of `data`: feature names, then per row the
/// features as little-endian f64 and the label text. Same rows, same fingerprint.
pub fn fingerprint(data: &LoadedDataset, rows: &[usize]) -> String {
    let mut h = Sha256::new();
    for f in &data.features {
        h.update(f.as_bytes());
        h.update([0]);
    }
    for &r in rows {
        for v in data.x.row(r) {
            h.update(v.to_le_bytes());
        }
        h.update(data.classes[data.y[r]].as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

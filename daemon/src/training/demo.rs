//! The demo model: logistic regression on the iris CSV with a fixed seed,
//! committed as version 1 of `iris` and made active. Receives the registry and
//! the CSV path; emits the version it ensured. Idempotent: an existing `iris`
//! is left alone (only its alias is set if missing).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::catalog::{ValidRequest, default_hyperparameters};
use super::{TrainingError, dataset, train_on};
use crate::model::{Algorithm, ParamValue, Registry, VersionRef};

pub const DEMO_MODEL: &str = "iris";
pub const DEMO_SEED: u64 = 42;

pub fn ensure_iris_model(
    registry: &Registry,
    iris_csv: &Path,
) -> Result<VersionRef, TrainingError> {
    if registry.meta(DEMO_MODEL, 1).is_ok() {
        let version = registry.active(DEMO_MODEL)?.unwrap_or(1);
        return Ok(registry.set_active(DEMO_MODEL, version)?);
    }
    let data = dataset::load_csv("iris", iris_csv, "species", None)?;
    let mut hyperparameters = default_hyperparameters(Algorithm::LogisticRegression);
    hyperparameters.insert("alpha".to_string(), ParamValue::Float(0.1));
    let request = ValidRequest {
        dataset: "iris".to_string(),
        algorithm: Algorithm::LogisticRegression,
        hyperparameters,
        test_split: 0.3,
        seed: DEMO_SEED,
    };
    let trained = train_on(&request, &data, &mut |_| {}, &AtomicBool::new(false))?;
    registry.commit_as(DEMO_MODEL, 1, trained.meta, &trained.artifact)?;
    Ok(registry.set_active(DEMO_MODEL, 1)?)
}

//! Handlers of the model requests: registry, catalog, training, experiments,
//! ONNX import. One plain function per request, then the
//! conversions from internal types to wire types (`convert` section below).
//!
//! Receives the requests [`super::handlers::handle`] routes here (their role
//! already checked). Registry, catalog and model work runs in
//! `spawn_blocking`; training runs on the [`TrainingRunner`]'s threads.
//! Emits wire answers; every alias move, commit and import goes to the log.
//! (Predictions are the showroom's: `super::showroom`.)
//!
//! [`TrainingRunner`]: crate::training::runner::TrainingRunner

use crate::access::Peer;
use crate::context::Context;
use crate::model::{ExperimentId, ModelError, ModelMeta, VersionStatus};
use crate::training::runner::{self, RunRecord, RunStatus, RunnerError};
use crate::training::{self as tr, Catalog, FieldError, TrainRequest, TrainingError};
use mld_shared::protocol::*;
use mld_shared::time::WireTime;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::handlers::Answer;

pub async fn handle(ctx: &Arc<Context>, peer: &Peer, request: Request) -> Answer {
    match request {
        Request::Models => models(ctx).await,
        Request::Catalog => catalog(ctx).await,
        Request::Train(spec) => train(ctx, peer, spec).await,
        Request::TrainingRun { run } => training_run(ctx, run).await,
        Request::CancelTraining { run } => cancel_training(ctx, peer, run),
        Request::Experiments => experiments(ctx).await,
        Request::Experiment { id } => experiment(ctx, id).await,
        Request::DeleteExperiment { id } => delete_experiment(ctx, peer, id).await,
        Request::CommitExperiment { id, name } => commit(ctx, peer, id, name).await,
        Request::ActivateModel { name, version } => activate(ctx, peer, name, version).await,
        Request::ImportOnnx {
            name,
            features,
            labels,
            onnx,
        } => import_onnx(ctx, peer, name, features, labels, onnx).await,
        Request::TrainingRuns { limit } => training_runs(ctx, limit).await,
        Request::CheckTraining(spec) => check_training(ctx, spec).await,
        other => Err(WireError::new(
            ErrorKind::Internal,
            format!("{} is not a model request", other.name()),
        )),
    }
}

/// Runs blocking work off the runtime; a panic there is an internal error.
async fn blocking<T, F>(f: F) -> Result<T, WireError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, WireError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WireError::new(ErrorKind::Internal, e.to_string()))?
}

async fn models(ctx: &Context) -> Answer {
    let registry = ctx.registry.clone();
    let entries = blocking(move || registry.list().map_err(model_error)).await?;
    Ok(Response::Models(entries.iter().map(model_info).collect()))
}

/// From the context's cache: rebuilt (reading each CSV, running each dataset
/// query) only when the configuration or a CSV changed, never per request.
async fn load_catalog(ctx: &Arc<Context>) -> Result<Catalog, WireError> {
    let (ctx, config) = (ctx.clone(), ctx.config());
    blocking(move || Ok(Catalog::clone(&ctx.catalog.get(&config)))).await
}

async fn catalog(ctx: &Arc<Context>) -> Answer {
    let catalog = load_catalog(ctx).await?;
    Ok(Response::Catalog(Box::new(catalog_info(&catalog))))
}

async fn train(ctx: &Arc<Context>, peer: &Peer, spec: TrainSpec) -> Answer {
    let catalog = load_catalog(ctx).await?;
    let request = train_request(&catalog, &spec).map_err(|errors| {
        WireError::new(
            ErrorKind::InvalidRequest,
            format!("invalid training request: {}", join(&errors)),
        )
    })?;
    let record = ctx
        .training
        .start(catalog, request, &peer.user)
        .await
        .map_err(runner_error)?;
    Ok(Response::TrainingStarted { run: record.run })
}

/// Every problem `Train` would refuse `spec` for, each with its field.
async fn check_training(ctx: &Arc<Context>, spec: TrainSpec) -> Answer {
    let catalog = load_catalog(ctx).await?;
    let problems = match train_request(&catalog, &spec) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field,
                message: e.message,
            })
            .collect(),
    };
    Ok(Response::TrainingProblems(problems))
}

async fn training_runs(ctx: &Context, limit: u32) -> Answer {
    let runs = ctx
        .training
        .recent(limit.clamp(1, 1000))
        .await
        .map_err(runner_error)?;
    Ok(Response::TrainingRuns(
        runs.iter().map(training_info).collect(),
    ))
}

async fn training_run(ctx: &Context, run: u64) -> Answer {
    let record = ctx.training.get(run).await.map_err(runner_error)?;
    Ok(Response::Training(Box::new(training_info(&record))))
}

fn cancel_training(ctx: &Context, peer: &Peer, run: u64) -> Answer {
    let record = ctx.training.cancel(run).map_err(runner_error)?;
    tracing::info!(run, by = %peer.user, "training cancel requested");
    Ok(Response::Training(Box::new(training_info(&record))))
}

async fn experiments(ctx: &Context) -> Answer {
    let registry = ctx.registry.clone();
    let entries = blocking(move || registry.experiments().map_err(model_error)).await?;
    Ok(Response::Experiments(
        entries
            .iter()
            .map(|e| ExperimentInfo {
                id: e.id.0.clone(),
                model: status_info("", 0, None, &e.status),
            })
            .collect(),
    ))
}

async fn experiment(ctx: &Context, id: String) -> Answer {
    let registry = ctx.registry.clone();
    let key = ExperimentId(id.clone());
    let meta = blocking(move || registry.experiment(&key).map_err(model_error)).await?;
    Ok(Response::Experiment(Box::new(ExperimentInfo {
        model: version_info(&meta, None),
        id,
    })))
}

async fn delete_experiment(ctx: &Context, peer: &Peer, id: String) -> Answer {
    let registry = ctx.registry.clone();
    let key = ExperimentId(id.clone());
    blocking(move || registry.delete_experiment(&key).map_err(model_error)).await?;
    tracing::info!(experiment = %id, by = %peer.user, "experiment deleted");
    Ok(Response::ExperimentDeleted { id })
}

async fn commit(ctx: &Context, peer: &Peer, id: String, name: String) -> Answer {
    let registry = ctx.registry.clone();
    let key = ExperimentId(id.clone());
    let (meta, active) = blocking(move || {
        let v = registry
            .commit_experiment(&key, &name)
            .map_err(model_error)?;
        let meta = registry.meta(&v.name, v.version).map_err(model_error)?;
        let active = registry.active(&v.name).map_err(model_error)?;
        Ok((meta, active))
    })
    .await?;
    tracing::info!(experiment = %id, model = %meta.name, version = meta.version, hash = %meta.content_sha256, by = %peer.user, "experiment committed");
    Ok(Response::ModelVersion(Box::new(version_info(
        &meta, active,
    ))))
}

async fn activate(ctx: &Context, peer: &Peer, name: String, version: u32) -> Answer {
    let registry = ctx.registry.clone();
    let (meta, previous) = blocking(move || {
        let previous = registry.active(&name).map_err(model_error)?;
        let v = registry.set_active(&name, version).map_err(model_error)?;
        let meta = registry.meta(&v.name, v.version).map_err(model_error)?;
        Ok((meta, previous))
    })
    .await?;
    tracing::info!(
        model = %meta.name,
        version = meta.version,
        previous = ?previous,
        hash = %meta.content_sha256,
        by = %peer.user,
        "active version moved"
    );
    Ok(Response::ModelVersion(Box::new(version_info(
        &meta,
        Some(meta.version),
    ))))
}

async fn import_onnx(
    ctx: &Context,
    peer: &Peer,
    name: String,
    features: Vec<String>,
    labels: Option<Vec<String>>,
    onnx: Vec<u8>,
) -> Answer {
    if onnx.is_empty() {
        return Err(WireError::new(
            ErrorKind::InvalidRequest,
            "the ONNX file is empty",
        ));
    }
    let registry = ctx.registry.clone();
    let (meta, active) = blocking(move || {
        let v = registry
            .import_onnx(&name, &onnx, features, labels)
            .map_err(|e| match e {
                // The check run on a zero row failed: the graph is at fault, not the daemon.
                ModelError::OnnxRun { .. } => {
                    WireError::new(ErrorKind::InvalidRequest, e.to_string())
                }
                e => model_error(e),
            })?;
        let meta = registry.meta(&v.name, v.version).map_err(model_error)?;
        let active = registry.active(&v.name).map_err(model_error)?;
        Ok((meta, active))
    })
    .await?;
    tracing::info!(model = %meta.name, version = meta.version, hash = %meta.content_sha256, by = %peer.user, "ONNX model imported");
    Ok(Response::ModelVersion(Box::new(version_info(
        &meta, active,
    ))))
}

/// Parses the text hyperparameters by the catalog's types, then validates
/// the whole request; returns every violation, each naming its field.
fn train_request(catalog: &Catalog, spec: &TrainSpec) -> Result<TrainRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut hyperparameters = BTreeMap::new();
    let model = catalog.model(&spec.model);
    for (name, text) in &spec.hyperparameters {
        let field = format!("hyperparameters.{name}");
        if hyperparameters.contains_key(name) {
            errors.push(FieldError {
                field,
                message: "given twice".to_string(),
            });
            continue;
        }
        // Unknown names (or an unknown model) pass as text: validation names them.
        let hp = model.and_then(|m| m.hyperparameters.iter().find(|h| &h.name == name));
        let value = match hp {
            None => Ok(crate::model::ParamValue::Text(text.clone())),
            Some(h) => parse_param(&h.kind, text),
        };
        match value {
            Ok(v) => {
                hyperparameters.insert(name.clone(), v);
            }
            Err(message) => errors.push(FieldError { field, message }),
        }
    }
    let request = TrainRequest {
        dataset: spec.dataset.clone(),
        model: spec.model.clone(),
        hyperparameters,
        test_split: spec.test_split,
        // Unset: a fresh seed, recorded in the run and the experiment so it can be repeated.
        seed: spec
            .seed
            .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64),
    };
    match catalog.validate(&request) {
        Ok(_) if errors.is_empty() => Ok(request),
        Ok(_) => Err(errors),
        Err(TrainingError::Invalid(more)) => {
            errors.extend(more);
            Err(errors)
        }
        Err(e) => {
            errors.push(FieldError {
                field: "request".to_string(),
                message: e.to_string(),
            });
            Err(errors)
        }
    }
}

fn parse_param(kind: &tr::ParamKind, text: &str) -> Result<crate::model::ParamValue, String> {
    use crate::model::ParamValue as V;
    let t = text.trim();
    match kind {
        tr::ParamKind::Int { .. } => t
            .parse::<i64>()
            .map(V::Int)
            .map_err(|_| format!("expected an integer, got {text:?}")),
        tr::ParamKind::Float { .. } => match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(V::Float(v)),
            _ => Err(format!("expected a number, got {text:?}")),
        },
        tr::ParamKind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(V::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(V::Bool(false)),
            _ => Err(format!("expected true or false, got {text:?}")),
        },
        tr::ParamKind::Choice { .. } => Ok(V::Text(t.to_string())),
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn model_error(e: ModelError) -> WireError {
    let kind = match &e {
        ModelError::NotFound { .. }
        | ModelError::NoActive { .. }
        | ModelError::ExperimentNotFound { .. } => ErrorKind::NotFound,
        ModelError::MissingFeatures { .. }
        | ModelError::ColumnCount { .. }
        | ModelError::InvalidName { .. }
        | ModelError::Labels { .. }
        | ModelError::OnnxUnsupported { .. } => ErrorKind::InvalidRequest,
        ModelError::VersionExists { .. } => ErrorKind::Conflict,
        ModelError::OnnxRuntimeMissing { .. } | ModelError::OnnxRuntimeLoad { .. } => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Internal,
    };
    WireError::new(kind, e.to_string())
}

fn runner_error(e: RunnerError) -> WireError {
    let kind = match &e {
        RunnerError::UnknownRun(_) => ErrorKind::NotFound,
        RunnerError::Finished { .. } => ErrorKind::Conflict,
        RunnerError::EventLog(_) | RunnerError::Thread(_) => ErrorKind::Internal,
    };
    WireError::new(kind, e.to_string())
}

/// Publishes each change of a training run to subscribers.
pub fn training_observer(updates: tokio::sync::broadcast::Sender<Update>) -> runner::Observer {
    Arc::new(move |record: &RunRecord| {
        let _ = updates.send(Update::Training(Box::new(training_info(record))));
    })
}

// ---- convert: internal types → wire types ----

fn t(ts: jiff::Timestamp) -> WireTime {
    ts.into()
}

fn param_text(v: &crate::model::ParamValue) -> String {
    use crate::model::ParamValue as V;
    match v {
        V::Bool(b) => b.to_string(),
        V::Int(i) => i.to_string(),
        V::Float(x) => x.to_string(),
        V::Text(s) => s.clone(),
    }
}

fn param_value(v: &crate::model::ParamValue) -> ParamValue {
    use crate::model::ParamValue as V;
    match v {
        V::Bool(b) => ParamValue::Bool(*b),
        V::Int(i) => ParamValue::Int(*i),
        V::Float(x) => ParamValue::Float(*x),
        V::Text(s) => ParamValue::Text(s.clone()),
    }
}

pub fn training_info(r: &RunRecord) -> TrainingInfo {
    TrainingInfo {
        run: r.run,
        spec: TrainSpec {
            dataset: r.request.dataset.clone(),
            model: r.request.model.clone(),
            hyperparameters: r
                .request
                .hyperparameters
                .iter()
                .map(|(k, v)| (k.clone(), param_text(v)))
                .collect(),
            test_split: r.request.test_split,
            seed: Some(r.request.seed),
        },
        requested_by: r.requested_by.clone(),
        status: match r.status {
            RunStatus::Running => TrainingStatus::Running,
            RunStatus::Succeeded => TrainingStatus::Succeeded,
            RunStatus::Failed => TrainingStatus::Failed,
            RunStatus::Cancelled => TrainingStatus::Cancelled,
            RunStatus::Interrupted => TrainingStatus::Interrupted,
        },
        stage: match r.stage {
            tr::Stage::Loading => "loading",
            tr::Stage::Fitting => "fitting",
            tr::Stage::Evaluating => "evaluating",
            tr::Stage::Done => "done",
        }
        .to_string(),
        fraction: r.fraction,
        experiment: r.experiment.clone(),
        error: r.error.clone(),
        started_at: t(r.started_at),
        finished_at: r.finished_at.map(t),
    }
}

fn model_info(e: &crate::model::ModelEntry) -> ModelInfo {
    ModelInfo {
        name: e.name.clone(),
        active: e.active,
        versions: e
            .versions
            .iter()
            .map(|v| status_info(&e.name, v.version, e.active, &v.status))
            .collect(),
    }
}

fn status_info(
    name: &str,
    version: u32,
    active: Option<u32>,
    status: &VersionStatus,
) -> ModelVersionInfo {
    match status {
        VersionStatus::Ok(meta) => {
            let mut info = version_info(meta, active);
            // The directory names the version; an experiment's meta has none.
            info.name = name.to_string();
            info.version = version;
            info.active = active == Some(version) && version != 0;
            info
        }
        VersionStatus::Broken { reason } => ModelVersionInfo {
            name: name.to_string(),
            version,
            active: active == Some(version) && version != 0,
            broken: Some(reason.clone()),
            algorithm: String::new(),
            hyperparameters: Vec::new(),
            features: Vec::new(),
            labels: Vec::new(),
            scaling: String::new(),
            dataset: None,
            fingerprint: None,
            train_rows: None,
            test_rows: None,
            seed: None,
            metrics: None,
            created_at: None,
            hash: String::new(),
            task: String::new(),
            feature_types: Vec::new(),
            regression: None,
        },
    }
}

fn version_info(m: &ModelMeta, active: Option<u32>) -> ModelVersionInfo {
    let training = m.training.as_ref();
    ModelVersionInfo {
        name: m.name.clone(),
        version: m.version,
        active: m.version != 0 && active == Some(m.version),
        broken: None,
        algorithm: m.algorithm.name().to_string(),
        hyperparameters: m
            .hyperparameters
            .iter()
            .map(|(k, v)| (k.clone(), param_text(v)))
            .collect(),
        features: m.features.clone(),
        labels: m.labels.clone(),
        scaling: m.scaling.name().to_string(),
        dataset: training.map(|t| t.dataset.clone()),
        fingerprint: training.map(|t| t.fingerprint.clone()),
        train_rows: training.map(|t| t.train_rows as u64),
        test_rows: training.map(|t| t.test_rows as u64),
        seed: training.map(|t| t.seed),
        metrics: m.metrics.as_ref().map(|x| MetricsInfo {
            accuracy: x.accuracy,
            macro_precision: x.macro_precision,
            macro_recall: x.macro_recall,
            macro_f1: x.macro_f1,
            per_class: x
                .per_class
                .iter()
                .map(|c| ClassMetricsInfo {
                    label: c.label.clone(),
                    precision: c.precision,
                    recall: c.recall,
                    f1: c.f1,
                    support: c.support,
                })
                .collect(),
            confusion: x.confusion.clone(),
        }),
        created_at: Some(t(m.created_at)),
        hash: m.content_sha256.clone(),
        task: m.task.name().to_string(),
        feature_types: m.kinds().iter().map(|k| k.name().to_string()).collect(),
        regression: m
            .regression_metrics
            .as_ref()
            .map(|r| RegressionMetricsInfo {
                mae: r.mae,
                rmse: r.rmse,
                r2: r.r2,
                rows: r.rows,
            }),
    }
}

fn catalog_info(c: &Catalog) -> CatalogInfo {
    CatalogInfo {
        datasets: c
            .datasets
            .iter()
            .map(|d| DatasetInfo {
                name: d.name.clone(),
                task: d.task.map(|t| t.name().to_string()),
                description: d.description.clone(),
                source: match &d.source {
                    tr::DatasetSource::Csv { path } => format!("csv {}", path.display()),
                    tr::DatasetSource::Query { datalake, .. } => format!("query on {datalake}"),
                },
                features: d.features.clone(),
                label: d.label.clone(),
                records: d.records as u64,
                classes: d.classes.clone(),
                preprocessing: d.preprocessing.clone(),
                problem: d.problem.clone(),
                feature_types: d.kinds.iter().map(|k| k.name().to_string()).collect(),
            })
            .collect(),
        models: c
            .models
            .iter()
            .map(|m| AlgorithmInfo {
                name: m.name.clone(),
                task: m.task.name().to_string(),
                description: m.description.clone(),
                hyperparameters: m
                    .hyperparameters
                    .iter()
                    .map(|h| HyperparameterInfo {
                        name: h.name.clone(),
                        description: h.description.clone(),
                        kind: match &h.kind {
                            tr::ParamKind::Int { min, max } => ParamKind::Int {
                                min: *min,
                                max: *max,
                            },
                            tr::ParamKind::Float { min, max } => ParamKind::Float {
                                min: *min,
                                max: *max,
                            },
                            tr::ParamKind::Bool => ParamKind::Bool,
                            tr::ParamKind::Choice { options } => ParamKind::Choice {
                                options: options.clone(),
                            },
                        },
                        default: param_value(&h.default),
                    })
                    .collect(),
            })
            .collect(),
        metrics: c
            .metrics
            .iter()
            .map(|m| MetricInfo {
                name: m.name.clone(),
                description: m.description.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hyperparameters_are_parsed_by_type_and_errors_name_their_field() {
        let catalog = Catalog::new(&BTreeMap::new());
        let spec = TrainSpec {
            dataset: "nope".into(),
            model: "random_forest".into(),
            hyperparameters: vec![
                ("n_trees".into(), "many".into()),
                ("max_depth".into(), "3".into()),
                ("colour".into(), "red".into()),
            ],
            test_split: 1.5,
            seed: Some(1),
        };
        let errors = train_request(&catalog, &spec).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "hyperparameters.n_trees",
            "dataset",
            "hyperparameters.colour",
            "test_split",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        assert!(!fields.contains(&"hyperparameters.max_depth"), "{fields:?}");
        let n_trees = errors.iter().find(|e| e.field == "hyperparameters.n_trees");
        assert_eq!(
            n_trees.unwrap().message,
            "expected an integer, got \"many\""
        );
    }
}

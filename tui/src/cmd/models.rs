//! `mldctl models | catalog | train | experiments | experiment | commit |
//! activate | import-onnx | predict`: the model registry and training, for
//! scripts and people.
//!
//! Receives a connected [`Client`] and the parsed arguments; sends the model
//! requests (`Models`, `Catalog`, `Train` — following the run's
//! `Update::Training` with `--wait` —, `Experiments`, `Experiment`,
//! `CommitExperiment`, `ActivateModel`, `ImportOnnx`, `Predict`); prints a
//! table or JSON (instants as RFC 3339).

use super::{ask, table};
use crate::client::{Client, ClientError};
use clap::Subcommand;
use mld_shared::protocol::{
    CatalogInfo, ExperimentInfo, MetricsInfo, ModelInfo, ModelVersionInfo, ParamKind, ParamValue,
    PredictInput, PredictionResult, Request, Response, ServerFrame, TrainSpec, TrainingInfo,
    TrainingStatus, Update,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// The model registry: every name, its versions, metrics and which is active.
    Models {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What can be trained: datasets, models with their hyperparameters, metrics.
    Catalog {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Train a model from a catalog dataset (admin); it becomes an experiment.
    Train {
        #[arg(long, value_name = "NAME")]
        dataset: String,
        /// A catalog model, e.g. random_forest.
        #[arg(long, value_name = "NAME")]
        model: String,
        /// A hyperparameter, NAME=VALUE; repeat for more.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Share of rows held out for evaluation, in (0, 1).
        #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
        test_split: f64,
        /// Same seed, same data, same request: the same model.
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// Follow the training (progress on stderr) and print the experiment's metrics.
        #[arg(long)]
        wait: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Trained models not yet committed.
    Experiments {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One experiment: what it was trained on and its evaluation.
    Experiment {
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make an experiment the next version of a model (admin).
    Commit {
        experiment: String,
        /// The model name it becomes a version of.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make VERSION the active version of model NAME (admin).
    Activate {
        name: String,
        version: u32,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a scikit-learn model exported with skl2onnx (zipmap off) as the next version of NAME (admin).
    #[command(name = "import-onnx")]
    ImportOnnx {
        file: PathBuf,
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The features, in order: one name per column of the graph's inputs.
        /// Omit them when the graph takes one input per column (a
        /// ColumnTransformer exported with one input per column): the
        /// inputs' names are the features.
        #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
        features: Vec<String>,
        /// Class labels in the model's class order, when the graph does not name them.
        #[arg(long, value_name = "X,Y,...", value_delimiter = ',')]
        labels: Option<Vec<String>>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Score one record with a model (its active version unless --version).
    Predict {
        #[arg(long, value_name = "NAME")]
        model: String,
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        /// The values in the model's feature order: numbers, or text for a
        /// text feature (empty is NULL).
        #[arg(
            long,
            value_name = "V1,V2,...",
            value_delimiter = ',',
            allow_hyphen_values = true,
            conflicts_with = "fields",
            required_unless_present = "fields"
        )]
        values: Option<Vec<String>>,
        /// A value by feature name, NAME=VALUE; repeat for each feature.
        #[arg(long = "field", value_name = "NAME=VALUE")]
        fields: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// The most an ONNX file may weigh to fit in one frame with its request.
const MAX_ONNX_BYTES: usize = mld_shared::frame::MAX_FRAME_LEN - 64 * 1024;

pub async fn run(command: &ModelCommand, socket: &Path) -> anyhow::Result<ExitCode> {
    // Check what the user typed before connecting.
    match command {
        ModelCommand::Models { json } => {
            let mut client = Client::connect(socket).await?;
            let models = ask(&mut client, Request::Models, |r| match r {
                Response::Models(m) => Ok(m),
                other => Err(other),
            })
            .await?;
            if *json {
                print_json_times(&models)?;
            } else {
                out!("{}", models_text(&models))?;
            }
        }
        ModelCommand::Catalog { json } => {
            let mut client = Client::connect(socket).await?;
            let catalog = ask(&mut client, Request::Catalog, |r| match r {
                Response::Catalog(c) => Ok(c),
                other => Err(other),
            })
            .await?;
            if *json {
                print_json_times(&catalog)?;
            } else {
                out!("{}", catalog_text(&catalog))?;
            }
        }
        ModelCommand::Train {
            dataset,
            model,
            params,
            test_split,
            seed,
            wait,
            json,
        } => {
            let hyperparameters = params
                .iter()
                .map(|p| pair(p, "--param"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let spec = TrainSpec {
                dataset: dataset.clone(),
                model: model.clone(),
                hyperparameters,
                test_split: *test_split,
                seed: *seed,
            };
            let mut client = Client::connect(socket).await?;
            return train(&mut client, spec, *wait, *json).await;
        }
        ModelCommand::Experiments { json } => {
            let mut client = Client::connect(socket).await?;
            let list = ask(&mut client, Request::Experiments, |r| match r {
                Response::Experiments(e) => Ok(e),
                other => Err(other),
            })
            .await?;
            if *json {
                print_json_times(&list)?;
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|e| {
                        let m = &e.model;
                        vec![
                            e.id.clone(),
                            m.algorithm.clone(),
                            m.dataset.clone().unwrap_or_default(),
                            evaluation_text(m),
                            m.broken.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    table::render(
                        &["ID", "ALGORITHM", "DATASET", "EVALUATION", "PROBLEM"],
                        &rows
                    )
                )?;
            }
        }
        ModelCommand::Experiment { id, json } => {
            let mut client = Client::connect(socket).await?;
            let e = ask(
                &mut client,
                Request::Experiment { id: id.clone() },
                |r| match r {
                    Response::Experiment(e) => Ok(e),
                    other => Err(other),
                },
            )
            .await?;
            if *json {
                print_json_times(&e)?;
            } else {
                out!("experiment {}\n{}", e.id, version_text(&e.model))?;
            }
        }
        ModelCommand::Commit {
            experiment,
            name,
            json,
        } => {
            let mut client = Client::connect(socket).await?;
            let request = Request::CommitExperiment {
                id: experiment.clone(),
                name: name.clone(),
            };
            return version_answer(&mut client, request, *json).await;
        }
        ModelCommand::Activate {
            name,
            version,
            json,
        } => {
            let mut client = Client::connect(socket).await?;
            let request = Request::ActivateModel {
                name: name.clone(),
                version: *version,
            };
            return version_answer(&mut client, request, *json).await;
        }
        ModelCommand::ImportOnnx {
            file,
            name,
            features,
            labels,
            json,
        } => {
            let onnx = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            if onnx.len() > MAX_ONNX_BYTES {
                anyhow::bail!(
                    "{} is {} bytes; one request carries at most {} bytes (the frame limit is 16 MiB)",
                    file.display(),
                    onnx.len(),
                    MAX_ONNX_BYTES
                );
            }
            let mut client = Client::connect(socket).await?;
            let request = Request::ImportOnnx {
                name: name.clone(),
                features: features.clone(),
                labels: labels.clone(),
                onnx,
            };
            return version_answer(&mut client, request, *json).await;
        }
        ModelCommand::Predict {
            model,
            version,
            values,
            fields,
            json,
        } => {
            // As typed: the daemon reads each as its feature's type and
            // names the feature whose value does not fit.
            let input = match values {
                Some(v) => PredictInput::Cells(v.iter().map(|x| x.trim().to_string()).collect()),
                None => PredictInput::NamedCells(
                    fields
                        .iter()
                        .map(|f| pair(f, "--field"))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                ),
            };
            let mut client = Client::connect(socket).await?;
            let request = Request::Predict {
                model: model.clone(),
                version: *version,
                input,
            };
            let p = ask(&mut client, request, |r| match r {
                Response::Prediction(p) => Ok(p),
                other => Err(other),
            })
            .await?;
            if *json {
                print_json_times(&p)?;
            } else {
                outln!("{}", prediction_text(&p))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `NAME=VALUE` → (NAME, VALUE).
fn pair(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => anyhow::bail!("{flag} takes NAME=VALUE, got {s:?}"),
    }
}

async fn version_answer(
    client: &mut Client,
    request: Request,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let v = ask(client, request, |r| match r {
        Response::ModelVersion(v) => Ok(v),
        other => Err(other),
    })
    .await?;
    if json {
        print_json_times(&v)?;
    } else {
        out!("{}", version_text(&v))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn train(
    client: &mut Client,
    spec: TrainSpec,
    wait: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // Subscribe first, so the run's last update cannot slip by unseen.
    if wait {
        client.subscribe().await?;
    }
    let run = ask(client, Request::Train(spec), |r| match r {
        Response::TrainingStarted { run } => Ok(run),
        other => Err(other),
    })
    .await?;
    if !wait {
        if json {
            print_json_times(&serde_json::json!({ "run": run }))?;
        } else {
            outln!("training run {run}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    // It may have finished before we listened: ask once, then follow updates.
    let mut info = ask(client, Request::TrainingRun { run }, |r| match r {
        Response::Training(t) => Ok(t),
        other => Err(other),
    })
    .await?;
    let mut last_shown = String::new();
    while info.status == TrainingStatus::Running {
        let shown = format!("{} {:.0}%", info.stage, info.fraction * 100.0);
        if shown != last_shown {
            eprintln!("training run {run}: {shown}");
            last_shown = shown;
        }
        match client.next_frame().await? {
            ServerFrame::Update(Update::Training(t)) if t.run == run => info = t,
            ServerFrame::Update(Update::Resync(_)) => {
                info = ask(client, Request::TrainingRun { run }, |r| match r {
                    Response::Training(t) => Ok(t),
                    other => Err(other),
                })
                .await?;
            }
            ServerFrame::Closing { reason } => return Err(ClientError::Closing { reason }.into()),
            _ => {}
        }
    }
    if info.status != TrainingStatus::Succeeded {
        let what = match info.status {
            TrainingStatus::Cancelled => "was cancelled",
            _ => "failed",
        };
        anyhow::bail!(
            "training run {run} {what}: {}",
            info.error.clone().unwrap_or_default()
        );
    }
    let id = info.experiment.clone().unwrap_or_default();
    let e = ask(
        client,
        Request::Experiment { id: id.clone() },
        |r| match r {
            Response::Experiment(e) => Ok(e),
            other => Err(other),
        },
    )
    .await?;
    if json {
        print_json_times(&TrainedJson {
            run: &info,
            experiment: &e,
        })?;
    } else {
        out!(
            "training run {run} succeeded: experiment {id}\n{}",
            version_text(&e.model)
        )?;
        outln!("commit it with: mldctl commit {id} --name NAME")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TrainedJson<'a> {
    run: &'a TrainingInfo,
    experiment: &'a ExperimentInfo,
}

fn models_text(models: &[ModelInfo]) -> String {
    let rows: Vec<Vec<String>> = models
        .iter()
        .flat_map(|m| m.versions.iter())
        .map(|v| {
            vec![
                v.name.clone(),
                v.version.to_string(),
                if v.active {
                    "active".into()
                } else {
                    String::new()
                },
                v.algorithm.clone(),
                v.task.clone(),
                evaluation_text(v),
                features_text(v),
                v.created_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                v.hash.chars().take(12).collect(),
                v.broken.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no models in the registry\n".into();
    }
    table::render(
        &[
            "NAME",
            "VERSION",
            "ALIAS",
            "ALGORITHM",
            "TASK",
            "EVALUATION",
            "FEATURES",
            "CREATED",
            "HASH",
            "PROBLEM",
        ],
        &rows,
    )
}

/// A version's held-out evaluation in one cell.
fn evaluation_text(v: &ModelVersionInfo) -> String {
    match (&v.metrics, &v.regression) {
        (Some(m), _) => format!("accuracy {:.3}, macro F1 {:.3}", m.accuracy, m.macro_f1),
        (None, Some(r)) => format!("R² {:.3}, RMSE {}, MAE {}", r.r2, sig(r.rmse), sig(r.mae)),
        (None, None) => String::new(),
    }
}

/// Each feature with its type: `tenure plan:text`.
fn features_text(v: &ModelVersionInfo) -> String {
    v.features
        .iter()
        .enumerate()
        .map(|(j, f)| match v.feature_types.get(j).map(String::as_str) {
            Some("text") => format!("{f}:text"),
            _ => f.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A number to 6 significant digits.
fn sig(x: f64) -> String {
    crate::cmd::showroom::value_text(x)
}

fn param_kind(k: &ParamKind) -> String {
    match k {
        ParamKind::Int { min, max } => format!("int {min}..={max}"),
        ParamKind::Float { min, max } => format!("float {min}..={max}"),
        ParamKind::Bool => "bool".into(),
        ParamKind::Choice { options } => format!("one of {}", options.join("|")),
    }
}

fn param_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(x) => x.to_string(),
        ParamValue::Text(s) => s.clone(),
    }
}

fn catalog_text(c: &CatalogInfo) -> String {
    let mut out = String::from("DATASETS\n");
    let rows: Vec<Vec<String>> = c
        .datasets
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.task.clone().unwrap_or_else(|| "-".into()),
                d.records.to_string(),
                {
                    let text = d.feature_types.iter().filter(|t| *t == "text").count();
                    if text == 0 {
                        d.features.len().to_string()
                    } else {
                        format!("{} ({text} text)", d.features.len())
                    }
                },
                d.label.clone(),
                d.problem.clone().unwrap_or_else(|| d.description.clone()),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "NAME",
            "TASK",
            "RECORDS",
            "FEATURES",
            "LABEL",
            "DESCRIPTION / PROBLEM",
        ],
        &rows,
    ));
    out.push_str("\nMODELS\n");
    for m in &c.models {
        out.push_str(&format!("{} ({}): {}\n", m.name, m.task, m.description));
        for h in &m.hyperparameters {
            out.push_str(&format!(
                "  --param {}=…  {}, default {} — {}\n",
                h.name,
                param_kind(&h.kind),
                param_value(&h.default),
                h.description
            ));
        }
    }
    out.push_str("\nMETRICS\n");
    for m in &c.metrics {
        out.push_str(&format!("  {}: {}\n", m.name, m.description));
    }
    out
}

fn metrics_text(labels: &[String], m: &MetricsInfo) -> String {
    let mut out = format!(
        "accuracy {:.4} · macro precision {:.4} · recall {:.4} · F1 {:.4}\n",
        m.accuracy, m.macro_precision, m.macro_recall, m.macro_f1
    );
    let rows: Vec<Vec<String>> = m
        .per_class
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                format!("{:.4}", c.precision),
                format!("{:.4}", c.recall),
                format!("{:.4}", c.f1),
                c.support.to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &["CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"],
        &rows,
    ));
    out.push_str("confusion matrix (rows: true class, columns: predicted)\n");
    let mut head = vec![String::new()];
    head.extend(labels.iter().cloned());
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = m
        .confusion
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = vec![labels.get(i).cloned().unwrap_or_default()];
            r.extend(row.iter().map(|n| n.to_string()));
            r
        })
        .collect();
    out.push_str(&table::render(&head_refs, &rows));
    out
}

fn version_text(v: &ModelVersionInfo) -> String {
    if let Some(reason) = &v.broken {
        return format!(
            "{} version {}: cannot be loaded: {reason}\n",
            v.name, v.version
        );
    }
    let mut out = String::new();
    if v.version > 0 {
        out.push_str(&format!(
            "{} version {}{}\n",
            v.name,
            v.version,
            if v.active { " (active)" } else { "" }
        ));
    }
    out.push_str(&format!(
        "{} · algorithm {} · scaling {} · sha256 {}\n",
        v.task, v.algorithm, v.scaling, v.hash
    ));
    if !v.hyperparameters.is_empty() {
        let params: Vec<String> = v
            .hyperparameters
            .iter()
            .map(|(k, x)| format!("{k}={x}"))
            .collect();
        out.push_str(&format!("hyperparameters {}\n", params.join(" ")));
    }
    let features: Vec<String> = v
        .features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let kind = v.feature_types.get(j).map_or("number", String::as_str);
            format!("{f} ({kind})")
        })
        .collect();
    out.push_str(&format!("features {}\n", features.join(", ")));
    if !v.labels.is_empty() {
        out.push_str(&format!("labels {}\n", v.labels.join(", ")));
    }
    if let Some(d) = &v.dataset {
        out.push_str(&format!(
            "trained on {d}: {} rows, {} held out, seed {}, data sha256 {}\n",
            v.train_rows.unwrap_or(0),
            v.test_rows.unwrap_or(0),
            v.seed.unwrap_or(0),
            v.fingerprint.clone().unwrap_or_default()
        ));
    }
    if let Some(m) = &v.metrics {
        out.push_str(&metrics_text(&v.labels, m));
    }
    if let Some(r) = &v.regression {
        out.push_str(&format!(
            "on {} held-out rows: MAE {} · RMSE {} · R² {:.4}\n",
            r.rows,
            sig(r.mae),
            sig(r.rmse),
            r.r2
        ));
    }
    out
}

fn prediction_text(p: &PredictionResult) -> String {
    let inputs: Vec<String> = p.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let what = match p.value {
        Some(v) => crate::cmd::showroom::value_text(v),
        None => format!("{} (score {:.4})", p.label, p.score),
    };
    format!(
        "{what} — {} version {} on {}",
        p.model,
        p.version,
        inputs.join(" ")
    )
}

/// JSON with every `created_at` / `started_at` / `finished_at` (milliseconds
/// on the wire) written as RFC 3339, like every other `--json` output.
fn print_json_times(value: &impl Serialize) -> anyhow::Result<()> {
    let mut v = serde_json::to_value(value)?;
    rfc3339_times(&mut v);
    outln!("{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

fn rfc3339_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                if matches!(k.as_str(), "created_at" | "started_at" | "finished_at")
                    && let Some(ms) = x.as_i64()
                {
                    *x = serde_json::Value::String(mld_shared::time::WireTime(ms).to_rfc3339());
                } else {
                    rfc3339_times(x);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rfc3339_times),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_value_pairs_are_split_and_checked() {
        assert_eq!(
            pair("max_depth = 4", "--param").unwrap(),
            ("max_depth".into(), "4".into())
        );
        let err = pair("max_depth", "--param").unwrap_err().to_string();
        assert!(err.contains("--param takes NAME=VALUE"), "{err}");
    }

    #[test]
    fn times_in_json_become_rfc3339_at_any_depth() {
        let mut v = serde_json::json!({"a": [{"created_at": 1_795_435_549_601i64, "n": 1}], "started_at": 0});
        rfc3339_times(&mut v);
        assert_eq!(v["a"][0]["created_at"], "2026-11-23T12:05:49.601Z");
        assert_eq!(v["a"][0]["n"], 1);
        assert_eq!(v["started_at"], "1970-01-01T00:00:00Z");
    }
}

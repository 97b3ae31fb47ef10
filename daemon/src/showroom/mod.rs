//! The showroom: sample rows per model, predicted for people to look at.
//!
//! Owns the sample sets (one CSV per `[showroom.MODEL]`, read whole into
//! memory, matched to each model version's features by name) and the cache
//! of loaded model versions, on one thread ("showroom"). A sample file is
//! read again when it changes (its size, time or inode differ at the next
//! request) and on a configuration reload (SIGHUP).
//!
//! Receives, through [`Showroom`]: list, open (predict-all), predict a sample
//! row on its own or edited (predict-one / predict-edited), predict a record
//! given whole (`mldctl predict`), and new configurations. Emits internal
//! results with the [`store::Record`]s to write: the caller writes them
//! through the event log's owner and answers only once they are committed.
//! A malformed sample file is an error naming the file, the line and why, for
//! that model only. Never touches a datalake.

pub mod samples;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mld_shared::config::ShowroomConfig;
use tokio::sync::{mpsc, oneshot};

use crate::model::cache::{Loaded, ModelCache};
use crate::model::input::{OwnedInputs, Value};
use crate::model::{Explanation, FeatureKind, ModelError, Registry, ScoreKind, Scored, Task};
use samples::{Bound, FileStamp, SampleError, SampleSet};
use store::{Record, Source};

#[derive(Debug, thiserror::Error)]
pub enum ShowroomError {
    #[error("no showroom for model {model}: the configuration has no [showroom.{model}]")]
    NoShowroom { model: String },
    #[error("{0}")]
    Samples(#[from] SampleError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the showroom of {model} has {rows} sample rows; there is no row {row}")]
    NoRow {
        model: String,
        row: u32,
        rows: usize,
    },
    #[error("{0}")]
    Input(String),
    #[error("the showroom has stopped")]
    Stopped,
}

/// The model version that answered, as the showroom shows it.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    pub model: String,
    pub version: u32,
    pub hash: String,
    pub algorithm: String,
    pub features: Vec<String>,
    pub kinds: Vec<FeatureKind>,
    /// The columns the predictor sees (a one-hot text feature's columns are
    /// `name=category`): what explanations index.
    pub encoded_features: Vec<String>,
    pub task: Task,
    pub labels: Vec<String>,
    pub score_kind: ScoreKind,
}

/// A configured showroom and whether it can open.
#[derive(Debug, Clone)]
pub struct Listing {
    pub model: String,
    pub samples: PathBuf,
    pub rows: Option<usize>,
    pub active: Option<u32>,
    pub problem: Option<String>,
}

/// A showroom opened: every sample row scored.
#[derive(Debug, Clone)]
pub struct Opened {
    pub version: VersionInfo,
    pub samples: Arc<SampleSet>,
    pub shown: u32,
    pub values: Arc<Bound>,
    pub scored: Vec<Scored>,
    pub records: Vec<Record>,
}

/// One sample row predicted on its own, as given or edited.
#[derive(Debug, Clone)]
pub struct Predicted {
    pub version: VersionInfo,
    pub row: u32,
    pub line: u64,
    pub edited: bool,
    pub values: Vec<Value>,
    pub scored: Scored,
    pub explanation: Explanation,
    pub record: Record,
}

/// A record given whole, predicted.
#[derive(Debug, Clone)]
pub struct GivenPrediction {
    pub version: VersionInfo,
    pub values: Vec<Value>,
    pub scored: Scored,
    pub record: Record,
}

/// A record to score: values in the model's feature order, or by name;
/// numbers, or cells as typed (read as each feature's type).
#[derive(Debug, Clone)]
pub enum Given {
    Positional(Vec<f64>),
    Named(Vec<(String, f64)>),
    Cells(Vec<String>),
    NamedCells(Vec<(String, String)>),
}

type Reply<T> = oneshot::Sender<Result<T, ShowroomError>>;

/// Requests waiting for the showroom's thread, at most; more make the
/// asking connection wait (it never grows without limit).
pub const QUEUE: usize = 256;

/// A new configuration not yet taken by the showroom's thread: the newest
/// replaces an older one, so a reload never waits for a full queue.
type Pending = Arc<Mutex<Option<BTreeMap<String, ShowroomConfig>>>>;

enum Job {
    List {
        reply: oneshot::Sender<Vec<Listing>>,
    },
    Open {
        model: String,
        by: String,
        reply: Reply<Opened>,
    },
    Predict {
        model: String,
        row: u32,
        set: Vec<(String, Value)>,
        by: String,
        reply: Reply<Predicted>,
    },
    Given {
        model: String,
        version: Option<u32>,
        given: Given,
        by: String,
        reply: Reply<GivenPrediction>,
    },
    /// A configuration is pending (a nudge: the thread also looks before
    /// every request).
    Configure,
}

/// The handle: cheap to clone; every call is answered by the showroom's thread.
#[derive(Clone)]
pub struct Showroom {
    jobs: mpsc::Sender<Job>,
    pending: Pending,
}

impl std::fmt::Debug for Showroom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Showroom")
    }
}

impl Showroom {
    /// Starts the showroom's thread, which loads every sample file once (and
    /// logs what is wrong with any) before it answers.
    pub fn start(
        registry: Registry,
        showrooms: BTreeMap<String, ShowroomConfig>,
    ) -> std::io::Result<Showroom> {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let pending: Pending = Arc::default();
        let taken = pending.clone();
        std::thread::Builder::new()
            .name("showroom".into())
            .spawn(move || {
                let mut owner = Owner {
                    showrooms,
                    slots: HashMap::new(),
                    models: ModelCache::new(registry.clone()),
                    registry,
                };
                owner.load_all();
                while let Some(job) = rx.blocking_recv() {
                    let configured = taken.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(showrooms) = configured {
                        owner.configure(showrooms);
                    }
                    owner.handle(job);
                }
            })?;
        Ok(Showroom { jobs: tx, pending })
    }

    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, ShowroomError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(job(tx))
            .await
            .map_err(|_| ShowroomError::Stopped)?;
        rx.await.map_err(|_| ShowroomError::Stopped)?
    }

    /// Every configured showroom, each with its file's state.
    pub async fn list(&self) -> Result<Vec<Listing>, ShowroomError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::List { reply: tx })
            .await
            .map_err(|_| ShowroomError::Stopped)?;
        rx.await.map_err(|_| ShowroomError::Stopped)
    }

    /// Predict-all: every sample row of `model`'s showroom, with its active version.
    pub async fn open(&self, model: &str, by: &str) -> Result<Opened, ShowroomError> {
        let (model, by) = (model.to_string(), by.to_string());
        self.ask(|reply| Job::Open { model, by, reply }).await
    }

    /// Predict-one (`set` empty) or predict-edited: sample row `row` (1-based)
    /// with the features in `set` changed, with every class's score and why.
    pub async fn predict(
        &self,
        model: &str,
        row: u32,
        set: Vec<(String, Value)>,
        by: &str,
    ) -> Result<Predicted, ShowroomError> {
        let (model, by) = (model.to_string(), by.to_string());
        self.ask(|reply| Job::Predict {
            model,
            row,
            set,
            by,
            reply,
        })
        .await
    }

    /// Scores a record given whole with `version` (else the active one) of `model`.
    pub async fn predict_given(
        &self,
        model: &str,
        version: Option<u32>,
        given: Given,
        by: &str,
    ) -> Result<GivenPrediction, ShowroomError> {
        let (model, by) = (model.to_string(), by.to_string());
        self.ask(|reply| Job::Given {
            model,
            version,
            given,
            by,
            reply,
        })
        .await
    }

    /// A new configuration: sample files are read again, new showrooms appear,
    /// removed ones go.
    /// Taken before the next request is answered.
    pub fn configure(&self, showrooms: BTreeMap<String, ShowroomConfig>) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(showrooms);
        // A full queue holds requests, and the thread looks before each.
        let _ = self.jobs.try_send(Job::Configure);
    }
}

/// A sample file as last read, and its values bound to one model version.
struct Slot {
    path: PathBuf,
    stamp: Option<FileStamp>,
    set: Result<Arc<SampleSet>, SampleError>,
    /// (the version's content hash, its binding).
    bound: Option<(String, Result<Arc<Bound>, SampleError>)>,
}

/// A showroom ready to score: the active version and the samples bound to it.
struct Ready {
    loaded: Arc<Loaded>,
    samples: Arc<SampleSet>,
    bound: Arc<Bound>,
}

struct Owner {
    showrooms: BTreeMap<String, ShowroomConfig>,
    slots: HashMap<String, Slot>,
    models: ModelCache,
    registry: Registry,
}

fn version_info(loaded: &Loaded) -> VersionInfo {
    let meta = loaded.model.meta();
    VersionInfo {
        model: meta.name.clone(),
        version: meta.version,
        hash: meta.content_sha256.clone(),
        algorithm: meta.algorithm.name().to_string(),
        features: meta.features.clone(),
        kinds: meta.kinds(),
        encoded_features: loaded.model.encoded_features(),
        task: meta.task,
        labels: meta.labels.clone(),
        score_kind: loaded.model.score_kind(),
    }
}

fn record(
    version: &VersionInfo,
    by: &str,
    source: Source,
    line: Option<u64>,
    values: &[Value],
    scored: &Scored,
) -> Record {
    let (label, score, value, classes) = match scored {
        Scored::Class {
            class_index,
            score,
            classes,
        } => (
            version.labels[*class_index].clone(),
            *score,
            None,
            version
                .labels
                .iter()
                .cloned()
                .zip(classes.iter().copied())
                .collect(),
        ),
        Scored::Value(v) => (format!("{v:?}"), f64::NAN, Some(*v), Vec::new()),
        Scored::Refused(_) => (String::new(), f64::NAN, None, Vec::new()),
    };
    Record {
        at: jiff::Timestamp::now(),
        by_user: by.to_string(),
        model: version.model.clone(),
        version: version.version,
        hash: version.hash.clone(),
        source,
        line,
        values: version
            .features
            .iter()
            .cloned()
            .zip(values.iter().cloned())
            .collect(),
        label,
        score,
        value,
        classes,
    }
}

impl Owner {
    fn handle(&mut self, job: Job) {
        match job {
            Job::List { reply } => {
                let _ = reply.send(self.list());
            }
            Job::Open { model, by, reply } => {
                let _ = reply.send(self.open(&model, &by));
            }
            Job::Predict {
                model,
                row,
                set,
                by,
                reply,
            } => {
                let _ = reply.send(self.predict(&model, row, &set, &by));
            }
            Job::Given {
                model,
                version,
                given,
                by,
                reply,
            } => {
                let _ = reply.send(self.given(&model, version, given, &by));
            }
            // Taken by the loop before this request.
            Job::Configure => {}
        }
    }

    fn configure(&mut self, showrooms: BTreeMap<String, ShowroomConfig>) {
        self.showrooms = showrooms;
        self.slots.clear();
        self.load_all();
    }

    /// Reads every sample file now, so problems show in the log at start and reload.
    fn load_all(&mut self) {
        let models: Vec<String> = self.showrooms.keys().cloned().collect();
        for model in models {
            let _ = self.samples(&model);
        }
    }

    /// `model`'s sample set, read again if its file changed since.
    fn samples(&mut self, model: &str) -> Result<&mut Slot, ShowroomError> {
        let config = self
            .showrooms
            .get(model)
            .ok_or_else(|| ShowroomError::NoShowroom {
                model: model.to_string(),
            })?;
        let path = config.samples.clone();
        let stamp = FileStamp::of(&path);
        let fresh = self
            .slots
            .get(model)
            .is_some_and(|s| s.path == path && s.stamp.is_some() && s.stamp == stamp);
        if !fresh {
            let set = SampleSet::load(&path).map(Arc::new);
            match &set {
                Ok(s) => {
                    tracing::info!(model, file = %path.display(), rows = s.records.len(), "showroom samples loaded")
                }
                Err(e) => tracing::warn!(model, "showroom samples refused: {e}"),
            }
            self.slots.insert(
                model.to_string(),
                Slot {
                    path,
                    stamp,
                    set,
                    bound: None,
                },
            );
        }
        Ok(self.slots.get_mut(model).expect("just inserted"))
    }

    /// The active version of `model` and the sample set's values bound to it.
    fn bound(&mut self, model: &str) -> Result<Ready, ShowroomError> {
        if !self.showrooms.contains_key(model) {
            return Err(ShowroomError::NoShowroom {
                model: model.to_string(),
            });
        }
        // The file first: its faults are the same whatever the model.
        self.samples(model)?.set.clone()?;
        let version = self.models.resolve(model, None)?;
        let loaded = self.models.get(model, version)?;
        let slot = self.samples(model)?;
        let set = slot.set.clone()?;
        let hash = &loaded.model.meta().content_sha256;
        let fits = matches!(&slot.bound, Some((h, _)) if h == hash);
        if !fits {
            let b = set
                .bind(
                    loaded.model.features(),
                    &loaded.model.feature_kinds(),
                    &format!("{model} v{version}"),
                )
                .map(Arc::new);
            slot.bound = Some((hash.clone(), b));
        }
        let bound = match &slot.bound {
            Some((_, b)) => b.clone()?,
            None => unreachable!("bound just above"),
        };
        Ok(Ready {
            loaded,
            samples: set,
            bound,
        })
    }

    fn list(&mut self) -> Vec<Listing> {
        let models: Vec<String> = self.showrooms.keys().cloned().collect();
        models
            .into_iter()
            .map(|model| {
                let samples = self.showrooms[&model].samples.clone();
                let active = self.registry.active(&model).ok().flatten();
                let rows = self
                    .samples(&model)
                    .ok()
                    .and_then(|s| s.set.as_ref().ok().map(|s| s.records.len()));
                let problem = self.bound(&model).err().map(|e| e.to_string());
                Listing {
                    model,
                    samples,
                    rows,
                    active,
                    problem,
                }
            })
            .collect()
    }

    fn open(&mut self, model: &str, by: &str) -> Result<Opened, ShowroomError> {
        let Ready {
            loaded,
            samples: set,
            bound,
        } = self.bound(model)?;
        let shown = self.showrooms[model].columns;
        let scored = loaded.model.predict_scored(bound.inputs.view())?;
        let version = version_info(&loaded);
        let records = scored
            .iter()
            .zip(&set.records)
            .zip(&bound.rows)
            .map(|((s, r), values)| record(&version, by, Source::All, Some(r.line), values, s))
            .collect();
        Ok(Opened {
            version,
            samples: set,
            shown,
            values: bound,
            scored,
            records,
        })
    }

    fn predict(
        &mut self,
        model: &str,
        row: u32,
        set: &[(String, Value)],
        by: &str,
    ) -> Result<Predicted, ShowroomError> {
        let Ready {
            loaded,
            samples,
            bound,
        } = self.bound(model)?;
        let index = (row as usize)
            .checked_sub(1)
            .filter(|i| *i < samples.records.len())
            .ok_or_else(|| ShowroomError::NoRow {
                model: model.to_string(),
                row,
                rows: samples.records.len(),
            })?;
        let original = bound.rows[index].clone();
        let mut values = original.clone();
        let features = loaded.model.features();
        let kinds = loaded.model.feature_kinds();
        let mut seen: Vec<&str> = Vec::new();
        for (name, v) in set {
            let j = features.iter().position(|f| f == name).ok_or_else(|| {
                ShowroomError::Input(format!(
                    "unknown feature {name}; {model} takes {}",
                    features.join(", ")
                ))
            })?;
            if seen.contains(&name.as_str()) {
                return Err(ShowroomError::Input(format!("feature {name} is set twice")));
            }
            seen.push(name);
            values[j] = typed(name, kinds[j], v.clone())?;
        }
        let edited = values != original;
        let one = OwnedInputs::from_rows(std::slice::from_ref(&values), &kinds);
        let scored = score_one(&loaded, &one)?;
        let explanation = loaded.model.explain(one.view());
        let version = version_info(&loaded);
        let line = samples.records[index].line;
        let source = if edited { Source::Edited } else { Source::One };
        let record = record(&version, by, source, Some(line), &values, &scored);
        Ok(Predicted {
            version,
            row,
            line,
            edited,
            values,
            scored,
            explanation,
            record,
        })
    }

    fn given(
        &mut self,
        model: &str,
        version: Option<u32>,
        given: Given,
        by: &str,
    ) -> Result<GivenPrediction, ShowroomError> {
        let v = self.models.resolve(model, version)?;
        let loaded = self.models.get(model, v)?;
        let kinds = loaded.model.feature_kinds();
        let values = given_row(loaded.model.features(), &kinds, model, v, given)?;
        let scored = score_one(
            &loaded,
            &OwnedInputs::from_rows(std::slice::from_ref(&values), &kinds),
        )?;
        let version = version_info(&loaded);
        let record = record(&version, by, Source::Given, None, &values, &scored);
        Ok(GivenPrediction {
            version,
            values,
            scored,
            record,
        })
    }
}

fn score_one(loaded: &Loaded, one: &OwnedInputs) -> Result<Scored, ShowroomError> {
    loaded
        .model
        .predict_scored(one.view())?
        .pop()
        .ok_or_else(|| ShowroomError::Input("no prediction for the row".into()))
}

/// A value given for feature `name` as its type asks: a finite number, or
/// text (a number given for a text feature is taken as its text).
fn typed(name: &str, kind: FeatureKind, v: Value) -> Result<Value, ShowroomError> {
    let invalid = ShowroomError::Input;
    match (kind, v) {
        (FeatureKind::Number, Value::Number(x)) if x.is_finite() => Ok(Value::Number(x)),
        (FeatureKind::Number, Value::Number(x)) => Err(invalid(format!(
            "feature {name} is {x}, not a finite number"
        ))),
        (FeatureKind::Number, Value::Text(t)) => {
            samples::parse_number(&t).map(Value::Number).ok_or_else(|| {
                invalid(if t.trim().is_empty() {
                    format!("feature {name} is empty; it takes a number")
                } else {
                    format!("feature {name} is {t:?}, not a number")
                })
            })
        }
        (FeatureKind::Number, Value::Null) => Err(invalid(format!(
            "feature {name} has no value; it takes a number"
        ))),
        (FeatureKind::Text, Value::Number(x)) => Ok(Value::Text(x.to_string())),
        (FeatureKind::Text, Value::Text(t)) if t.is_empty() => Ok(Value::Null),
        (FeatureKind::Text, v) => Ok(v),
    }
}

/// The record's values in the model's feature order, each of its feature's
/// type, or an error naming what is missing, unknown, repeated or not a number.
fn given_row(
    features: &[String],
    kinds: &[FeatureKind],
    name: &str,
    version: u32,
    given: Given,
) -> Result<Vec<Value>, ShowroomError> {
    let invalid = ShowroomError::Input;
    let takes = || {
        format!(
            "model {name} v{version} takes {} features: {}",
            features.len(),
            features.join(", ")
        )
    };
    type Split = (Option<Vec<Value>>, Option<Vec<(String, Value)>>);
    let (positional, named): Split = match given {
        Given::Positional(v) => (Some(v.into_iter().map(Value::Number).collect()), None),
        Given::Cells(v) => (Some(v.into_iter().map(Value::Text).collect()), None),
        Given::Named(v) => (
            None,
            Some(v.into_iter().map(|(k, x)| (k, Value::Number(x))).collect()),
        ),
        Given::NamedCells(v) => (
            None,
            Some(v.into_iter().map(|(k, x)| (k, Value::Text(x))).collect()),
        ),
    };
    let row = match (positional, named) {
        (Some(values), _) => {
            if values.len() != features.len() {
                return Err(invalid(format!(
                    "{} values given; {}",
                    values.len(),
                    takes()
                )));
            }
            values
        }
        (None, Some(pairs)) => {
            let mut named: BTreeMap<&str, &Value> = BTreeMap::new();
            for (k, v) in &pairs {
                if named.insert(k.as_str(), v).is_some() {
                    return Err(invalid(format!("feature {k} is given twice")));
                }
            }
            let unknown: Vec<&str> = named
                .keys()
                .copied()
                .filter(|k| !features.iter().any(|f| f == k))
                .collect();
            if !unknown.is_empty() {
                return Err(invalid(format!(
                    "unknown feature{} {}; {}",
                    if unknown.len() == 1 { "" } else { "s" },
                    unknown.join(", "),
                    takes()
                )));
            }
            let missing: Vec<&str> = features
                .iter()
                .map(String::as_str)
                .filter(|f| !named.contains_key(f))
                .collect();
            if !missing.is_empty() {
                return Err(invalid(format!(
                    "missing feature{} {}; {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    takes()
                )));
            }
            features.iter().map(|f| named[f.as_str()].clone()).collect()
        }
        (None, None) => unreachable!("one of the two"),
    };
    features
        .iter()
        .zip(row)
        .enumerate()
        .map(|(j, (f, v))| typed(f, kinds.get(j).copied().unwrap_or_default(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    const NUMBERS: [FeatureKind; 3] = [FeatureKind::Number; 3];

    #[test]
    fn named_input_is_put_in_model_order() {
        let row = given_row(
            &features(),
            &NUMBERS,
            "m",
            1,
            Given::Named(vec![
                ("c".into(), 3.0),
                ("a".into(), 1.0),
                ("b".into(), 2.0),
            ]),
        )
        .unwrap();
        assert_eq!(
            row,
            vec![Value::Number(1.0), Value::Number(2.0), Value::Number(3.0)]
        );
    }

    #[test]
    fn bad_inputs_name_the_feature_or_the_count() {
        let err = |input| {
            given_row(&features(), &NUMBERS, "m", 2, input)
                .unwrap_err()
                .to_string()
        };
        let e = err(Given::Named(vec![("a".into(), 1.0), ("c".into(), 3.0)]));
        assert!(
            e.starts_with("missing feature b; model m v2 takes 3 features: a, b, c"),
            "{e}"
        );
        let e = err(Given::Named(vec![
            ("a".into(), 1.0),
            ("b".into(), 1.0),
            ("c".into(), 1.0),
            ("d".into(), 1.0),
        ]));
        assert!(e.starts_with("unknown feature d;"), "{e}");
        let e = err(Given::Named(vec![("a".into(), 1.0), ("a".into(), 1.0)]));
        assert_eq!(e, "feature a is given twice");
        let e = err(Given::Positional(vec![1.0, 2.0]));
        assert!(
            e.starts_with("2 values given; model m v2 takes 3 features"),
            "{e}"
        );
        let e = err(Given::Positional(vec![1.0, f64::NAN, 2.0]));
        assert_eq!(e, "feature b is NaN, not a finite number");
        let e = err(Given::Cells(vec!["1".into(), "x".into(), "2".into()]));
        assert_eq!(e, "feature b is \"x\", not a number");
    }

    #[test]
    fn cells_are_read_as_each_features_type() {
        let kinds = [FeatureKind::Text, FeatureKind::Number, FeatureKind::Text];
        let row = given_row(
            &features(),
            &kinds,
            "m",
            1,
            Given::Cells(vec!["pro".into(), " 2.5 ".into(), "".into()]),
        )
        .unwrap();
        assert_eq!(
            row,
            vec![Value::Text("pro".into()), Value::Number(2.5), Value::Null]
        );
        // A number given for a text feature is its text.
        let row = given_row(
            &features(),
            &kinds,
            "m",
            1,
            Given::Named(vec![
                ("a".into(), 7.0),
                ("b".into(), 1.0),
                ("c".into(), 2.0),
            ]),
        )
        .unwrap();
        assert_eq!(row[0], Value::Text("7".into()));
    }
}

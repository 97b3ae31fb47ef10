//! The model registry: a directory of immutable, versioned artifacts, the
//! per-name `active` alias, and uncommitted experiments.
//!
//! Receives: trained artifacts (from `training`), ONNX bytes to import, alias moves.
//! Emits: listings (broken versions included, with the reason), verified [`Model`]s.
//!
//! Layout (all writes are a `.partial` sibling renamed into place, so a reader
//! never sees half an artifact and a committed version is never overwritten):
//!
//! ```text
//! <registry>/
//!   <name>/
//!     active                 the active version number, as text
//!     v1/ meta.json model.json      a native model
//!     v2/ meta.json model.onnx      an imported ONNX model
//!   .experiments/<id>/ meta.json model.json
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::input::{Inputs, TextColumn, TextColumns};
use super::meta::{
    ARTIFACT_FORMAT, Algorithm, FeatureKind, ModelMeta, ParamValue, PayloadKind, Scaling, Task,
};
use super::native::{NativeArtifact, NativePredictor};
use super::onnx::{self, OnnxPredictor};
use super::{Model, ModelError, Predictor};

const META_FILE: &str = "meta.json";
const ACTIVE_FILE: &str = "active";
const EXPERIMENTS_DIR: &str = ".experiments";

/// Identifies an experiment under `<registry>/.experiments/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExperimentId(pub String);

impl std::fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Exactly which artifact: what a dispatch records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    pub name: String,
    pub version: u32,
    pub content_sha256: String,
}

/// A version's metadata, or why it cannot be loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VersionStatus {
    Ok(Box<ModelMeta>),
    Broken { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    pub version: u32,
    pub status: VersionStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub active: Option<u32>,
    pub versions: Vec<VersionEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentEntry {
    pub id: ExperimentId,
    pub status: VersionStatus,
}

/// Handle on a registry directory. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
    onnxruntime: Option<PathBuf>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The UTF-8 names of the entries of `dir`; none when `dir` does not exist.
fn entry_names(dir: &Path) -> Result<Vec<String>, ModelError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    Ok(rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Model names become directory names: keep them boring.
pub fn validate_name(name: &str) -> Result<(), ModelError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > 100 {
        Some("longer than 100 characters")
    } else if name.starts_with('.') {
        Some("starts with a dot")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("use only letters, digits, '-', '_' and '.'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ModelError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn parse_version_dir(name: &str) -> Option<u32> {
    name.strip_prefix('v')
        .filter(|d| d.chars().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
}

/// A unique `.partial` sibling, so two writers never share a temp path.
fn partial_path(final_path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = final_path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.partial", std::process::id()));
    final_path.with_file_name(name)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    let mut f = fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Writes `meta.json` + payload into a fresh directory at `dir`, atomically.
/// Fails with `AlreadyExists` when `dir` exists: nothing is ever overwritten.
fn write_artifact_dir(
    dir: &Path,
    meta: &ModelMeta,
    payload: &[u8],
) -> Result<(), ArtifactWriteError> {
    if dir.exists() {
        return Err(ArtifactWriteError::Exists);
    }
    let tmp = partial_path(dir);
    let result = (|| {
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let meta_bytes =
            serde_json::to_vec_pretty(meta).map_err(|e| ModelError::Encode(e.to_string()))?;
        write_synced(&tmp.join(meta.payload.file_name()), payload)?;
        write_synced(&tmp.join(META_FILE), &meta_bytes)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(ArtifactWriteError::Model(e));
    }
    // rename(2) onto an existing non-empty directory fails: a racing writer cannot clobber us.
    match fs::rename(&tmp, dir) {
        Ok(()) => {
            // Best effort: make the rename itself durable.
            if let Some(parent) = dir.parent() {
                let _ = fs::File::open(parent).and_then(|d| d.sync_all());
            }
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            if dir.exists() {
                Err(ArtifactWriteError::Exists)
            } else {
                Err(ArtifactWriteError::Model(ModelError::Io {
                    path: dir.to_path_buf(),
                    source: e,
                }))
            }
        }
    }
}

enum ArtifactWriteError {
    Exists,
    Model(ModelError),
}

/// Reads and verifies an artifact directory: known format, parseable meta,
/// payload hash matches. Returns the meta and the payload bytes.
fn read_artifact_dir(dir: &Path) -> Result<(ModelMeta, Vec<u8>), ModelError> {
    let meta_path = dir.join(META_FILE);
    let corrupt = |reason: String| ModelError::Corrupt {
        path: meta_path.clone(),
        reason,
    };
    let meta_bytes = fs::read(&meta_path).map_err(io_err(&meta_path))?;
    let value: serde_json::Value = serde_json::from_slice(&meta_bytes)
        .map_err(|e| corrupt(format!("meta.json is not valid JSON ({e})")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(ARTIFACT_FORMAT) => {}
        Some(other) => {
            return Err(ModelError::UnknownFormat {
                path: meta_path.clone(),
                found: other.to_string(),
            });
        }
        None => return Err(corrupt("meta.json has no \"format\" field".to_string())),
    }
    let meta: ModelMeta =
        serde_json::from_value(value).map_err(|e| corrupt(format!("meta.json: {e}")))?;
    let payload_path = dir.join(meta.payload.file_name());
    let payload = fs::read(&payload_path).map_err(io_err(&payload_path))?;
    let actual = sha256_hex(&payload);
    if actual != meta.content_sha256 {
        return Err(ModelError::HashMismatch {
            path: payload_path,
            expected: meta.content_sha256,
            actual,
        });
    }
    Ok((meta, payload))
}

/// Decodes a verified payload into a predictor and checks it fits the meta.
fn build_model(
    dir: &Path,
    meta: ModelMeta,
    payload: &[u8],
    onnxruntime: Option<&Path>,
) -> Result<Model, ModelError> {
    let payload_path = dir.join(meta.payload.file_name());
    let corrupt = |reason: String| ModelError::Corrupt {
        path: payload_path.clone(),
        reason,
    };
    let predictor = match meta.payload {
        PayloadKind::Native => {
            let artifact: NativeArtifact =
                serde_json::from_slice(payload).map_err(|e| corrupt(format!("model.json: {e}")))?;
            check_native(&artifact, &meta).map_err(corrupt)?;
            Predictor::Native(artifact)
        }
        PayloadKind::Onnx => Predictor::Onnx(OnnxPredictor::load(
            payload,
            &meta.features,
            &meta.kinds(),
            meta.task,
            &meta.labels,
            onnxruntime,
        )?),
    };
    Ok(Model::new(meta, predictor))
}

/// The number of features a kernel machine's support vectors (or linear
/// weights) have: linfa keeps them private, but serializes them.
fn kernel_width(svm: &linfa_svm::Svm<f64, bool>) -> Option<usize> {
    let value = serde_json::to_value(svm).ok()?;
    let plane = value.get("sep_hyperplane")?;
    let (array, axis) = match (plane.get("Linear"), plane.get("WeightedCombination")) {
        (Some(a), _) => (a, 0),
        (None, Some(a)) => (a, 1),
        _ => return None,
    };
    let dims = array.get("dim")?.as_array()?;
    (dims.len() == axis + 1)
        .then(|| dims[axis].as_u64())?
        .map(|d| d as usize)
}

/// Shapes must agree, or prediction would index out of bounds.
fn check_native(a: &NativeArtifact, meta: &ModelMeta) -> Result<(), String> {
    let features = meta.features.len();
    // The predictor and the scaler see the encoded columns.
    let nf = match &a.encoder {
        Some(e) => {
            if e.features.len() != features {
                return Err(format!(
                    "the encoder has {} features, the model {features}",
                    e.features.len()
                ));
            }
            for (j, f) in e.features.iter().enumerate() {
                let text = meta.feature_kind(j) == super::meta::FeatureKind::Text;
                match f {
                    Some(c) if !text || c.windows(2).any(|w| w[0] >= w[1]) => {
                        return Err(format!(
                            "the encoder's categories of feature {} are not a sorted set of a text feature",
                            meta.features[j]
                        ));
                    }
                    None if text => {
                        return Err(format!("text feature {} has no encoding", meta.features[j]));
                    }
                    _ => {}
                }
            }
            e.width()
        }
        None if meta.has_text() => {
            return Err("the model has text features but no encoder".to_string());
        }
        None => features,
    };
    let nc = meta.labels.len();
    if let Some(s) = &a.scaler
        && (s.offsets.len() != nf || s.factors.len() != nf)
    {
        return Err(format!(
            "scaler has {} columns, model has {nf} features",
            s.offsets.len()
        ));
    }
    let regressor = a.predictor.is_regressor();
    if regressor != (meta.task == super::meta::Task::Regression) {
        return Err(format!(
            "a {} predictor in a {} model",
            if regressor {
                "regression"
            } else {
                "classification"
            },
            meta.task
        ));
    }
    let class_ok = |c: usize| c < nc;
    let ok = match &a.predictor {
        NativePredictor::LogisticBinary(m) => {
            m.weights.len() == nf && class_ok(m.positive) && class_ok(m.negative)
        }
        NativePredictor::LogisticMultinomial(m) => {
            !m.classes.is_empty()
                && m.weights.len() == m.classes.len()
                && m.intercepts.len() == m.classes.len()
                && m.weights.iter().all(|w| w.len() == nf)
                && m.classes.iter().all(|&c| class_ok(c))
        }
        NativePredictor::GaussianNb(m) => {
            !m.classes.is_empty()
                && m.log_priors.len() == m.classes.len()
                && m.means.len() == m.classes.len()
                && m.variances.len() == m.classes.len()
                && m.means.iter().chain(&m.variances).all(|v| v.len() == nf)
                && m.classes.iter().all(|&c| class_ok(c))
        }
        NativePredictor::Svm(m) => {
            (m.machines.len() == 1 && nc == 2 || m.machines.len() == nc && nc > 2)
                && m.machines.iter().all(|s| match s {
                    super::native::SvmMachine::Linear { weights, .. } => weights.len() == nf,
                    super::native::SvmMachine::Kernel(svm) => kernel_width(svm) == Some(nf),
                })
        }
        NativePredictor::DecisionTree(t) => tree_ok(t, nf, nc),
        NativePredictor::RandomForest(f) => {
            !f.trees.is_empty() && f.n_classes == nc && f.trees.iter().all(|t| tree_ok(t, nf, nc))
        }
        NativePredictor::Linear(m) => m.weights.len() == nf && nc == 0,
        NativePredictor::RegressionTree(t) => nc == 0 && nodes_ok(&t.nodes, nf, t.leaf_value.len()),
        NativePredictor::RegressionForest(f) => {
            nc == 0
                && !f.trees.is_empty()
                && f.trees
                    .iter()
                    .all(|t| nodes_ok(&t.nodes, nf, t.leaf_value.len()))
        }
    };
    if ok {
        Ok(())
    } else if regressor {
        Err(format!("predictor does not fit {nf} features"))
    } else {
        Err(format!(
            "predictor does not fit {nf} features and {nc} classes"
        ))
    }
}

fn tree_ok(t: &super::native::FlatTree, nf: usize, nc: usize) -> bool {
    t.leaf_class.len() == t.leaf_score.len()
        && t.leaf_class.iter().all(|&c| (c as usize) < nc)
        && nodes_ok(&t.nodes, nf, t.leaf_class.len())
}

/// A node array whose traversal ends at a leaf within `leaves`, testing features below `nf`.
fn nodes_ok(nodes: &[super::native::TreeNode], nf: usize, leaves: usize) -> bool {
    let n = nodes.len();
    n > 0
        && nodes.iter().enumerate().all(|(i, node)| {
            if node.feature == super::native::LEAF {
                (node.next as usize) < leaves
            } else {
                // Both children come after their parent: no cycles, traversal ends.
                (node.feature as usize) < nf
                    && i + 1 < n
                    && (node.next as usize) < n
                    && node.next as usize > i + 1
            }
        })
}

impl Registry {
    /// Opens (creating if needed) the registry at `root`. `onnxruntime` is the
    /// configured runtime library path, if any (see [`onnx::locate_onnxruntime`]).
    pub fn open(
        root: impl Into<PathBuf>,
        onnxruntime: Option<PathBuf>,
    ) -> Result<Registry, ModelError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        Ok(Registry { root, onnxruntime })
    }

    /// Opens the registry named in `[models]` (the loader has already defaulted it to `<state_dir>/models`).
    pub fn from_config(models: &mld_shared::config::ModelsConfig) -> Result<Registry, ModelError> {
        let root = models
            .registry
            .clone()
            .unwrap_or_else(|| PathBuf::from("models"));
        Registry::open(root, models.onnxruntime.clone())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn version_dir(&self, name: &str, version: u32) -> PathBuf {
        self.root.join(name).join(format!("v{version}"))
    }

    fn experiment_dir(&self, id: &ExperimentId) -> Result<PathBuf, ModelError> {
        // Ids become paths: refuse anything that could climb out.
        validate_name(&id.0).map_err(|_| ModelError::ExperimentNotFound { id: id.0.clone() })?;
        Ok(self.root.join(EXPERIMENTS_DIR).join(&id.0))
    }

    /// Version numbers present for `name` (including broken ones), ascending.
    fn version_numbers(&self, name: &str) -> Result<Vec<u32>, ModelError> {
        let mut versions: Vec<u32> = entry_names(&self.root.join(name))?
            .iter()
            .filter_map(|n| parse_version_dir(n))
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// Every model name with its versions; a broken version is listed with the reason.
    pub fn list(&self) -> Result<Vec<ModelEntry>, ModelError> {
        let rd = fs::read_dir(&self.root).map_err(io_err(&self.root))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        names.into_iter().map(|name| self.entry(&name)).collect()
    }

    /// One model name's versions and alias.
    pub fn entry(&self, name: &str) -> Result<ModelEntry, ModelError> {
        validate_name(name)?;
        let versions = self
            .version_numbers(name)?
            .into_iter()
            .map(|v| VersionEntry {
                version: v,
                status: status_of(read_artifact_dir(&self.version_dir(name, v))),
            })
            .collect();
        Ok(ModelEntry {
            name: name.to_string(),
            active: self.active(name)?,
            versions,
        })
    }

    /// The verified metadata of one version (no predictor is built).
    pub fn meta(&self, name: &str, version: u32) -> Result<ModelMeta, ModelError> {
        validate_name(name)?;
        let dir = self.version_dir(name, version);
        if !dir.is_dir() {
            return Err(ModelError::NotFound {
                name: name.to_string(),
                version: Some(version),
            });
        }
        Ok(read_artifact_dir(&dir)?.0)
    }

    /// Loads and verifies one version, ready to score.
    pub fn load(&self, name: &str, version: u32) -> Result<Model, ModelError> {
        validate_name(name)?;
        let dir = self.version_dir(name, version);
        if !dir.is_dir() {
            return Err(ModelError::NotFound {
                name: name.to_string(),
                version: Some(version),
            });
        }
        let (meta, payload) = read_artifact_dir(&dir)?;
        if meta.name != name || meta.version != version {
            return Err(ModelError::Corrupt {
                path: dir.join(META_FILE),
                reason: format!(
                    "meta.json says {} v{}, directory says {name} v{version}",
                    meta.name, meta.version
                ),
            });
        }
        build_model(&dir, meta, &payload, self.onnxruntime.as_deref())
    }

    /// Loads the version the `active` alias points at.
    pub fn load_active(&self, name: &str) -> Result<Model, ModelError> {
        let version = self.active(name)?.ok_or_else(|| ModelError::NoActive {
            name: name.to_string(),
        })?;
        self.load(name, version)
    }

    /// The active version of `name`, if the alias is set.
    pub fn active(&self, name: &str) -> Result<Option<u32>, ModelError> {
        validate_name(name)?;
        let path = self.root.join(name).join(ACTIVE_FILE);
        match fs::read_to_string(&path) {
            Ok(s) => s.trim().parse().map(Some).map_err(|_| ModelError::Corrupt {
                path,
                reason: format!("alias holds {:?}, not a version number", s.trim()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ModelError::Io { path, source: e }),
        }
    }

    /// Moves the `active` alias (admin action). The version must exist and verify.
    pub fn set_active(&self, name: &str, version: u32) -> Result<VersionRef, ModelError> {
        let meta = self.meta(name, version)?;
        let path = self.root.join(name).join(ACTIVE_FILE);
        let tmp = partial_path(&path);
        write_synced(&tmp, format!("{version}\n").as_bytes())?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(VersionRef {
            name: name.to_string(),
            version,
            content_sha256: meta.content_sha256,
        })
    }

    /// Applies `[models] active` from the config: sets the alias only for names
    /// that have none yet (afterwards the alias belongs to admins).
    pub fn apply_initial_active(
        &self,
        initial: &BTreeMap<String, u32>,
    ) -> Vec<(String, ModelError)> {
        let mut errors = Vec::new();
        for (name, &version) in initial {
            let r = self.active(name).and_then(|a| match a {
                Some(_) => Ok(()),
                None => self.set_active(name, version).map(|_| ()),
            });
            if let Err(e) = r {
                errors.push((name.clone(), e));
            }
        }
        errors
    }

    /// Writes `payload` as the next version of `name`; retries the number if a concurrent commit took it.
    fn commit_payload(
        &self,
        name: &str,
        mut meta: ModelMeta,
        payload: &[u8],
    ) -> Result<VersionRef, ModelError> {
        validate_name(name)?;
        let model_dir = self.root.join(name);
        fs::create_dir_all(&model_dir).map_err(io_err(&model_dir))?;
        meta.name = name.to_string();
        meta.content_sha256 = sha256_hex(payload);
        for _ in 0..16 {
            let version = self.version_numbers(name)?.last().copied().unwrap_or(0) + 1;
            meta.version = version;
            match write_artifact_dir(&self.version_dir(name, version), &meta, payload) {
                Ok(()) => {
                    return Ok(VersionRef {
                        name: name.to_string(),
                        version,
                        content_sha256: meta.content_sha256,
                    });
                }
                Err(ArtifactWriteError::Exists) => continue,
                Err(ArtifactWriteError::Model(e)) => return Err(e),
            }
        }
        Err(ModelError::VersionExists {
            name: name.to_string(),
            version: meta.version,
        })
    }

    /// Writes an artifact as exactly `version` of `name`; refuses if it exists.
    pub fn commit_as(
        &self,
        name: &str,
        version: u32,
        mut meta: ModelMeta,
        artifact: &NativeArtifact,
    ) -> Result<VersionRef, ModelError> {
        validate_name(name)?;
        let payload =
            serde_json::to_vec(artifact).map_err(|e| ModelError::Encode(e.to_string()))?;
        let model_dir = self.root.join(name);
        fs::create_dir_all(&model_dir).map_err(io_err(&model_dir))?;
        meta.name = name.to_string();
        meta.version = version;
        meta.payload = PayloadKind::Native;
        meta.content_sha256 = sha256_hex(&payload);
        match write_artifact_dir(&self.version_dir(name, version), &meta, &payload) {
            Ok(()) => Ok(VersionRef {
                name: name.to_string(),
                version,
                content_sha256: meta.content_sha256,
            }),
            Err(ArtifactWriteError::Exists) => Err(ModelError::VersionExists {
                name: name.to_string(),
                version,
            }),
            Err(ArtifactWriteError::Model(e)) => Err(e),
        }
    }

    /// Keeps a trained model as an experiment; returns its id.
    pub fn save_experiment(
        &self,
        mut meta: ModelMeta,
        artifact: &NativeArtifact,
    ) -> Result<ExperimentId, ModelError> {
        let payload =
            serde_json::to_vec(artifact).map_err(|e| ModelError::Encode(e.to_string()))?;
        meta.name = String::new();
        meta.version = 0;
        meta.payload = PayloadKind::Native;
        meta.content_sha256 = sha256_hex(&payload);
        let dir = self.root.join(EXPERIMENTS_DIR);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let stamp = meta.created_at.strftime("%Y%m%dT%H%M%SZ").to_string();
        for n in 0..100u32 {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let id = ExperimentId(format!(
                "{}-{stamp}-{}{suffix}",
                meta.algorithm.name(),
                &meta.content_sha256[..8]
            ));
            match write_artifact_dir(&dir.join(&id.0), &meta, &payload) {
                Ok(()) => return Ok(id),
                Err(ArtifactWriteError::Exists) => continue,
                Err(ArtifactWriteError::Model(e)) => return Err(e),
            }
        }
        Err(ModelError::Encode(
            "could not allocate an experiment id".to_string(),
        ))
    }

    /// All experiments, newest id last; broken ones with the reason.
    pub fn experiments(&self) -> Result<Vec<ExperimentEntry>, ModelError> {
        let dir = self.root.join(EXPERIMENTS_DIR);
        let mut ids: Vec<String> = entry_names(&dir)?
            .into_iter()
            .filter(|n| !n.ends_with(".partial") && validate_name(n).is_ok())
            .collect();
        ids.sort();
        Ok(ids
            .into_iter()
            .map(|id| {
                let status = status_of(read_artifact_dir(&dir.join(&id)));
                ExperimentEntry {
                    id: ExperimentId(id),
                    status,
                }
            })
            .collect())
    }

    /// An experiment's verified metadata (metrics, hyperparameters, …).
    pub fn experiment(&self, id: &ExperimentId) -> Result<ModelMeta, ModelError> {
        Ok(self.read_experiment(id)?.0)
    }

    fn read_experiment(&self, id: &ExperimentId) -> Result<(ModelMeta, Vec<u8>), ModelError> {
        let dir = self.experiment_dir(id)?;
        if !dir.is_dir() {
            return Err(ModelError::ExperimentNotFound { id: id.0.clone() });
        }
        read_artifact_dir(&dir)
    }

    /// Loads an experiment to score with it (e.g. to try it before committing).
    pub fn load_experiment(&self, id: &ExperimentId) -> Result<Model, ModelError> {
        let (meta, payload) = self.read_experiment(id)?;
        build_model(
            &self.experiment_dir(id)?,
            meta,
            &payload,
            self.onnxruntime.as_deref(),
        )
    }

    pub fn delete_experiment(&self, id: &ExperimentId) -> Result<(), ModelError> {
        let dir = self.experiment_dir(id)?;
        if !dir.is_dir() {
            return Err(ModelError::ExperimentNotFound { id: id.0.clone() });
        }
        fs::remove_dir_all(&dir).map_err(io_err(&dir))
    }

    /// Makes an experiment the next version of `name` and removes the experiment.
    pub fn commit_experiment(
        &self,
        id: &ExperimentId,
        name: &str,
    ) -> Result<VersionRef, ModelError> {
        validate_name(name)?;
        let (meta, payload) = self.read_experiment(id)?;
        let committed = self.commit_payload(name, meta, &payload)?;
        self.delete_experiment(id)?;
        Ok(committed)
    }

    /// Imports a scikit-learn model exported with skl2onnx (`zipmap` off) as
    /// the next version of `name`: a classifier (its labels from the graph's
    /// `classlabels_*` attribute, or `labels`, which win when both exist and
    /// agree in count) or a regressor (one value output, no labels).
    ///
    /// The features: with `features` empty, the graph's inputs' names (each
    /// input must then be one column, as skl2onnx exports a
    /// `ColumnTransformer` given one input per column); else `features` names
    /// every column — matched to one-column inputs by name, or taken by the
    /// inputs in order. Each feature's type (number or text) is its input's.
    /// Checks the graph runs on ONNX Runtime with one row before committing.
    pub fn import_onnx(
        &self,
        name: &str,
        bytes: &[u8],
        features: Vec<String>,
        labels: Option<Vec<String>>,
    ) -> Result<VersionRef, ModelError> {
        validate_name(name)?;
        // Say "runtime missing / unloadable" before anything else: it is the error users can fix first.
        onnx::ensure_runtime(self.onnxruntime.as_deref())?;
        let described = onnx::describe(bytes, self.onnxruntime.as_deref())?;
        let features = if features.is_empty() {
            match described.inputs.iter().find(|i| i.width != Some(1)) {
                Some(wide) => {
                    return Err(ModelError::OnnxUnsupported {
                        reason: format!(
                            "no feature names given, and the graph's input {:?} holds {} columns: \
                             name every column, in order (--features a,b,…)",
                            wide.name,
                            wide.width.map_or("several".to_string(), |w| w.to_string())
                        ),
                    });
                }
                None => described.inputs.iter().map(|i| i.name.clone()).collect(),
            }
        } else {
            features
        };
        for (j, f) in features.iter().enumerate() {
            if f.trim().is_empty() {
                return Err(ModelError::OnnxUnsupported {
                    reason: format!("feature {} has an empty name", j + 1),
                });
            }
            if features[..j].contains(f) {
                return Err(ModelError::OnnxUnsupported {
                    reason: format!("feature {f} is named twice"),
                });
            }
        }
        let layout = onnx::layout(&described.inputs, &features)?;
        let mut kinds = vec![FeatureKind::Number; features.len()];
        for (input, cols) in described.inputs.iter().zip(&layout) {
            for &j in cols {
                kinds[j] = input.ty.kind();
            }
        }
        let info = described.info;
        let task = described.task;
        let labels = match task {
            Task::Regression => {
                if labels.is_some_and(|l| !l.is_empty()) {
                    return Err(ModelError::Labels {
                        reason: "the graph is a regressor: it predicts a number, and has no class \
                                 labels to name"
                            .to_string(),
                    });
                }
                Vec::new()
            }
            Task::Classification => match (labels, info.labels.is_empty()) {
                (Some(given), false) if given.len() != info.labels.len() => {
                    return Err(ModelError::Labels {
                        reason: format!(
                            "{} labels given but the graph has {} classes ({})",
                            given.len(),
                            info.labels.len(),
                            info.labels.join(", ")
                        ),
                    });
                }
                (Some(given), _) => given,
                (None, false) => info.labels.clone(),
                (None, true) => {
                    return Err(ModelError::Labels {
                        reason: "the graph does not name its classes; pass the labels explicitly"
                            .to_string(),
                    });
                }
            },
        };
        // Building the predictor is the check: runtime present, graph accepted, interface right.
        let predictor = OnnxPredictor::load(
            bytes,
            &features,
            &kinds,
            task,
            &labels,
            self.onnxruntime.as_deref(),
        )?;
        // And one row runs: zeros, and for each text feature a category its encoder knows.
        let samples =
            onnx::sample_categories(&info.encoders, &described.inputs, &layout, features.len());
        let mut texts = TextColumns::new();
        for (j, kind) in kinds.iter().enumerate() {
            if *kind == FeatureKind::Text {
                texts.insert(j, TextColumn::from_values([Some(samples[j].as_str())]));
            }
        }
        let zeros = ndarray::Array2::<f64>::zeros((1, features.len()));
        let columns: Vec<usize> = (0..features.len()).collect();
        let refused =
            predictor.score_into(&columns, Inputs::new(zeros.view(), &texts), &mut Vec::new())?;
        if let Some((_, reason)) = refused.into_iter().next() {
            return Err(ModelError::OnnxRun { reason });
        }

        let mut hyperparameters = BTreeMap::new();
        hyperparameters.insert("onnx_ops".to_string(), ParamValue::Text(info.ops.join(",")));
        hyperparameters.insert("producer".to_string(), ParamValue::Text(info.producer));
        let meta = ModelMeta {
            format: ARTIFACT_FORMAT.to_string(),
            name: name.to_string(),
            version: 0,
            algorithm: Algorithm::Onnx,
            hyperparameters,
            features,
            feature_kinds: kinds,
            task,
            labels,
            scaling: Scaling::InsideOnnx,
            training: None,
            metrics: None,
            regression_metrics: None,
            created_at: jiff::Timestamp::now(),
            payload: PayloadKind::Onnx,
            content_sha256: String::new(),
        };
        self.commit_payload(name, meta, bytes)
    }
}

fn status_of(r: Result<(ModelMeta, Vec<u8>), ModelError>) -> VersionStatus {
    match r {
        Ok((meta, _)) => VersionStatus::Ok(Box::new(meta)),
        Err(e) => VersionStatus::Broken {
            reason: e.to_string(),
        },
    }
}

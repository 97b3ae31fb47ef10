//! Loaded models kept for quick single-row scoring (the showroom's predict-one).
//!
//! Receives (name, version) lookups; emits shared [`Model`]s loaded and
//! verified through the [`Registry`]. A committed version is immutable, so an
//! entry stays valid; its content hash is compared with the version's
//! `meta.json` once a second at most, so a registry folder replaced behind the
//! daemon's back (a restored backup) is reloaded rather than trusted forever.
//! Blocking (file reads): call from blocking threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{FeatureBinding, Model, ModelError, Registry};

/// How long a cached model is used before its hash is checked again.
const RECHECK: Duration = Duration::from_secs(1);
/// Versions kept at once; past that the cache starts over (models are small).
const CAPACITY: usize = 64;

/// A model with its positional binding (features in the model's own order).
pub struct Loaded {
    pub model: Model,
    pub binding: FeatureBinding,
}

struct Entry {
    loaded: Arc<Loaded>,
    checked: Instant,
}

pub struct ModelCache {
    registry: Registry,
    entries: Mutex<HashMap<(String, u32), Entry>>,
}

impl ModelCache {
    pub fn new(registry: Registry) -> ModelCache {
        ModelCache {
            registry,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The version `version` of `name`, or its active version.
    pub fn resolve(&self, name: &str, version: Option<u32>) -> Result<u32, ModelError> {
        match version {
            Some(v) => Ok(v),
            None => self
                .registry
                .active(name)?
                .ok_or_else(|| ModelError::NoActive {
                    name: name.to_string(),
                }),
        }
    }

    /// Loads (or reuses) one version.
    pub fn get(&self, name: &str, version: u32) -> Result<Arc<Loaded>, ModelError> {
        let key = (name.to_string(), version);
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .get(&key)
                .map(|e| (e.loaded.clone(), e.checked.elapsed() < RECHECK))
        };
        if let Some((loaded, fresh)) = cached {
            if fresh {
                return Ok(loaded);
            }
            let meta = self.registry.meta(name, version)?;
            if meta.content_sha256 == loaded.model.meta().content_sha256 {
                self.insert(key, loaded.clone());
                return Ok(loaded);
            }
        }
        let model = self.registry.load(name, version)?;
        let binding = model.bind(model.features())?;
        let loaded = Arc::new(Loaded { model, binding });
        self.insert(key, loaded.clone());
        Ok(loaded)
    }

    fn insert(&self, key: (String, u32), loaded: Arc<Loaded>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                loaded,
                checked: Instant::now(),
            },
        );
    }
}

//! The catalog, built once and kept until what it describes changes.
//!
//! Building a [`Catalog`] reads every CSV dataset and runs every dataset
//! query, which no request should be able to make the daemon do on demand.
//! The cache keeps the last one and rebuilds it only when the configuration
//! was reloaded, a CSV file changed (size or modification time), or, for
//! query datasets whose data cannot be watched, [`QUERY_REFRESH`] has passed.
//! Concurrent requests for a stale catalog wait for one rebuild.
//!
//! Blocking (file metadata, CSV reads, datalake queries): call [`CatalogCache::get`]
//! from a blocking thread.

use super::Catalog;
use mld_shared::config::Config;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a catalog with query datasets is trusted before it is rebuilt.
pub const QUERY_REFRESH: Duration = Duration::from_secs(60);

/// A CSV file as last seen: its size and modification time, or `None` if unreadable.
type Stamp = (PathBuf, Option<(u64, SystemTime)>);

struct Cached {
    config: Arc<Config>,
    stamps: Vec<Stamp>,
    has_queries: bool,
    built: Instant,
    catalog: Arc<Catalog>,
}

#[derive(Default)]
pub struct CatalogCache {
    /// Held while checking and rebuilding, so one request rebuilds and the rest wait.
    cached: Mutex<Option<Cached>>,
    builds: AtomicU64,
}

fn stamps(config: &Config) -> Vec<Stamp> {
    config
        .models
        .datasets
        .values()
        .filter_map(|d| d.csv.clone())
        .map(|path| {
            let seen = std::fs::metadata(&path)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            (path, seen)
        })
        .collect()
}

impl CatalogCache {
    /// The catalog for `config`, rebuilt only if stale.
    pub fn get(&self, config: &Arc<Config>) -> Arc<Catalog> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        let now_stamps = stamps(config);
        if let Some(c) = cached.as_ref()
            && Arc::ptr_eq(&c.config, config)
            && c.stamps == now_stamps
            && !(c.has_queries && c.built.elapsed() >= QUERY_REFRESH)
        {
            return c.catalog.clone();
        }
        let catalog = Arc::new(Catalog::for_config(config));
        self.builds.fetch_add(1, Ordering::Relaxed);
        *cached = Some(Cached {
            config: config.clone(),
            stamps: now_stamps,
            has_queries: config.models.datasets.values().any(|d| d.query.is_some()),
            built: Instant::now(),
            catalog: catalog.clone(),
        });
        catalog
    }

    /// How many times the catalog was built (for tests and diagnostics).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }
}

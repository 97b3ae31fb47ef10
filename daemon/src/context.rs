//! What request handlers and subsystems share: handles to the owners, the
//! running configuration, and the update channel to subscribers.

use crate::access::denials::DenialLog;
use crate::dispatch::{DispatchService, SharedConfig};
use crate::eventlog::EventLog;
use crate::model::registry::Registry;
use crate::scheduler::SchedulerHandle;
use crate::showroom::Showroom;
use crate::training::cache::CatalogCache;
use crate::training::runner::TrainingRunner;
use mld_shared::config::Config;
use mld_shared::protocol::{HealthEntry, Update};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::{Notify, broadcast, watch};

/// Updates buffered per subscriber before it counts as lagging and gets a
/// fresh snapshot instead.
pub const UPDATE_BUFFER: usize = 256;

pub struct Context {
    config: SharedConfig,
    pub eventlog: EventLog,
    pub started_at: jiff::Timestamp,
    pub connected_clients: AtomicU32,
    pub updates: broadcast::Sender<Update>,
    pub health: watch::Receiver<Vec<HealthEntry>>,
    pub scheduler: SchedulerHandle,
    pub dispatches: Arc<DispatchService>,
    pub registry: Registry,
    /// Sample rows and single-row predictions (with its own model cache).
    pub showroom: Showroom,
    pub training: Arc<TrainingRunner>,
    /// Poked when jobs change (state, a dispatch ended), so subscribers get
    /// `Update::Jobs` without polling.
    pub jobs_changed: Notify,
    /// Refused requests, counted per uid and minute.
    pub denials: DenialLog,
    /// The training catalog, rebuilt only when what it describes changes.
    pub catalog: CatalogCache,
}

pub struct Parts {
    pub config: SharedConfig,
    pub eventlog: EventLog,
    pub health: watch::Receiver<Vec<HealthEntry>>,
    pub updates: broadcast::Sender<Update>,
    pub scheduler: SchedulerHandle,
    pub dispatches: Arc<DispatchService>,
    pub registry: Registry,
    pub showroom: Showroom,
    pub training: Arc<TrainingRunner>,
}

impl Context {
    pub fn new(p: Parts) -> Context {
        Context {
            config: p.config,
            eventlog: p.eventlog.clone(),
            started_at: jiff::Timestamp::now(),
            connected_clients: AtomicU32::new(0),
            updates: p.updates,
            health: p.health,
            scheduler: p.scheduler,
            dispatches: p.dispatches,
            registry: p.registry,
            showroom: p.showroom,
            training: p.training,
            jobs_changed: Notify::new(),
            denials: DenialLog::new(p.eventlog.clone()),
            catalog: CatalogCache::default(),
        }
    }

    /// The configuration in force now. Cheap; never hold it across a reload
    /// longer than one request.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn replace_config(&self, config: Config) {
        self.showroom.configure(config.showroom.clone());
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// Sends an update to every subscriber; nobody listening is fine.
    pub fn publish(&self, update: Update) {
        let _ = self.updates.send(update);
    }

    pub fn clients(&self) -> u32 {
        self.connected_clients.load(Ordering::Relaxed)
    }
}

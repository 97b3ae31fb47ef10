//! What request handlers and subsystems share: handles to the owners, the
//! running configuration, and the update channel to subscribers.

use crate::eventlog::EventLog;
use mld_shared::config::Config;
use mld_shared::protocol::{HealthEntry, Update};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{broadcast, watch};

/// Updates buffered per subscriber before it counts as lagging and gets a
/// fresh snapshot instead.
pub const UPDATE_BUFFER: usize = 256;

pub struct Context {
    config: RwLock<Arc<Config>>,
    pub eventlog: EventLog,
    pub started_at: jiff::Timestamp,
    pub connected_clients: AtomicU32,
    pub running_dispatches: AtomicU32,
    pub updates: broadcast::Sender<Update>,
    pub health: watch::Receiver<Vec<HealthEntry>>,
}

impl Context {
    pub fn new(
        config: Config,
        eventlog: EventLog,
        health: watch::Receiver<Vec<HealthEntry>>,
    ) -> Context {
        let (updates, _) = broadcast::channel(UPDATE_BUFFER);
        Context {
            config: RwLock::new(Arc::new(config)),
            eventlog,
            started_at: jiff::Timestamp::now(),
            connected_clients: AtomicU32::new(0),
            running_dispatches: AtomicU32::new(0),
            updates,
            health,
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

//! Refusals, recorded without letting a refused user flood the event log or
//! the journal.
//!
//! The first refusal of a uid in a [`WINDOW`] is written to the event log
//! (one fsync'd row) and logged at WARN; the rest of that window only count,
//! in memory. [`DenialLog::flush`] (every window, and at shutdown) writes
//! the counts into their rows and logs one summary line per uid. 20,000
//! denied requests in five seconds are one row with `count = 20000`.

use super::Peer;
use super::store;
use crate::eventlog::EventLog;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one row counts a uid's refusals.
pub const WINDOW: Duration = Duration::from_secs(60);

struct Window {
    started: Instant,
    user: String,
    /// The row, once its insert has committed.
    row: Option<i64>,
    count: u64,
    /// The count the row holds.
    written: u64,
    last_at: jiff::Timestamp,
}

/// The one owner of the refusal counts; shared behind the context.
pub struct DenialLog {
    eventlog: EventLog,
    windows: Mutex<HashMap<u32, Window>>,
}

impl DenialLog {
    pub fn new(eventlog: EventLog) -> DenialLog {
        DenialLog {
            eventlog,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Notes one refusal of `request` (which needed `needed`) to `peer`.
    /// Writes and logs only the first of its uid's window.
    pub async fn record(&self, peer: &Peer, request: &'static str, needed: &'static str) {
        let now = Instant::now();
        let at = jiff::Timestamp::now();
        let stale = {
            let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            match windows.get_mut(&peer.uid) {
                Some(w) if now.duration_since(w.started) < WINDOW => {
                    w.count += 1;
                    w.last_at = at;
                    return;
                }
                _ => windows.insert(
                    peer.uid,
                    Window {
                        started: now,
                        user: peer.user.clone(),
                        row: None,
                        count: 1,
                        written: 1,
                        last_at: at,
                    },
                ),
            }
        };
        if let Some(old) = stale {
            self.write_count(peer.uid, &old).await;
        }
        tracing::warn!(
            user = %peer.user,
            uid = peer.uid,
            request,
            needed,
            "permission denied (further refusals of this uid within a minute are counted, not logged)"
        );
        let (user, uid) = (peer.user.clone(), peer.uid);
        let row = self
            .eventlog
            .write(move |tx| store::insert(tx, at, &user, uid, request, needed))
            .await;
        match row {
            Ok(id) => {
                let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(w) = windows.get_mut(&peer.uid).filter(|w| w.started == now) {
                    w.row = Some(id);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not record a permission denial"),
        }
    }

    /// Writes every count not yet in its row, and forgets windows that ended.
    pub async fn flush(&self) {
        let now = Instant::now();
        let due: Vec<(u32, Window)> = {
            let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
            let mut due = Vec::new();
            windows.retain(|uid, w| {
                let ended = now.duration_since(w.started) >= WINDOW;
                if w.count > w.written && w.row.is_some() {
                    due.push((
                        *uid,
                        Window {
                            user: w.user.clone(),
                            ..*w
                        },
                    ));
                    w.written = w.count;
                }
                // A window whose row is still being inserted stays until it has one.
                !(ended && w.row.is_some())
            });
            due
        };
        for (uid, w) in due {
            self.write_count(uid, &w).await;
        }
    }

    async fn write_count(&self, uid: u32, w: &Window) {
        let (Some(id), count, last_at) = (w.row, w.count, w.last_at) else {
            return;
        };
        if count <= w.written {
            return;
        }
        tracing::warn!(
            user = %w.user,
            uid,
            refusals = count,
            "permission denied {count} times in a minute"
        );
        if let Err(e) = self
            .eventlog
            .write(move |tx| store::set_count(tx, id, count, last_at))
            .await
        {
            tracing::error!(error = %e, "could not record a count of permission denials");
        }
    }
}

//! What a dispatch is, as the event log keeps it.

use mld_shared::ids::DispatchId;
use std::fmt;

/// Why a dispatch was started: the scheduler's notion, recorded as is.
pub use crate::scheduler::Trigger;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchStatus {
    Created,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Was running when the daemon died; marked at the next start.
    Interrupted,
}

impl DispatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchStatus::Created => "created",
            DispatchStatus::Running => "running",
            DispatchStatus::Succeeded => "succeeded",
            DispatchStatus::Failed => "failed",
            DispatchStatus::Cancelled => "cancelled",
            DispatchStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<DispatchStatus> {
        [
            DispatchStatus::Created,
            DispatchStatus::Running,
            DispatchStatus::Succeeded,
            DispatchStatus::Failed,
            DispatchStatus::Cancelled,
            DispatchStatus::Interrupted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, DispatchStatus::Created | DispatchStatus::Running)
    }
}

impl fmt::Display for DispatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of SPEC.md's "A dispatch", in order; each is an event when it
/// completes. `Resumed` is the odd one: the write-back is done again (after
/// a restart, or retried by an admin), so `inserted` and `finished` follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Created,
    Started,
    Collected,
    Predicted,
    Stored,
    Inserted,
    Finished,
    Resumed,
    /// A shard of a scaled-out dispatch changed state (submitted, running,
    /// done, failed and retried).
    Shard,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Created => "created",
            Step::Started => "started",
            Step::Collected => "collected",
            Step::Predicted => "predicted",
            Step::Stored => "stored",
            Step::Inserted => "inserted",
            Step::Finished => "finished",
            Step::Resumed => "resumed",
            Step::Shard => "shard",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        [
            Step::Created,
            Step::Started,
            Step::Collected,
            Step::Predicted,
            Step::Stored,
            Step::Inserted,
            Step::Finished,
            Step::Resumed,
            Step::Shard,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row counts; they must reconcile: collected = predicted + unscorable,
/// predicted = stored = inserted (for a dispatch that succeeded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub collected: u64,
    pub predicted: u64,
    pub unscorable: u64,
    pub stored: u64,
    pub inserted: u64,
}

impl Counts {
    /// Why the counts do not add up, if they do not.
    pub fn mismatch(&self) -> Option<String> {
        if self.collected != self.predicted + self.unscorable {
            return Some(format!(
                "collected {} rows but predicted {} and counted {} unscorable",
                self.collected, self.predicted, self.unscorable
            ));
        }
        if self.stored != self.predicted {
            return Some(format!(
                "predicted {} rows but stored {}",
                self.predicted, self.stored
            ));
        }
        if self.inserted != self.stored {
            return Some(format!(
                "stored {} rows but inserted {}",
                self.stored, self.inserted
            ));
        }
        None
    }
}

/// What is known when a dispatch is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispatch {
    pub job: String,
    pub trigger: Trigger,
    pub requested_by: String,
    pub slot: Option<jiff::Timestamp>,
    pub model: String,
    /// Empty when the model could not be resolved.
    pub model_version: String,
    pub model_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchRecord {
    pub id: DispatchId,
    pub job: String,
    pub trigger: Trigger,
    pub requested_by: String,
    pub slot: Option<jiff::Timestamp>,
    pub model: String,
    pub model_version: String,
    pub model_hash: String,
    pub status: DispatchStatus,
    pub failed_step: Option<Step>,
    pub error: Option<String>,
    pub created_at: jiff::Timestamp,
    pub started_at: Option<jiff::Timestamp>,
    pub finished_at: Option<jiff::Timestamp>,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub seq: u32,
    pub at: jiff::Timestamp,
    pub step: Step,
    pub rows: Option<u64>,
    pub message: Option<String>,
}

/// One stored prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPrediction {
    pub row_key: String,
    /// A classifier's label; a regressor's value as text.
    pub label: String,
    /// A classifier's score (NaN for a regressor).
    pub score: f64,
    /// A regressor's value.
    pub value: Option<f64>,
    pub created_at: jiff::Timestamp,
}

/// One batch's predictions, in key order of the batch: a class (label and
/// score) per row, or a value per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcomes {
    Classes {
        labels: Vec<std::sync::Arc<str>>,
        scores: Vec<f64>,
    },
    Values(Vec<f64>),
}

impl Outcomes {
    pub fn len(&self) -> usize {
        match self {
            Outcomes::Classes { labels, .. } => labels.len(),
            Outcomes::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

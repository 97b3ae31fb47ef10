//! Where the daemon reads the time of day.
//!
//! Owns nothing; receives nothing; emits `jiff::Timestamp`s. Everything that
//! decides by wall-clock time (the scheduler above all) takes a [`Clock`], so
//! tests drive schedules, daylight-saving changes and missed runs without waiting.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that starts at a chosen instant and then follows tokio's clock.
///
/// Under `#[tokio::test(start_paused = true)]` tokio's clock only moves when the
/// runtime is idle or a test advances it, so this clock and `tokio::time::sleep_until`
/// agree exactly: a task sleeping until a deadline wakes when `now()` reaches it.
#[derive(Debug, Clone)]
pub struct TestClock {
    start: Timestamp,
    origin: tokio::time::Instant,
}

impl TestClock {
    /// Must be called inside the runtime whose (paused) clock it should follow.
    pub fn starting_at(start: Timestamp) -> Arc<Self> {
        Arc::new(TestClock {
            start,
            origin: tokio::time::Instant::now(),
        })
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.origin.elapsed()).unwrap_or(SignedDuration::MAX);
        self.start.saturating_add(elapsed).unwrap_or(Timestamp::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn test_clock_follows_paused_tokio_time() {
        let start: Timestamp = "2026-03-08T06:00:00Z".parse().unwrap();
        let clock = TestClock::starting_at(start);
        assert_eq!(clock.now(), start);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            clock.now(),
            "2026-03-08T07:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}

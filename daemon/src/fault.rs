//! Fault points for the crash tests: named places in a dispatch (each step
//! boundary, each page of the write-back) where a test can have the daemon
//! process kill itself with SIGKILL, as a power cut or the OOM killer would.
//!
//! Compiled in only with the `fault-points` cargo feature, which only the
//! end-to-end tests enable (as a dev-dependency feature, so `cargo build` and
//! `cargo build --release` never turn it on); without it [`point`] is empty
//! and the environment is never read. With it, `MLD_FAULT=NAME` kills the
//! process at the first time point `NAME` is reached, `MLD_FAULT=NAME@N` at
//! the N-th time.

/// Marks a place a crash test may stop the daemon at.
#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// Whether a fault point is armed (it is never, without the feature).
#[cfg(not(feature = "fault-points"))]
pub fn armed() -> Option<String> {
    None
}

#[cfg(feature = "fault-points")]
mod armed {
    use std::sync::{Mutex, OnceLock};

    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: Mutex<u64> = Mutex::new(0);

    fn parse() -> Option<(String, u64)> {
        let spec = std::env::var("MLD_FAULT").ok()?;
        let spec = spec.trim();
        if spec.is_empty() {
            return None;
        }
        Some(match spec.split_once('@') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1).max(1)),
            None => (spec.to_string(), 1),
        })
    }

    pub fn armed() -> Option<String> {
        ARMED
            .get_or_init(parse)
            .as_ref()
            .map(|(name, n)| format!("{name}@{n}"))
    }

    pub fn point(name: &str) {
        let Some((want, at)) = ARMED.get_or_init(parse) else {
            return;
        };
        if want != name {
            return;
        }
        let mut hits = HITS.lock().unwrap_or_else(|e| e.into_inner());
        *hits += 1;
        if *hits == *at {
            eprintln!("mld: fault point {name}@{at} reached: SIGKILL");
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            // SIGKILL cannot be caught; nothing after this runs.
            std::process::abort();
        }
    }
}

#[cfg(feature = "fault-points")]
pub use armed::{armed, point};

//! Instants on the wire: milliseconds since the Unix epoch, UTC.
//!
//! A plain integer keeps the encoding small and stable; both sides convert to
//! `jiff::Timestamp` for arithmetic and display.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WireTime(pub i64);

impl WireTime {
    pub fn now() -> Self {
        jiff::Timestamp::now().into()
    }

    pub fn to_timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC, for `--json` output and logs.
    pub fn to_rfc3339(self) -> String {
        self.to_timestamp().to_string()
    }
}

impl From<jiff::Timestamp> for WireTime {
    fn from(t: jiff::Timestamp) -> Self {
        WireTime(t.as_millisecond())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_jiff() {
        let t: jiff::Timestamp = "2026-11-23T10:00:00.123Z".parse().unwrap();
        let w = WireTime::from(t);
        assert_eq!(w.to_timestamp(), t);
        assert_eq!(w.to_rfc3339(), "2026-11-23T10:00:00.123Z");
    }
}

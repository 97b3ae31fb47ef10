//! Instants and windows as people type them: RFC 3339 with an offset
//! (`2026-11-23T10:00:00-03:00`), or a length of time relative to now
//! (`30m`, `2h`, `1d`, `1h 30m`).
//!
//! Receives the text and "now" (never read here, so every rule is tested
//! with a fixed instant); emits `jiff::Timestamp`s or a [`WhenError`] that
//! shows the accepted forms.

use jiff::{SignedDuration, Timestamp};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WhenError {
    #[error(
        "{text:?} is neither an instant with an offset (like 2026-11-23T10:00:00-03:00) nor a length of time (like 30m, 2h, 1d)"
    )]
    Unreadable { text: String },
    #[error("{text:?} is too far from now")]
    OutOfRange { text: String },
    #[error("the window ends ({to}) before it starts ({from})")]
    Backwards { from: Timestamp, to: Timestamp },
}

/// Which side of now a length of time counts towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// `--since 24h`: 24 hours ago.
    Ago,
    /// `--until 2h`: 2 hours from now.
    FromNow,
}

/// An instant: RFC 3339 with an offset, or a length of time from `now`.
pub fn instant(text: &str, now: Timestamp, relative: Relative) -> Result<Timestamp, WhenError> {
    let text = text.trim();
    if let Some(length) = length(text) {
        let shifted = match relative {
            Relative::Ago => now.checked_sub(length),
            Relative::FromNow => now.checked_add(length),
        };
        return shifted.map_err(|_| WhenError::OutOfRange {
            text: text.to_string(),
        });
    }
    text.parse::<Timestamp>()
        .map_err(|_| WhenError::Unreadable {
            text: text.to_string(),
        })
}

/// A window `[from, to)`: `since` ago until now, or `from`..`to` (either may
/// be a length of time ago; `to` defaults to now), or `default` ago until now.
pub fn window(
    since: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    default: SignedDuration,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), WhenError> {
    let to = match to {
        Some(to) => instant(to, now, Relative::Ago)?,
        None => now,
    };
    let from = match (since, from) {
        (Some(since), _) => instant(since, now, Relative::Ago)?,
        (None, Some(from)) => instant(from, now, Relative::Ago)?,
        (None, None) => to.checked_sub(default).map_err(|_| WhenError::OutOfRange {
            text: default.to_string(),
        })?,
    };
    if to < from {
        return Err(WhenError::Backwards { from, to });
    }
    Ok((from, to))
}

/// `90s`, `30m`, `2h`, `1d`, `1w`, `1h 30m`, `1h30m`: whole numbers with a
/// unit each. Days are 24 hours (a window, not a calendar day).
pub fn length(text: &str) -> Option<SignedDuration> {
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let seconds: i64 = match &rest[..unit_len] {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(seconds)?)?;
        rest = rest[unit_len..].trim_start();
    }
    Some(SignedDuration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn lengths_count_from_now_in_the_asked_direction() {
        assert_eq!(
            instant("2h", now(), Relative::FromNow).unwrap(),
            at("2026-11-23T14:00:00Z")
        );
        assert_eq!(
            instant("30m", now(), Relative::Ago).unwrap(),
            at("2026-11-23T11:30:00Z")
        );
        assert_eq!(
            instant("1d", now(), Relative::Ago).unwrap(),
            at("2026-11-22T12:00:00Z")
        );
        assert_eq!(
            instant("1h 30m", now(), Relative::FromNow).unwrap(),
            at("2026-11-23T13:30:00Z")
        );
        assert_eq!(
            instant("1h30m15s", now(), Relative::FromNow).unwrap(),
            at("2026-11-23T13:30:15Z")
        );
    }

    #[test]
    fn instants_need_an_offset() {
        assert_eq!(
            instant("2026-11-23T10:00:00-03:00", now(), Relative::FromNow).unwrap(),
            at("2026-11-23T13:00:00Z")
        );
        assert_eq!(
            instant("2026-11-23T10:00:00Z", now(), Relative::Ago).unwrap(),
            at("2026-11-23T10:00:00Z")
        );
        for bad in [
            "2026-11-23T10:00:00",
            "tomorrow",
            "2x",
            "h",
            "",
            "-2h",
            "2h x",
        ] {
            let err = instant(bad, now(), Relative::Ago).unwrap_err();
            assert!(
                err.to_string()
                    .contains("2026-11-23T10:00:00-03:00) nor a length of time"),
                "{bad}: {err}"
            );
        }
        assert!(matches!(
            instant("99999999999w", now(), Relative::FromNow),
            Err(WhenError::OutOfRange { .. }) | Err(WhenError::Unreadable { .. })
        ));
    }

    #[test]
    fn windows_default_and_refuse_to_run_backwards() {
        let day = SignedDuration::from_hours(24);
        assert_eq!(
            window(None, None, None, day, now()).unwrap(),
            (at("2026-11-22T12:00:00Z"), now())
        );
        assert_eq!(
            window(Some("2h"), None, None, day, now()).unwrap(),
            (at("2026-11-23T10:00:00Z"), now())
        );
        assert_eq!(
            window(
                None,
                Some("2026-11-23T10:00:00-03:00"),
                Some("2026-11-23T11:00:00-03:00"),
                day,
                now()
            )
            .unwrap(),
            (at("2026-11-23T13:00:00Z"), at("2026-11-23T14:00:00Z"))
        );
        // `--from` alone runs until now; `--to` alone takes the default length before it.
        assert_eq!(
            window(None, Some("3h"), None, day, now()).unwrap(),
            (at("2026-11-23T09:00:00Z"), now())
        );
        assert_eq!(
            window(None, None, Some("1h"), SignedDuration::from_hours(2), now()).unwrap(),
            (at("2026-11-23T09:00:00Z"), at("2026-11-23T11:00:00Z"))
        );
        assert!(matches!(
            window(None, Some("1h"), Some("2h"), day, now()),
            Err(WhenError::Backwards { .. })
        ));
    }
}

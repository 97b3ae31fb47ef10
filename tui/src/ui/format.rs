//! Words and numbers as the screen writes them: durations, instants,
//! latencies. Pure functions of their inputs (and of the "now" passed in).

use jiff::{Timestamp, Zoned};
use mld_shared::protocol::HealthKind;
use mld_shared::time::WireTime;

/// A length of time in its two largest units: `45s`, `12m 05s`, `3h 04m`, `2d 03h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Seconds from `now` until `at`, rounded up so a countdown never shows 0
/// while there is still time left.
pub fn seconds_until(at: Timestamp, now: &Zoned) -> i64 {
    let ms = at.as_millisecond() - now.timestamp().as_millisecond();
    (ms + 999).div_euclid(1000).max(0)
}

/// Seconds from `at` to `now`.
pub fn seconds_since(at: WireTime, now: &Zoned) -> i64 {
    (now.timestamp().as_millisecond() - at.0).div_euclid(1000)
}

/// An instant in `now`'s time zone: the time alone when it is today,
/// else the date too.
pub fn instant(at: WireTime, now: &Zoned) -> String {
    let local = at.to_timestamp().to_zoned(now.time_zone().clone());
    if local.date() == now.date() {
        local.strftime("%H:%M:%S").to_string()
    } else if local.year() == now.year() {
        local.strftime("%m-%d %H:%M").to_string()
    } else {
        local.strftime("%Y-%m-%d").to_string()
    }
}

pub fn latency(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_string(),
        Some(ms) if ms < 10.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{ms:.0} ms"),
    }
}

pub fn health_kind(kind: HealthKind) -> &'static str {
    match kind {
        HealthKind::Server => "server",
        HealthKind::Datalake => "datalake",
        HealthKind::EventLog => "eventlog",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_their_two_largest_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(725), "12m 05s");
        assert_eq!(duration(3 * 3600 + 4 * 60 + 59), "3h 04m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d 03h");
        assert_eq!(
            duration(-5),
            "0s",
            "a clock skew never shows a negative uptime"
        );
    }

    #[test]
    fn countdowns_round_up_and_stop_at_zero() {
        let now: Zoned = "2026-11-23T12:00:00+00:00[UTC]".parse().unwrap();
        let t = now.timestamp();
        assert_eq!(
            seconds_until(t + std::time::Duration::from_millis(1), &now),
            1
        );
        assert_eq!(
            seconds_until(t + std::time::Duration::from_millis(2000), &now),
            2
        );
        assert_eq!(
            seconds_until(t - std::time::Duration::from_secs(3), &now),
            0
        );
    }

    #[test]
    fn instants_show_the_date_only_when_not_today() {
        let now: Zoned = "2026-11-23T12:00:00-03:00[-03:00]".parse().unwrap();
        let today = WireTime::from("2026-11-23T13:05:09Z".parse::<Timestamp>().unwrap());
        assert_eq!(instant(today, &now), "10:05:09", "shown in now's time zone");
        let earlier = WireTime::from("2026-11-20T13:05:09Z".parse::<Timestamp>().unwrap());
        assert_eq!(instant(earlier, &now), "11-20 10:05");
        let last_year = WireTime::from("2025-01-02T13:05:09Z".parse::<Timestamp>().unwrap());
        assert_eq!(instant(last_year, &now), "2025-01-02");
    }
}

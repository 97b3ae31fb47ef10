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

/// An uptime to the minute (`<1m`, `12m`, `3h 04m`, `2d 03h`): nothing on
/// screen should move every second unless it counts down to something.
pub fn uptime(seconds: i64) -> String {
    match seconds {
        ..60 => "<1m".to_string(),
        60..3_600 => format!("{}m", seconds / 60),
        _ => duration(seconds),
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

/// An instant in full, in `tz`: `2026-11-23 14:00:00 -03:00`.
pub fn full_instant(at: WireTime, tz: &jiff::tz::TimeZone) -> String {
    at.to_timestamp()
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// A count with thin groups of thousands: `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `text` cut to `width` characters with `…` marking the cut. A path keeps
/// its end (the file name says more than the first folders), anything else
/// its start.
pub fn fit(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width || width == 0 {
        return text.to_string();
    }
    if text.starts_with('/') {
        let tail: String = text.chars().skip(len - (width - 1)).collect();
        format!("…{tail}")
    } else {
        let head: String = text.chars().take(width - 1).collect();
        format!("{head}…")
    }
}

/// Splits `text` into at most `max_lines` lines of at most `width`
/// characters, at spaces where it can; a cut-off end is marked with `…`.
/// Nothing fits in a width or a number of lines of 0 (a panel squeezed to
/// nothing by a small terminal): no lines.
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    if width == 0 || max_lines == 0 {
        return Vec::new();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        loop {
            let used = current.chars().count();
            let sep = usize::from(used > 0);
            let len = word.chars().count();
            if used + sep + len <= width {
                if sep == 1 {
                    current.push(' ');
                }
                current.push_str(word);
                break;
            }
            if used == 0 {
                // A word longer than the line: cut it.
                let cut: String = word.chars().take(width).collect();
                word = &word[cut.len()..];
                lines.push(cut);
            } else {
                lines.push(std::mem::take(&mut current));
            }
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let keep: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{keep}…");
    }
    lines
}

/// `████░░░░` `width` cells wide: the filled part is full blocks, so it
/// reads the same without colour.
pub fn gauge(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
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
        HealthKind::Cluster => "cluster",
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
    fn fit_keeps_the_end_of_paths_and_the_start_of_the_rest() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("/tmp/demo/state/events.db", 12), "…e/events.db");
        assert_eq!(fit("db.example.com:5432 (tls)", 12), "db.example.…");
    }

    #[test]
    fn wrap_breaks_at_spaces_cuts_long_words_and_marks_the_cut() {
        assert_eq!(wrap("", 10, 2), Vec::<String>::new());
        assert_eq!(wrap("database is locked", 10, 2), ["database", "is locked"]);
        assert_eq!(wrap("abcdefghijkl", 5, 3), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("one two three four five", 7, 2), ["one two", "three…"]);
    }

    #[test]
    fn wrap_into_nothing_gives_no_lines_and_returns() {
        // A width of 0 used to cut empty pieces off a word forever.
        assert_eq!(wrap("database is locked", 0, 3), Vec::<String>::new());
        assert_eq!(
            wrap("database is locked", 0, usize::MAX),
            Vec::<String>::new()
        );
        assert_eq!(wrap("database is locked", 10, 0), Vec::<String>::new());
        assert_eq!(wrap("abc", 1, 2), ["a", "…"]);
        assert_eq!(wrap("abc", 1, 5), ["a", "b", "c"]);
    }

    #[test]
    fn uptimes_are_shown_to_the_minute() {
        assert_eq!(uptime(5), "<1m");
        assert_eq!(uptime(725), "12m");
        assert_eq!(uptime(3 * 3600 + 4 * 60 + 59), "3h 04m");
    }

    #[test]
    fn gauges_fill_in_whole_cells() {
        assert_eq!(gauge(0.0, 4), "░░░░");
        assert_eq!(gauge(0.5, 4), "██░░");
        assert_eq!(gauge(1.2, 4), "████", "never more than full");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn full_instants_carry_their_offset() {
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-3));
        let t = WireTime::from("2026-11-23T17:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(full_instant(t, &tz), "2026-11-23 14:00:00 -03:00");
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

//! Plain-text output for people: aligned tables and local times.
//!
//! Receives headers, cells and a time zone; emits strings. No colour, no
//! terminal width guessing: the output is meant to be piped and grepped too.

use jiff::tz::TimeZone;
use mld_shared::time::WireTime;

/// Columns separated by two spaces, each as wide as its widest cell; the
/// last one is not padded.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            let pad = widths.get(i).copied().unwrap_or(0);
            text.extend(std::iter::repeat_n(
                ' ',
                pad.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// An instant in `tz`, to the second: `2026-11-23 09:00:00`.
pub fn local(at: WireTime, tz: &TimeZone) -> String {
    at.to_timestamp()
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// An instant in `tz` with milliseconds, for the steps of a dispatch.
pub fn local_ms(at: WireTime, tz: &TimeZone) -> String {
    at.to_timestamp()
        .to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// [`local`], or `-` when there is no instant.
pub fn local_or_dash(at: Option<WireTime>, tz: &TimeZone) -> String {
    at.map_or_else(|| "-".to_string(), |t| local(t, tz))
}

/// RFC 3339 in UTC, for `--json`.
pub fn rfc3339(at: Option<WireTime>) -> Option<String> {
    at.map(WireTime::to_rfc3339)
}

/// Milliseconds between two instants as people read them: `850ms`, `4.2s`, `3m 05s`.
pub fn took(from: Option<WireTime>, to: Option<WireTime>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => {
            let ms = (to.0 - from.0).max(0);
            if ms < 1_000 {
                format!("{ms}ms")
            } else if ms < 60_000 {
                format!("{:.1}s", ms as f64 / 1000.0)
            } else {
                crate::ui::format_duration(ms / 1000)
            }
        }
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let text = render(
            &["ID", "JOB", "NOTE"],
            &[
                vec!["1".into(), "score-iris".into(), "".into()],
                vec!["12".into(), "x".into(), "failed".into()],
            ],
        );
        assert_eq!(
            text,
            "ID  JOB         NOTE\n1   score-iris\n12  x           failed\n"
        );
    }

    #[test]
    fn times_are_shown_in_the_given_zone() {
        let t = WireTime::from(
            "2026-11-23T13:05:09.250Z"
                .parse::<jiff::Timestamp>()
                .unwrap(),
        );
        let tz = TimeZone::get("America/Sao_Paulo").unwrap();
        assert_eq!(local(t, &tz), "2026-11-23 10:05:09");
        assert_eq!(local_ms(t, &tz), "2026-11-23 10:05:09.250");
        assert_eq!(local_or_dash(None, &tz), "-");
        assert_eq!(rfc3339(Some(t)).unwrap(), "2026-11-23T13:05:09.25Z");
        assert_eq!(took(Some(WireTime(0)), Some(WireTime(850))), "850ms");
        assert_eq!(took(Some(WireTime(0)), Some(WireTime(4_200))), "4.2s");
        assert_eq!(took(Some(WireTime(0)), Some(WireTime(185_000))), "3m 05s");
        assert_eq!(took(Some(WireTime(0)), None), "-");
    }
}

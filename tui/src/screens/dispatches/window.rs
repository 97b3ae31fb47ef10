//! The Dispatches screen's time window: each end is `now`, a length of
//! time before now (`24h`, `30m`), or an instant with an offset
//! (`2026-11-23T10:00:00-03:00`). Ends relative to now move with it, so a
//! window ending `now` follows live.

use crate::cmd::when;
use crate::ui::format;
use jiff::{SignedDuration, Timestamp, Zoned};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    Now,
    Ago(SignedDuration),
    At(Timestamp),
}

impl Edge {
    /// What a person types for it (what the form starts with).
    pub fn text(&self, tz: &jiff::tz::TimeZone) -> String {
        match self {
            Edge::Now => "now".into(),
            Edge::Ago(d) => length_text(*d),
            Edge::At(t) => t
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        }
    }

    pub fn resolve(&self, now: Timestamp) -> Timestamp {
        match self {
            Edge::Now => now,
            Edge::Ago(d) => now.checked_sub(*d).unwrap_or(Timestamp::MIN),
            Edge::At(t) => *t,
        }
    }

    fn describe(&self, now: &Zoned) -> String {
        match self {
            Edge::Now => "now".into(),
            Edge::Ago(d) => format!("{} ago", length_text(*d)),
            Edge::At(t) => format::instant((*t).into(), now),
        }
    }
}

/// `now`, a length of time ago, or an instant with an offset.
pub fn parse_edge(text: &str) -> Result<Edge, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(Edge::Now);
    }
    if let Some(d) = when::length(text) {
        return Ok(Edge::Ago(d));
    }
    text.parse::<Timestamp>().map(Edge::At).map_err(|_| {
        format!(
            "{text:?} is not now, a length of time (24h, 30m) or an instant with an offset \
             (2026-11-23T10:00:00-03:00)"
        )
    })
}

/// `24h`, `90m`, `2d`: the largest unit that divides it exactly.
pub fn length_text(d: SignedDuration) -> String {
    let s = d.as_secs();
    for (unit, secs) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s != 0 && s % secs == 0 {
            return format!("{}{unit}", s / secs);
        }
    }
    format!("{s}s")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: Edge,
    pub to: Edge,
}

impl Window {
    /// The last `length`, up to now.
    pub fn last(length: SignedDuration) -> Window {
        Window {
            from: Edge::Ago(length),
            to: Edge::Now,
        }
    }

    /// New dispatches belong to it: it ends now.
    pub fn live(&self) -> bool {
        self.to == Edge::Now
    }

    /// `[from, to)` at `now`.
    pub fn resolve(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        (self.from.resolve(now), self.to.resolve(now))
    }

    /// Whether an instant is in the window at `now` (a live window has no end).
    pub fn contains(&self, at: Timestamp, now: Timestamp) -> bool {
        let (from, to) = self.resolve(now);
        at >= from && (self.live() || at < to)
    }

    /// For a title: `last 24h`, or `11-20 10:00 → 3h ago`.
    pub fn describe(&self, now: &Zoned) -> String {
        match (&self.from, &self.to) {
            (Edge::Ago(d), Edge::Now) => format!("last {}", length_text(*d)),
            (from, to) => format!("{} → {}", from.describe(now), to.describe(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_now_lengths_or_instants() {
        assert_eq!(parse_edge(" NOW "), Ok(Edge::Now));
        assert_eq!(
            parse_edge("1h 30m"),
            Ok(Edge::Ago(SignedDuration::from_mins(90)))
        );
        assert_eq!(
            parse_edge("2026-11-23T10:00:00-03:00"),
            Ok(Edge::At("2026-11-23T13:00:00Z".parse().unwrap()))
        );
        let err = parse_edge("yesterday").unwrap_err();
        assert!(
            err.starts_with("\"yesterday\" is not now, a length"),
            "{err}"
        );
        assert!(
            parse_edge("2026-11-23T10:00:00").is_err(),
            "an offset is required"
        );
    }

    #[test]
    fn lengths_are_written_in_their_largest_exact_unit() {
        assert_eq!(length_text(SignedDuration::from_hours(24)), "1d");
        assert_eq!(length_text(SignedDuration::from_mins(90)), "90m");
        assert_eq!(length_text(SignedDuration::from_secs(45)), "45s");
        assert_eq!(length_text(SignedDuration::from_hours(6)), "6h");
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-3));
        let at: Timestamp = "2026-11-23T13:00:00Z".parse().unwrap();
        assert_eq!(Edge::At(at).text(&tz), "2026-11-23T10:00:00-03:00");
        assert_eq!(parse_edge(&Edge::At(at).text(&tz)), Ok(Edge::At(at)));
    }

    #[test]
    fn a_live_window_takes_anything_from_its_start() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let w = Window::last(SignedDuration::from_hours(2));
        assert!(w.contains(now + SignedDuration::from_secs(5), now));
        assert!(!w.contains(now - SignedDuration::from_hours(3), now));
        let fixed = Window {
            from: Edge::Ago(SignedDuration::from_hours(3)),
            to: Edge::Ago(SignedDuration::from_hours(1)),
        };
        assert!(!fixed.contains(now, now));
        assert!(fixed.contains(now - SignedDuration::from_hours(2), now));
    }
}

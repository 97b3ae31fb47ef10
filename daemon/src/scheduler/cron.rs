//! A job's schedule: a crontab expression read in a timezone, turned into slots.
//!
//! Receives the expression and timezone name from the job's configuration;
//! emits slot instants (`jiff::Timestamp`). Parsing is `croner`'s; how a
//! wall-clock match becomes an instant (the daylight-saving rule) is ours.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// Why a job's schedule cannot be used; the job becomes `invalid` with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expr:?}: {message}")]
    Expression { expr: String, message: String },
    #[error("unknown timezone {name:?}: expected an IANA name like \"Europe/Rome\" ({message})")]
    Timezone { name: String, message: String },
}

/// A parsed crontab expression in a timezone.
///
/// Expressions: 5 fields (`minute hour day-of-month month day-of-week`) or 6
/// with seconds first. Day of week 0 or 7 is Sunday. When both day of month
/// and day of week are restricted, a day matching either one fires, as in cron
/// (`0 0 1 * 1` fires on the 1st and on every Monday).
///
/// Daylight-saving rule (slots are wall-clock times in the job's timezone):
///
/// - A slot whose wall-clock time does not exist because the clocks spring
///   forward (e.g. 02:30 when 02:00 jumps to 03:00) runs once, at the first
///   instant after the jump (03:00). Several such slots (a job every 15
///   minutes) merge into that one slot, which is also the slot of 03:00 itself
///   if the expression matches it: one dispatch.
/// - A slot whose wall-clock time happens twice because the clocks fall back
///   (e.g. 01:30 when 02:00 returns to 01:00) runs once, at its first
///   occurrence (01:30 before the change). The repeated hour brings no new
///   slots, so a job every 15 minutes does not fire again during it.
/// - Every other slot is the one instant its wall-clock time names.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: TimeZone,
    tz_name: String,
}

/// How far a search for the next slot may walk before it gives up. Only the
/// repeated hour of a fall-back change makes a search step over matches (each
/// at most once per second of that hour), so this bound is never reached by an
/// expression that can fire.
const MAX_STEPS: u32 = 10_000;

impl Schedule {
    /// Parses `expr` in the timezone named `tz` (an IANA name), or in
    /// `default_tz` when the job names none.
    pub fn parse(
        expr: &str,
        tz: Option<&str>,
        default_tz: &TimeZone,
    ) -> Result<Schedule, ScheduleError> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expr).map_err(|e| ScheduleError::Expression {
            expr: expr.to_string(),
            message: e.to_string(),
        })?;
        let (tz, tz_name) = match tz {
            Some(name) => {
                let tz = TimeZone::get(name).map_err(|e| ScheduleError::Timezone {
                    name: name.to_string(),
                    message: e.to_string(),
                })?;
                (tz, name.to_string())
            }
            None => (
                default_tz.clone(),
                default_tz.iana_name().unwrap_or("system").to_string(),
            ),
        };
        Ok(Schedule {
            expr: expr.to_string(),
            cron,
            tz,
            tz_name,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn timezone_name(&self) -> &str {
        &self.tz_name
    }

    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first slot strictly after `after`, or `None` if the expression never
    /// fires again (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let mut civil = after.to_zoned(self.tz.clone()).datetime();
        for _ in 0..MAX_STEPS {
            let matched: DateTime = self.cron.find_next_occurrence(&civil, false).ok()?;
            let slot = self.instant_of(matched)?;
            // Wall-clock matches inside a repeated hour map to its first pass,
            // which may lie before `after`: step over them.
            if slot > after {
                return Some(slot);
            }
            civil = matched;
        }
        None
    }

    /// The first slot at or after `at`.
    pub fn next_from(&self, at: Timestamp) -> Option<Timestamp> {
        self.next_after(at.checked_sub(SignedDuration::from_nanos(1)).ok()?)
    }

    /// The instant a wall-clock match names, by the daylight-saving rule above.
    fn instant_of(&self, civil: DateTime) -> Option<Timestamp> {
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(civil).ok(),
            // The earlier instant is the one read with the offset in force before the change.
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(civil).ok(),
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the later offset, the time lies just before the jump;
                // the jump itself is the next transition.
                let before_jump = after.to_timestamp(civil).ok()?;
                self.tz.following(before_jump).next().map(|t| t.timestamp())
            }
        }
    }
}

/// Iterates the slots in `(from, to]`.
pub fn slots_between(
    schedule: &Schedule,
    from: Timestamp,
    to: Timestamp,
) -> impl Iterator<Item = Timestamp> + '_ {
    let mut cur = from;
    std::iter::from_fn(move || {
        let next = schedule.next_after(cur).filter(|t| *t <= to)?;
        cur = next;
        Some(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc(expr: &str) -> Schedule {
        Schedule::parse(expr, Some("UTC"), &TimeZone::UTC).unwrap()
    }

    fn zoned(expr: &str, tz: &str) -> Schedule {
        Schedule::parse(expr, Some(tz), &TimeZone::UTC).unwrap()
    }

    fn next_n(s: &Schedule, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = ts(from);
        for _ in 0..n {
            cur = s.next_after(cur).unwrap();
            out.push(cur.to_string());
        }
        out
    }

    #[test]
    fn weekly_line_fires_monday_at_two() {
        // 2026-11-23 is a Monday.
        let s = utc("0 2 * * 1");
        assert_eq!(
            next_n(&s, "2026-11-20T12:00:00Z", 2),
            ["2026-11-23T02:00:00Z", "2026-11-30T02:00:00Z"]
        );
        // Exactly on a slot: the next one is a week later.
        assert_eq!(
            s.next_after(ts("2026-11-23T02:00:00Z")),
            Some(ts("2026-11-30T02:00:00Z"))
        );
    }

    #[test]
    fn every_quarter_hour_in_office_hours_on_weekdays() {
        let s = utc("*/15 9-17 * * 1-5");
        // Friday 17:45 is the last of the week; Monday 09:00 the next.
        assert_eq!(
            next_n(&s, "2026-11-27T17:30:00Z", 3),
            [
                "2026-11-27T17:45:00Z",
                "2026-11-30T09:00:00Z",
                "2026-11-30T09:15:00Z"
            ]
        );
    }

    #[test]
    fn first_of_the_month_at_midnight() {
        let s = utc("0 0 1 * *");
        assert_eq!(
            next_n(&s, "2026-11-23T00:00:00Z", 2),
            ["2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"]
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_are_ored_like_cron() {
        // Fires on the 1st (a Tuesday in Dec 2026) and on every Monday.
        let s = utc("0 0 1 * 1");
        assert_eq!(
            next_n(&s, "2026-11-24T00:00:00Z", 4),
            [
                "2026-11-30T00:00:00Z",
                "2026-12-01T00:00:00Z",
                "2026-12-07T00:00:00Z",
                "2026-12-14T00:00:00Z"
            ]
        );
    }

    #[test]
    fn sunday_is_zero_and_seven() {
        for expr in ["0 3 * * 0", "0 3 * * 7", "0 3 * * SUN"] {
            // 2026-11-29 is a Sunday.
            assert_eq!(
                utc(expr).next_after(ts("2026-11-23T00:00:00Z")),
                Some(ts("2026-11-29T03:00:00Z")),
                "{expr}"
            );
        }
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let s = utc("*/20 * * * * *");
        assert_eq!(
            next_n(&s, "2026-11-23T10:00:05Z", 3),
            [
                "2026-11-23T10:00:20Z",
                "2026-11-23T10:00:40Z",
                "2026-11-23T10:01:00Z"
            ]
        );
        let s = utc("30 0 2 * * *");
        assert_eq!(
            s.next_after(ts("2026-11-23T00:00:00Z")),
            Some(ts("2026-11-23T02:00:30Z"))
        );
    }

    #[test]
    fn invalid_lines_are_refused_with_the_parser_message() {
        for expr in [
            "",
            "61 * * * *",
            "* * *",
            "0 2 * * 8",
            "0 25 * * *",
            "hello",
            "0 0 0 1 1 * 2026",
        ] {
            let err = Schedule::parse(expr, None, &TimeZone::UTC).unwrap_err();
            match &err {
                ScheduleError::Expression { expr: e, message } => {
                    assert_eq!(e, expr);
                    assert!(!message.is_empty());
                }
                other => panic!("{expr:?}: {other:?}"),
            }
            assert!(
                err.to_string().starts_with("invalid cron expression"),
                "{err}"
            );
        }
    }

    #[test]
    fn unknown_timezone_is_refused() {
        let err = Schedule::parse("0 2 * * *", Some("Mars/Olympus"), &TimeZone::UTC).unwrap_err();
        assert!(
            matches!(err, ScheduleError::Timezone { ref name, .. } if name == "Mars/Olympus"),
            "{err:?}"
        );
        assert!(err.to_string().contains("Mars/Olympus"));
    }

    #[test]
    fn default_timezone_is_used_when_none_is_named() {
        let rome = TimeZone::get("Europe/Rome").unwrap();
        let s = Schedule::parse("0 2 * * *", None, &rome).unwrap();
        assert_eq!(s.timezone_name(), "Europe/Rome");
        // 02:00 CET is 01:00 UTC.
        assert_eq!(
            s.next_after(ts("2026-11-23T00:00:00Z")),
            Some(ts("2026-11-23T01:00:00Z"))
        );
    }

    #[test]
    fn new_york_spring_forward_runs_skipped_slot_once_at_three() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
        let s = zoned("30 2 * * *", "America/New_York");
        assert_eq!(
            next_n(&s, "2026-03-07T00:00:00Z", 3),
            [
                "2026-03-07T07:30:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:30:00Z"
            ]
        );
    }

    #[test]
    fn new_york_fall_back_runs_repeated_slot_once_first_pass() {
        // 2026-11-01: 02:00 EDT returns to 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
        let s = zoned("30 1 * * *", "America/New_York");
        assert_eq!(
            next_n(&s, "2026-10-31T00:00:00Z", 3),
            [
                "2026-10-31T05:30:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-02T06:30:00Z"
            ]
        );
        // Searching from inside the repeated hour's second pass does not return its first pass again.
        assert_eq!(
            s.next_after(ts("2026-11-01T06:10:00Z")),
            Some(ts("2026-11-02T06:30:00Z"))
        );
    }

    #[test]
    fn rome_both_directions() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
        let s = zoned("30 2 * * *", "Europe/Rome");
        assert_eq!(
            next_n(&s, "2026-03-28T00:00:00Z", 3),
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:30:00Z"
            ]
        );
        // 2026-10-25: 03:00 CEST returns to 02:00 CET; 02:30 happens at 00:30Z and 01:30Z.
        assert_eq!(
            next_n(&s, "2026-10-24T00:00:00Z", 3),
            [
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z"
            ]
        );
    }

    #[test]
    fn interval_job_merges_the_skipped_hour_and_does_not_repeat_the_repeated_one() {
        let s = zoned("*/15 * * * *", "America/New_York");
        // Spring: 01:45 EST, then 02:00..02:45 and 03:00 merge into 03:00 EDT, then 03:15.
        assert_eq!(
            next_n(&s, "2026-03-08T06:40:00Z", 3),
            [
                "2026-03-08T06:45:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-08T07:15:00Z"
            ]
        );
        // Fall: 01:45 EDT (05:45Z), then 02:00 EST (07:00Z): the repeated hour has no slots.
        assert_eq!(
            next_n(&s, "2026-11-01T05:40:00Z", 2),
            ["2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z"]
        );
    }

    #[test]
    fn slots_between_is_half_open() {
        let s = utc("0 * * * *");
        let got: Vec<_> =
            slots_between(&s, ts("2026-11-23T01:00:00Z"), ts("2026-11-23T03:00:00Z")).collect();
        assert_eq!(
            got,
            [ts("2026-11-23T02:00:00Z"), ts("2026-11-23T03:00:00Z")]
        );
    }
}

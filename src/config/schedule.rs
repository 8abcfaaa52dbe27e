//! When reconciliation runs: daily at a local time in an IANA zone. Daylight-
//! saving days neither skip nor double a run: a time that does not exist that day
//! (spring forward) runs just after the gap, a time that happens twice (fall back)
//! runs at its first occurrence only.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// `[reconcile] at = "02:00"`, `time_zone = "Europe/Berlin"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileSchedule {
    pub at: Time,
    pub time_zone: TimeZone,
    pub time_zone_name: String,
}

impl Default for ReconcileSchedule {
    fn default() -> Self {
        ReconcileSchedule {
            at: Time::constant(2, 0, 0, 0),
            time_zone: TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
            time_zone_name: "Europe/Berlin".into(),
        }
    }
}

impl ReconcileSchedule {
    /// The first scheduled instant strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Timestamp {
        let mut date = after.to_zoned(self.time_zone.clone()).date();
        loop {
            // `to_zoned` disambiguates compatibly: a gap moves forward, a fold takes the earlier.
            if let Ok(candidate) = date.to_datetime(self.at).to_zoned(self.time_zone.clone())
                && candidate.timestamp() > after
            {
                return candidate.timestamp();
            }
            date = match date.checked_add(1.day()) {
                Ok(next) => next,
                Err(_) => return Timestamp::MAX,
            };
        }
    }

    /// The latest scheduled instant at or before `now` that is after `last`, if any:
    /// a run that is due (once, however many were missed while nothing ran).
    pub fn due(&self, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let mut due = None;
        let mut next = self.next_after(last);
        while next <= now {
            due = Some(next);
            next = self.next_after(next);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin(at: &str) -> ReconcileSchedule {
        ReconcileSchedule {
            at: at.parse().unwrap(),
            time_zone: TimeZone::get("Europe/Berlin").unwrap(),
            time_zone_name: "Europe/Berlin".into(),
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// Every run between two instants, as UTC strings.
    fn runs(schedule: &ReconcileSchedule, from: &str, to: &str) -> Vec<String> {
        let (mut at, end) = (ts(from), ts(to));
        let mut out = Vec::new();
        loop {
            at = schedule.next_after(at);
            if at > end {
                return out;
            }
            out.push(at.to_string());
        }
    }

    #[test]
    fn runs_daily_at_the_local_time() {
        assert_eq!(
            runs(&berlin("02:00"), "2026-11-24T12:00:00Z", "2026-11-26T12:00:00Z"),
            ["2026-11-25T01:00:00Z", "2026-11-26T01:00:00Z"]
        );
    }

    #[test]
    fn spring_forward_neither_skips_nor_doubles() {
        // 2026-03-29: Berlin jumps from 02:00 to 03:00; 02:30 does not exist that day.
        let got = runs(&berlin("02:30"), "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z");
        assert_eq!(
            got,
            [
                "2026-03-28T01:30:00Z",
                "2026-03-29T01:30:00Z",
                "2026-03-30T00:30:00Z"
            ],
            "one run each day; on the day of the gap just after it (03:30 CEST)"
        );
    }

    #[test]
    fn fall_back_runs_once() {
        // 2026-10-25: Berlin goes from 03:00 back to 02:00; 02:30 happens twice.
        let got = runs(&berlin("02:30"), "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z");
        assert_eq!(
            got,
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
            "the first 02:30 (CEST) only"
        );
    }

    #[test]
    fn missed_runs_are_due_once() {
        let s = berlin("02:00");
        // Down from before the run of the 24th to midday on the 26th: one run is due.
        assert_eq!(
            s.due(ts("2026-11-23T01:00:00Z"), ts("2026-11-26T12:00:00Z")),
            Some(ts("2026-11-26T01:00:00Z"))
        );
        assert_eq!(
            s.due(ts("2026-11-26T01:00:00Z"), ts("2026-11-26T12:00:00Z")),
            None
        );
    }
}

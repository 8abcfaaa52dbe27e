//! Business days and the streak of clean ones: pure, over the days compared.

use std::collections::BTreeMap;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde::Serialize;

/// How one business day stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// Compared, and every difference explained with the same values.
    Clean,
    /// Compared, with this many differences nobody explained.
    Differences(u64),
    /// A business day with no comparison: it breaks the streak.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    pub date: Date,
    pub state: DayState,
}

/// Every business day from the first compared to the end, the streak and the bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub days: Vec<Day>,
    /// Consecutive clean business days ending at the last day listed.
    pub streak: u32,
    pub required_days: u32,
    pub bar_reached: bool,
}

/// Whether `date` is a business day: not Saturday or Sunday, not a holiday.
pub fn is_business_day(date: Date, holidays: &[Date]) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&date)
}

/// The status given each compared day's unexplained difference count. The days
/// run from the first compared day to the latest compared one (or `today` when
/// nothing is compared yet); a business day in between without a comparison is
/// `Missing` and breaks the streak. Compared days that are not business days
/// are left out: they neither count nor break.
pub fn status(compared: &BTreeMap<Date, u64>, holidays: &[Date], required_days: u32, today: Date) -> Status {
    let (first, last) = match (compared.keys().next(), compared.keys().next_back()) {
        (Some(&first), Some(&last)) => (first, last),
        _ => (today, today),
    };
    let mut days = Vec::new();
    let mut date = first;
    while date <= last {
        if is_business_day(date, holidays) {
            let state = match compared.get(&date) {
                Some(0) => DayState::Clean,
                Some(&open) => DayState::Differences(open),
                None => DayState::Missing,
            };
            days.push(Day { date, state });
        }
        date = date.checked_add(1.day()).expect("a date before 9999");
    }
    let streak = days
        .iter()
        .rev()
        .take_while(|day| day.state == DayState::Clean)
        .count() as u32;
    Status {
        days,
        streak,
        required_days,
        bar_reached: streak >= required_days,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn clean(days: &[Date]) -> BTreeMap<Date, u64> {
        days.iter().map(|&d| (d, 0)).collect()
    }

    /// These days of December 2026.
    fn december(days: &[i8]) -> Vec<Date> {
        days.iter().map(|&d| date(2026, 12, d)).collect()
    }

    #[test]
    fn five_clean_business_days_around_a_weekend_reach_the_bar() {
        // Wednesday 2026-12-02 to Tuesday 2026-12-08, the weekend between.
        let days = december(&[2, 3, 4, 7, 8]);
        let s = status(&clean(&days), &[], 5, date(2026, 12, 8));
        assert_eq!(s.days.len(), 5, "Saturday and Sunday are not listed");
        assert_eq!(s.streak, 5);
        assert!(s.bar_reached);
        let four = status(&clean(&days[1..]), &[], 5, date(2026, 12, 8));
        assert_eq!((four.streak, four.bar_reached), (4, false));
    }

    #[test]
    fn a_missed_business_day_resets_the_streak() {
        let days = december(&[1, 2, 4, 7]);
        let s = status(&clean(&days), &[], 5, date(2026, 12, 7));
        assert_eq!(
            s.days
                .iter()
                .find(|d| d.date == date(2026, 12, 3))
                .map(|d| d.state),
            Some(DayState::Missing)
        );
        assert_eq!(s.streak, 2);
        assert!(!s.bar_reached);
    }

    #[test]
    fn a_day_with_open_differences_resets_it_too() {
        let mut days = clean(&december(&[1, 2, 3]));
        days.insert(date(2026, 12, 2), 3);
        let s = status(&days, &[], 2, date(2026, 12, 3));
        assert_eq!(s.days[1].state, DayState::Differences(3));
        assert_eq!((s.streak, s.bar_reached), (1, false));
    }

    #[test]
    fn a_holiday_is_skipped_not_missed() {
        // Christmas on Friday 2026-12-25 is a holiday: Thursday to Tuesday is four days.
        let days = december(&[23, 24, 28, 29, 30]);
        let holidays = [date(2026, 12, 25)];
        let s = status(&clean(&days), &holidays, 5, date(2026, 12, 30));
        assert!(s.days.iter().all(|d| d.date != date(2026, 12, 25)));
        assert_eq!((s.streak, s.bar_reached), (5, true));
        let without = status(&clean(&days), &[], 5, date(2026, 12, 30));
        assert_eq!(without.streak, 3, "without the holiday the Friday is missed");
    }

    #[test]
    fn nothing_compared_lists_today_as_missing() {
        let s = status(&BTreeMap::new(), &[], 5, date(2026, 12, 7));
        assert_eq!(
            s.days,
            [Day {
                date: date(2026, 12, 7),
                state: DayState::Missing
            }]
        );
        assert_eq!(s.streak, 0);
    }
}

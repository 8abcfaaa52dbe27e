//! The parallel run's sign-off report (`hrsync parallel report`): each business
//! day with its result and its differences counted by kind, the streak and the
//! bar, and every explained difference with its reason, who explained it and
//! when. Pure: built from a [`Standing`], rendered as Markdown or serialised.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use super::run::Standing;
use super::streak::DayState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub streak: u32,
    pub required_days: u32,
    pub bar_reached: bool,
    pub days: Vec<ReportDay>,
    /// Differences by kind (a contract field, `active`, `groups`, `learner`) over every day listed.
    pub totals: BTreeMap<String, u64>,
    pub explained: Vec<ExplainedDifference>,
}

/// One business day: `clean`, `differences` or `missing` (not compared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDay {
    pub date: Date,
    pub result: &'static str,
    /// Differences nobody explained (0 on a clean or missing day).
    pub unexplained: u64,
    /// Every difference, explained or not.
    pub differences: u64,
    /// Differences by kind.
    pub by_kind: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Compared>,
}

/// What a compared day's comparison counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    pub file: String,
    pub at: String,
    /// `desired` (shadow mode) or `lms`.
    pub hrsync_side: &'static str,
    pub legacy_learners: u64,
    pub hrsync_learners: u64,
    pub matching: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedDifference {
    pub date: Date,
    pub employee_id: String,
    pub field: String,
    pub legacy: Option<String>,
    pub hrsync: Option<String>,
    pub reason: String,
    pub by: String,
    pub at: String,
}

/// The word for a day's state, as the report and the console show it.
pub fn result_word(state: DayState) -> &'static str {
    match state {
        DayState::Clean => "clean",
        DayState::Differences(_) => "differences",
        DayState::Missing => "missing",
    }
}

/// The report of `standing` as of `now`.
pub fn build(standing: &Standing, now: Timestamp) -> Report {
    let mut totals = BTreeMap::new();
    let mut explained = Vec::new();
    let mut days = Vec::new();
    for day in &standing.status.days {
        let compared = standing.day(day.date);
        let mut by_kind = BTreeMap::new();
        for difference in compared.iter().flat_map(|c| &c.differences) {
            *by_kind.entry(difference.field.clone()).or_insert(0) += 1;
            *totals.entry(difference.field.clone()).or_insert(0) += 1;
            if let Some(e) = standing.explanation_of(difference) {
                explained.push(ExplainedDifference {
                    date: day.date,
                    employee_id: difference.employee_id.clone(),
                    field: difference.field.clone(),
                    legacy: difference.legacy.clone(),
                    hrsync: difference.hrsync.clone(),
                    reason: e.reason.clone(),
                    by: e.by.clone(),
                    at: e.at.clone(),
                });
            }
        }
        days.push(ReportDay {
            date: day.date,
            result: result_word(day.state),
            unexplained: match day.state {
                DayState::Differences(n) => n,
                _ => 0,
            },
            differences: compared.map_or(0, |c| c.differences.len() as u64),
            by_kind,
            compared: compared.map(|c| Compared {
                file: c.file.clone(),
                at: c.compared_at.to_string(),
                hrsync_side: if c.shadow { "desired" } else { "lms" },
                legacy_learners: c.legacy_learners,
                hrsync_learners: c.hrsync_learners,
                matching: c.matching,
            }),
        });
    }
    Report {
        generated_at: now.to_string(),
        streak: standing.status.streak,
        required_days: standing.status.required_days,
        bar_reached: standing.status.bar_reached,
        days,
        totals,
        explained,
    }
}

/// A value for a Markdown table cell: one line, `|` and backticks escaped.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' => out.push_str("\\`"),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn kinds(by_kind: &BTreeMap<String, u64>) -> String {
    if by_kind.is_empty() {
        return "—".into();
    }
    (by_kind.iter())
        .map(|(kind, n)| format!("{} {n}", cell(kind)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Report {
    /// The report as Markdown, for the people who sign the cutover off.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Parallel run: sign-off report\n");
        let _ = writeln!(md, "Generated {}.\n", self.generated_at);
        let _ = writeln!(
            md,
            "**Streak:** {} of {} consecutive clean business days — cutover bar **{}**.\n",
            self.streak,
            self.required_days,
            if self.bar_reached {
                "reached"
            } else {
                "not reached"
            }
        );
        let _ = writeln!(md, "## Business days\n");
        let _ = writeln!(
            md,
            "| Date | Day | Result | Unexplained | Differences | By kind | Legacy | hrsync | Matching |"
        );
        let _ = writeln!(md, "|---|---|---|---:|---:|---|---:|---:|---:|");
        for day in &self.days {
            let (legacy, hrsync, matching) = match &day.compared {
                Some(c) => (
                    c.legacy_learners.to_string(),
                    format!("{} ({})", c.hrsync_learners, c.hrsync_side),
                    c.matching.to_string(),
                ),
                None => ("—".into(), "—".into(), "—".into()),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {legacy} | {hrsync} | {matching} |",
                day.date,
                day.date.strftime("%a"),
                day.result,
                day.unexplained,
                day.differences,
                kinds(&day.by_kind),
            );
        }
        let _ = writeln!(md, "\n## Differences by kind\n");
        if self.totals.is_empty() {
            let _ = writeln!(md, "None.");
        } else {
            let _ = writeln!(md, "| Kind | Count |\n|---|---:|");
            for (kind, n) in &self.totals {
                let _ = writeln!(md, "| {} | {n} |", cell(kind));
            }
        }
        let _ = writeln!(md, "\n## Explained differences\n");
        if self.explained.is_empty() {
            let _ = writeln!(md, "None.");
        } else {
            let _ = writeln!(
                md,
                "| Date | Employee | Field | Legacy | hrsync | Reason | Explained by | At |\n\
                 |---|---|---|---|---|---|---|---|"
            );
            for e in &self.explained {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    e.date,
                    cell(&e.employee_id),
                    cell(&e.field),
                    cell(e.legacy.as_deref().unwrap_or("(none)")),
                    cell(e.hrsync.as_deref().unwrap_or("(none)")),
                    cell(&e.reason),
                    cell(&e.by),
                    cell(&e.at),
                );
            }
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::engine::parallel::streak::status;
    use crate::model::parallel::{Difference, Explanation};
    use crate::store::ParallelDay;

    #[test]
    fn the_report_lists_days_counts_and_who_explained_what() {
        let difference = |id: &str, field: &str| Difference {
            employee_id: id.into(),
            field: field.into(),
            legacy: Some("Sales|East".into()),
            hrsync: None,
        };
        let day = |d: Date, differences: Vec<Difference>| ParallelDay {
            day: d,
            file: "legacy.csv".into(),
            compared_at: Timestamp::from_second(1_800_000_000).unwrap(),
            shadow: true,
            legacy_learners: 3,
            hrsync_learners: 3,
            matching: 2,
            legacy_without_id: 0,
            differences,
        };
        let days = vec![
            day(date(2026, 12, 3), vec![difference("7", "department")]),
            day(
                date(2026, 12, 7),
                vec![difference("7", "department"), difference("8", "learner")],
            ),
        ];
        let explanations = vec![Explanation {
            employee_id: "7".into(),
            field: "department".into(),
            legacy: Some("Sales|East".into()),
            hrsync: None,
            reason: "legacy lags | a day".into(),
            by: "ana".into(),
            at: "2026-12-07T09:00:00Z".into(),
        }];
        let compared = [(date(2026, 12, 3), 0), (date(2026, 12, 7), 1)].into();
        let standing = Standing {
            days,
            explanations,
            status: status(&compared, &[], 5, date(2026, 12, 7)),
        };
        let report = build(&standing, Timestamp::from_second(1_800_000_000).unwrap());
        let results: Vec<_> = report.days.iter().map(|d| (d.date, d.result)).collect();
        assert_eq!(
            results,
            [
                (date(2026, 12, 3), "clean"),
                (date(2026, 12, 4), "missing"),
                (date(2026, 12, 7), "differences"),
            ]
        );
        assert_eq!(
            report.totals,
            [("department".into(), 2), ("learner".into(), 1)].into()
        );
        assert_eq!(report.explained.len(), 2, "explained on both days");
        assert_eq!(report.explained[0].by, "ana");
        let md = report.markdown();
        assert!(md.contains("legacy lags \\| a day"), "{md}");
        assert!(md.contains("| ana |"), "{md}");
        assert!(md.contains("0 of 5"), "{md}");
        assert!(md.contains("| 2026-12-04 | Fri | missing |"), "{md}");
    }
}

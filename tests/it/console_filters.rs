//! `/` filters every list pane the same way: the prompt, the rows the store
//! reads under the filter, the title saying so, and an empty answer clearing
//! it. Each pane is seeded through the store's own API.

use crate::console_support;

use std::time::Duration;

use console_support::{Fixture, console, fixture, key, press, screen};
use crossterm::event::KeyCode;
use hrsync::console::Console;
use hrsync::engine::intake::duplicates::record_suspected;
use hrsync::model::{DriftCategory, DuplicateBasis, DuplicateSide, EventId};
use hrsync::store::{DuplicateMember, Finding, NewCredential, ReconcileRuns, SuspectedGroup};
use jiff::Timestamp;
use serde_json::json;

fn seed(fixture: &Fixture) {
    let store = &fixture.store;
    let findings: Vec<Finding> = ["E001", "E002", "E003", "E004"]
        .iter()
        .map(|employee| Finding {
            category: DriftCategory::FieldDrift,
            employee_id: (*employee).into(),
            learner_id: Some(format!("u-{employee}")),
            field: "jobTitle".into(),
            hris_value: Some("Manager".into()),
            lms_value: Some("Clerk".into()),
            detail: json!({}),
        })
        .collect();
    let run = store
        .begin_run("schedule", Duration::from_secs(900))
        .expect("begin run")
        .expect("free");
    store
        .transaction(|tx| tx.finish_run(run, (4, 4, 0), &findings))
        .expect("finish run");
    let member = |id: &str| DuplicateMember {
        member_id: id.into(),
        employee_id: Some(id.into()),
        learner_id: None,
        first_seen: Timestamp::now(),
        fields: json!({ "firstName": "Ana" })
            .as_object()
            .cloned()
            .expect("object"),
    };
    store
        .transaction(|tx| {
            for (key, members) in [
                ("ana@example.com", ["E005", "E006"]),
                ("bo@example.com", ["E007", "E008"]),
            ] {
                record_suspected(
                    tx,
                    &SuspectedGroup {
                        side: DuplicateSide::Hris,
                        basis: DuplicateBasis::Email,
                        match_key: key.into(),
                        members: members.iter().map(|m| member(m)).collect(),
                    },
                )?;
            }
            Ok(())
        })
        .expect("seed duplicates");
    let soon = (jiff::Zoned::now().date() + jiff::Span::new().days(10)).to_string();
    store
        .transaction(|tx| {
            for (employee, name) in [("E001", "Fire Safety"), ("E002", "First Aid")] {
                tx.record_credential(&NewCredential {
                    employee_id: employee,
                    name,
                    number: None,
                    issued: "2020-01-01",
                    expires: &soon,
                    event_id: EventId(1),
                })?;
            }
            Ok(())
        })
        .expect("credentials");
}

/// The text of each row a pane holds, for checking what the filter kept.
fn rows(console: &Console, pane: char) -> Vec<String> {
    let panes = &console.state.panes;
    match pane {
        '1' => panes
            .events
            .list
            .rows
            .iter()
            .map(|e| format!("{} {}", e.employee_id, e.payload))
            .collect(),
        '2' => panes
            .failed
            .list
            .rows
            .iter()
            .map(|e| format!("{} {}", e.employee_id, e.payload))
            .collect(),
        '3' => panes
            .drift
            .items
            .rows
            .iter()
            .map(|i| i.employee_id.clone())
            .collect(),
        '4' => panes
            .duplicates
            .groups
            .rows
            .iter()
            .map(|g| g.match_key.clone())
            .collect(),
        '6' => panes
            .audit
            .list
            .rows
            .iter()
            .map(|a| {
                format!(
                    "{} {} {}",
                    a.employee_id.clone().unwrap_or_default(),
                    a.subject,
                    a.after
                )
            })
            .collect(),
        '7' => panes
            .held
            .list
            .rows
            .iter()
            .map(|e| e.employee_id.clone())
            .collect(),
        '8' => panes
            .credentials
            .list
            .rows
            .iter()
            .map(|c| c.credential.name.clone())
            .collect(),
        _ => unreachable!("not a list pane here: {pane}"),
    }
}

/// Every list pane: its pane, a text only some of its rows contain.
const PANES: [(char, &str); 7] = [
    ('1', "E003"),
    ('2', "E012"),
    ('3', "E002"),
    ('4', "bo@"),
    // The audit log's entries name the employees the fixture applied: the newest's.
    ('6', ""),
    ('7', "E009"),
    ('8', "Aid"),
];

#[test]
fn slash_filters_every_list_pane_and_empty_clears_it() {
    let fixture = fixture();
    seed(&fixture);
    let mut console = console(&fixture, false);
    for (pane, needle) in PANES {
        press(&mut console, &pane.to_string());
        let all = rows(&console, pane);
        let newest = console.state.panes.audit.list.rows.first();
        let employee = newest.and_then(|a| a.employee_id.clone()).unwrap_or_default();
        let needle = if needle.is_empty() {
            employee.as_str()
        } else {
            needle
        };
        press(&mut console, "/");
        assert!(
            screen(&mut console, 100, 30).contains("Filter by text"),
            "pane {pane}: / opens the filter prompt"
        );
        press(&mut console, needle);
        console.key(key(KeyCode::Enter));
        let kept = rows(&console, pane);
        assert!(!kept.is_empty(), "pane {pane}: {needle} matches some rows");
        assert!(kept.len() < all.len(), "pane {pane}: {kept:?} of {all:?}");
        assert!(
            kept.iter()
                .all(|r| r.to_lowercase().contains(&needle.to_lowercase())),
            "pane {pane}: {kept:?}"
        );
        let shown = screen(&mut console, 160, 40);
        assert!(
            shown.contains(needle),
            "pane {pane}: the title names the filter: {shown}"
        );
        // `/` again is prefilled with the filter; emptied, it clears.
        press(&mut console, "/");
        for _ in 0..needle.chars().count() {
            console.key(key(KeyCode::Backspace));
        }
        console.key(key(KeyCode::Enter));
        assert_eq!(rows(&console, pane).len(), all.len(), "pane {pane}: cleared");
    }
}

/// `A` under a filter marks what the filter matches, not the whole list.
#[test]
fn mark_all_under_a_filter_marks_only_what_it_matches() {
    let fixture = fixture();
    seed(&fixture);
    let mut console = console(&fixture, false);
    press(&mut console, "3/");
    press(&mut console, "E00");
    console.key(key(KeyCode::Enter));
    press(&mut console, "A");
    assert_eq!(console.state.panes.drift.items.marked.len(), 4);
    press(&mut console, "/");
    press(&mut console, "1");
    console.key(key(KeyCode::Enter));
    assert!(
        console.state.panes.drift.items.marked.is_empty(),
        "a new filter lets the old marks go"
    );
    press(&mut console, "A");
    let marked: Vec<i64> = console.state.panes.drift.items.marked.iter().copied().collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(
        console.state.panes.drift.items.rows[0].employee_id, "E001",
        "{marked:?}"
    );
}

//! Marking the console's one way in the Held pane: `A` marks every held event
//! the view and its filter match, beyond the page in view, and one command acts
//! on them after a confirmation that names the count and a sample of the ids.
//! The two holds are two views: confirming deactivations leaves the suspected
//! duplicates held.

use crate::console_support;

use console_support::{Fixture, console, fixture, key, press, screen};
use crossterm::event::KeyCode;
use hrsync::model::{Direction, EventId, EventStatus, NewEvent, Source};
use hrsync::store::AuditFilter;
use jiff::Timestamp;
use serde_json::json;

/// Safety holds beyond one page of the list (100 rows).
const DEACTIVATIONS: usize = 150;

/// The console fixture (two safety holds) with 150 more, and two suspected duplicates.
fn held() -> (Fixture, Vec<EventId>) {
    let fixture = fixture();
    let events: Vec<NewEvent> = (0..DEACTIVATIONS + 2)
        .map(|i| NewEvent {
            idempotency_key: format!("term:{i}"),
            source: Source::Poll,
            direction: Direction::HrisToLms,
            employee_id: format!("T{i:04}"),
            kind: "Updated".into(),
            occurred_at: Timestamp::now(),
            payload: json!({ "id": format!("T{i:04}"), "employmentStatus": "Terminated" }),
        })
        .collect();
    let ids: Vec<EventId> = fixture
        .store
        .append(&events)
        .expect("append")
        .iter()
        .map(|a| a.id())
        .collect();
    let (deactivations, duplicates) = ids.split_at(DEACTIVATIONS);
    for id in deactivations {
        fixture
            .store
            .mark_held(
                *id,
                "safety threshold: one poll would deactivate 152 learners (allowed 50)",
            )
            .expect("hold");
    }
    for id in duplicates {
        fixture
            .store
            .mark_held(*id, "suspected duplicate of employee E001 (same email)")
            .expect("hold");
    }
    (fixture, duplicates.to_vec())
}

fn audited(fixture: &Fixture, action: &str) -> usize {
    fixture
        .store
        .audit_page(
            &AuditFilter {
                action: Some(action.into()),
                ..AuditFilter::default()
            },
            None,
            1000,
        )
        .expect("audit")
        .len()
}

#[test]
fn select_all_in_held_confirms_every_deactivation_and_no_duplicate() {
    let (fixture, duplicates) = held();
    let all = DEACTIVATIONS + 2;
    let mut console = console(&fixture, false);
    press(&mut console, "7A");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains(&format!("{all} marked (all matching)")), "{shown}");
    assert!(shown.contains("c lets them go ahead"), "{shown}");
    press(&mut console, "c");
    let shown = screen(&mut console, 100, 30);
    assert!(
        shown.contains(&format!("Really confirm {all} held deactivation(s)?")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{all} events: ")) && shown.contains(&format!("and {} more", all - 6)),
        "a count and a sample of the ids: {shown}"
    );
    assert_eq!(fixture.store.counts().expect("counts").held, all as u64 + 2);
    press(&mut console, "y");
    assert_eq!(audited(&fixture, "held.confirm"), all);
    assert_eq!(
        fixture.store.counts().expect("counts").held,
        2,
        "the suspected duplicates stay held"
    );
    for id in &duplicates {
        let event = fixture.store.event(*id).expect("read").expect("exists").event;
        assert_eq!(event.status, EventStatus::Held);
    }
    assert!(console.state.panes.held.list.marked.is_empty());
}

#[test]
fn the_suspected_duplicates_are_a_view_of_their_own_decided_in_dups() {
    let (fixture, duplicates) = held();
    let mut console = console(&fixture, false);
    press(&mut console, "7v");
    let shown = screen(&mut console, 100, 30);
    assert!(
        shown.contains("2 changes held as suspected duplicates"),
        "{shown}"
    );
    assert!(shown.contains("d decides them in the Dups pane"), "{shown}");
    let rows: Vec<EventId> = console.state.panes.held.list.rows.iter().map(|e| e.id).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|id| duplicates.contains(id)), "{rows:?}");
    // Confirming here would only hold them again: it says where they are decided.
    press(&mut console, "Ac");
    assert!(screen(&mut console, 100, 30).contains("decided in the Dups pane"));
    assert_eq!(audited(&fixture, "held.confirm"), 0);
    // Rejecting them works as anywhere, with a reason and a yes.
    press(&mut console, "x");
    press(&mut console, "the same person entered twice");
    console.key(key(KeyCode::Enter));
    assert!(screen(&mut console, 100, 30).contains("2 events: "));
    press(&mut console, "y");
    assert_eq!(audited(&fixture, "held.reject"), 2);
    press(&mut console, "d");
    assert_eq!(console.state.pane, hrsync::console::state::Pane::Duplicates);
}

/// The Failed pane marks the same way: `A` marks every dead letter in view's
/// queue, and one retry after a yes takes them all.
#[test]
fn select_all_in_failed_retries_every_dead_letter_after_one_yes() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2A");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("3 marked (all matching)"), "{shown}");
    press(&mut console, "r");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("Really retry 3 events?"), "{shown}");
    press(&mut console, "y");
    assert_eq!(fixture.store.counts().expect("counts").dead_letters, 0);
    assert_eq!(audited(&fixture, "event.retry"), 3);
    assert!(console.state.panes.failed.list.marked.is_empty());
}

//! The Failed pane's queues, one view each (←/→): retrying with the attempt and
//! the next one's time, dead letters, rejected with what fits, blocked naming
//! what each waits behind. Keys act on the store and the audit log as asked;
//! each view is a snapshot at 80×24 and 160×48.

use crate::console_support;

use console_support::{Fixture, console, fixture, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::Console;
use hrsync::model::{AuditEntry, EventId, EventStatus};
use hrsync::store::{AuditFilter, EventFilter, Store, Toward};
use jiff::{SignedDuration, Timestamp};

/// The fixture, with two of its pending heads retrying (one failure each, the
/// next attempt a few minutes off): the fixture itself has none.
fn with_retrying() -> (Fixture, Vec<EventId>) {
    let fixture = fixture();
    let later = Timestamp::now() + SignedDuration::from_secs(3600);
    let heads: Vec<EventId> = (fixture.store.ready(later, 100).expect("ready"))
        .iter()
        .filter(|e| e.status == EventStatus::Pending)
        .map(|e| e.id)
        .take(2)
        .collect();
    assert_eq!(heads.len(), 2, "the fixture has pending heads");
    let next = Timestamp::now() + SignedDuration::from_secs(240);
    for id in &heads {
        fixture
            .store
            .mark_retry(*id, "LMS answered 503 Service Unavailable", Some(503), next)
            .expect("retry later");
    }
    (fixture, heads)
}

fn status(store: &Store, id: EventId) -> EventStatus {
    store.event(id).expect("read").expect("exists").event.status
}

fn audit(store: &Store, n: usize) -> Vec<AuditEntry> {
    store
        .audit_page(&AuditFilter::default(), None, n)
        .expect("audit page")
}

/// The rows of the view in front.
fn rows(console: &Console) -> Vec<EventId> {
    console
        .state
        .panes
        .failed
        .list
        .rows
        .iter()
        .map(|e| e.id)
        .collect()
}

/// The screen, with the next attempt's distance filtered like other times.
fn shown(console: &mut Console, width: u16, height: u16) -> String {
    let relative = regex::Regex::new(r"in \d+[smh]\b").expect("pattern");
    let text = stable(&screen(console, width, height));
    relative.replace_all(&text, "in N").into_owned()
}

fn events(store: &Store, filter: EventFilter) -> Vec<EventId> {
    (store
        .events_window(&filter, None, Toward::Older, 100)
        .expect("read"))
    .iter()
    .map(|e| e.id)
    .collect()
}

#[test]
fn each_queue_as_a_snapshot_at_both_sizes() {
    let (fixture, _) = with_retrying();
    // From the dead letters (the default): ← retrying, → rejected, → → blocked.
    for (name, keys) in [
        ("retrying", "2h"),
        ("dead", "2"),
        ("rejected", "2l"),
        ("blocked", "2ll"),
    ] {
        for (width, height) in [(80, 24), (160, 48)] {
            let mut console = console(&fixture, false);
            press(&mut console, keys);
            let text = shown(&mut console, width, height);
            insta::assert_snapshot!(format!("queue_{name}_{width}x{height}"), text);
        }
    }
}

#[test]
fn a_retrying_event_shows_its_attempt_and_next_time_and_r_retries_it_now() {
    let (fixture, retrying) = with_retrying();
    let mut console = console(&fixture, false);
    press(&mut console, "2h");
    let text = shown(&mut console, 160, 48);
    assert!(text.contains("[retrying 2]"), "{text}");
    assert!(
        text.contains("2 of 3  hh:mm:ss in N"),
        "attempt 2 of 3, and when:\n{text}"
    );
    let mut listed = rows(&console);
    listed.sort();
    assert_eq!(listed, retrying);

    // Its detail says the same as its row.
    console.key(key(KeyCode::Enter));
    let text = shown(&mut console, 160, 48);
    assert!(
        text.contains("retrying: attempt 2 of 3 at hh:mm:ss in N; r in the Failed pane retries now"),
        "{text}"
    );
    console.key(key(KeyCode::Esc));

    // Both chosen, r, and a yes: both are due now, from scratch, and audited.
    press(&mut console, " j r");
    assert!(
        shown(&mut console, 80, 24).contains("Really retry 2 events?"),
        "many at once asks first"
    );
    press(&mut console, "y");
    for id in &retrying {
        let event = fixture.store.event(*id).expect("read").expect("exists").event;
        assert_eq!((event.status, event.attempts), (EventStatus::Pending, 0));
        assert!(event.next_attempt_at.is_some_and(|at| at <= Timestamp::now()));
    }
    let entries = audit(&fixture.store, 2);
    for entry in &entries {
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str()),
            ("alice", "event.retry")
        );
        assert_eq!(entry.before["status"], "retrying", "{entry:?}");
    }
    assert!(rows(&console).is_empty(), "they left the retrying queue");

    // R, from any view, retries every retrying event and dead letter after a yes.
    let dead = fixture.store.counts().expect("counts").dead_letters;
    assert!(dead > 0);
    press(&mut console, "R");
    let text = shown(&mut console, 80, 24);
    assert!(
        text.contains(&format!(
            "0 retrying events and {dead} dead letters will be tried again now"
        )),
        "{text}"
    );
    press(&mut console, "y");
    assert_eq!(fixture.store.counts().expect("counts").dead_letters, 0);
}

#[test]
fn the_rejected_view_says_why_and_what_fits_and_retries_one_after_a_fix() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2l");
    let rejected = events(
        &fixture.store,
        EventFilter {
            status: Some(EventStatus::Rejected),
            ..EventFilter::default()
        },
    );
    assert_eq!(rows(&console), rejected, "newest first, all of them");
    let text = shown(&mut console, 160, 48);
    assert!(text.contains("[rejected 4]"), "{text}");
    assert!(
        text.contains("work_email: \"zoë@\" is not an email address")
            && text.contains("f flags the HRIS data; r once the contract is fixed; s skips"),
        "why, and what fits a contract refusal:\n{text}"
    );

    // The contract was fixed: r retries the one under the cursor (one: no question).
    let first = rejected[0];
    press(&mut console, "r");
    assert_eq!(status(&fixture.store, first), EventStatus::Pending);
    let entry = audit(&fixture.store, 1).remove(0);
    assert_eq!(
        (entry.action.as_str(), entry.subject.clone()),
        ("event.retry", format!("event {first}"))
    );
    assert_eq!(entry.before["status"], "rejected");

    // Another is flagged to the HRIS admin, with a note, after a yes.
    let second = rows(&console)[0];
    press(&mut console, "f");
    press(&mut console, "the HRIS has a broken email");
    console.key(key(KeyCode::Enter));
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, second), EventStatus::Flagged);
    let entry = audit(&fixture.store, 1).remove(0);
    assert_eq!(
        (entry.action.as_str(), entry.reason.as_deref()),
        ("event.flag", Some("the HRIS has a broken email"))
    );
    assert_eq!(rows(&console).len(), 2, "{:?}", rows(&console));
}

#[test]
fn the_blocked_view_names_what_each_waits_behind_until_it_moves() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2ll");
    let blocked = events(
        &fixture.store,
        EventFilter {
            blocked: true,
            ..EventFilter::default()
        },
    );
    assert_eq!(rows(&console), blocked);
    assert_eq!(console.state.counts.blocked as usize, blocked.len());
    // Behind the first dead letter: its employee's later events name it.
    let head = fixture.dead[0];
    let employee = (fixture.store.event(head).expect("read").expect("exists"))
        .event
        .employee_id;
    let behind_head: Vec<EventId> = (console.state.panes.failed.list.rows.iter())
        .filter(|e| e.employee_id == employee)
        .map(|e| e.id)
        .collect();
    assert!(
        !behind_head.is_empty(),
        "the fixture blocks {employee}'s later events"
    );
    let text = shown(&mut console, 160, 48);
    assert!(
        text.contains(&format!("event {head} (dead letter): LMS answered 503")),
        "{text}"
    );

    // r does not jump the queue: it says what would, and changes nothing.
    press(&mut console, "r");
    assert!(shown(&mut console, 80, 24).contains("retry or skip that one"));
    assert!(
        behind_head
            .iter()
            .all(|id| status(&fixture.store, *id) == EventStatus::Pending)
    );

    // The dead letter is skipped from its own view: the next one is its employee's head.
    press(&mut console, "hh");
    while console.state.panes.failed.list.selected_row().map(|e| e.id) != Some(head) {
        press(&mut console, "j");
    }
    press(&mut console, "s");
    press(&mut console, "superseded");
    console.key(key(KeyCode::Enter));
    press(&mut console, "y");
    assert_eq!(status(&fixture.store, head), EventStatus::Skipped);
    press(&mut console, "ll");
    let still: Vec<EventId> = rows(&console)
        .into_iter()
        .filter(|id| behind_head.contains(id))
        .collect();
    // The oldest goes first; the others now wait behind it, by name.
    let oldest = *behind_head.iter().min().expect("one");
    assert!(!still.contains(&oldest), "{still:?}");
    assert_eq!(still.len(), behind_head.len() - 1);
    let text = shown(&mut console, 160, 48);
    if !still.is_empty() {
        assert!(text.contains(&format!("event {oldest} (pending)")), "{text}");
    }
    assert_eq!(console.state.counts.blocked as usize, blocked.len() - 1);
}

//! The Drift pane on a real store: reconciliation runs and their findings
//! written through the store's own API, shown as insta snapshots, and the
//! operator's fix, flag, accept and "run now" landing in the store and the audit log.

use crate::console_support;

use std::time::Duration;

use console_support::{Fixture, console, fixture, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::Console;
use hrsync::model::{AuditEntry, Direction, DriftCategory, DriftState};
use hrsync::store::{AuditFilter, ControlPlane, DriftItems, EventFilter, Finding, ReconcileRuns, Store};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

fn finding(
    category: DriftCategory,
    employee: &str,
    field: &str,
    hris: Option<&str>,
    lms: Option<&str>,
) -> Finding {
    Finding {
        category,
        employee_id: employee.into(),
        learner_id: Some(format!("u-{employee}")),
        field: field.into(),
        hris_value: hris.map(str::to_string),
        lms_value: lms.map(str::to_string),
        detail: json!({
            "record": { "id": employee, "firstName": "Zoë", "lastName": "Okafor",
                        "jobTitle": hris, "employmentStatus": "Active" }
        }),
    }
}

fn run(store: &Store, totals: (u64, u64, u64), findings: &[Finding]) -> i64 {
    let id = store
        .begin_run("schedule", Duration::from_secs(900))
        .expect("begin run")
        .expect("no other run under way");
    store
        .transaction(|tx| tx.finish_run(id, totals, findings))
        .expect("finish run");
    id
}

/// Two earlier complete runs, the latest with findings in every kind the pane
/// shows, then a run that failed; the next scheduled run is published.
fn seed(store: &Store) -> i64 {
    use DriftCategory::*;
    run(
        store,
        (300, 298, 40),
        &[finding(FieldDrift, "E009", "department", Some("IT"), Some("Ops"))],
    );
    run(
        store,
        (300, 298, 41),
        &[
            finding(FieldDrift, "E009", "department", Some("IT"), Some("Ops")),
            finding(EmployeeWithoutLearner, "E010", "", None, None),
        ],
    );
    let latest = run(
        store,
        (302, 299, 44),
        &[
            finding(
                TerminatedButActive,
                "E003",
                "",
                Some("Terminated"),
                Some("active"),
            ),
            finding(FieldDrift, "E001", "jobTitle", Some("Manager"), Some("Clerk")),
            finding(
                FieldDrift,
                "E002",
                "department",
                Some("Information Technology"),
                Some("IT"),
            ),
            finding(EmployeeWithoutLearner, "E004", "", None, None),
            finding(LearnerWithoutEmployee, "X-77", "", None, Some("x77@example.com")),
            finding(
                CompletionNotWrittenBack,
                "E005",
                "Fire Safety",
                None,
                Some("completed"),
            ),
        ],
    );
    let failed = store
        .begin_run("console", Duration::from_secs(900))
        .expect("begin")
        .expect("free");
    store
        .fail_run(
            failed,
            "the HRIS answered 503 Service Unavailable while listing employees",
        )
        .expect("fail run");
    let next = Timestamp::now() + SignedDuration::from_hours(9);
    store
        .transaction(|tx| tx.set_reconcile_next(next))
        .expect("next run");
    latest
}

fn seeded() -> (Fixture, i64) {
    let fixture = fixture();
    let latest = seed(&fixture.store);
    (fixture, latest)
}

fn stable_drift(shown: &str) -> String {
    let relative = regex::Regex::new(r"in \d+[smh]").unwrap();
    relative.replace_all(&stable(shown), "in N").into_owned()
}

/// The item under the cursor after walking to the one of `employee`.
fn to_employee(console: &mut Console, employee: &str) -> i64 {
    for _ in 0..20 {
        if let Some(item) = console.state.panes.drift.items.selected_row()
            && item.employee_id == employee
        {
            return item.id;
        }
        press(console, "j");
    }
    panic!("no drift item of {employee}");
}

fn newest_audit(store: &Store) -> AuditEntry {
    store
        .audit_page(&AuditFilter::default(), None, 1)
        .expect("audit page")
        .pop()
        .expect("an audit entry")
}

fn item_state(store: &Store, id: i64) -> DriftState {
    store.drift_item(id).expect("read").expect("exists").state
}

#[test]
fn drift_pane_shows_the_latest_run_its_trend_and_items() {
    let (fixture, _) = seeded();
    for (width, height) in [(80, 24), (160, 48)] {
        let mut console = console(&fixture, false);
        press(&mut console, "3");
        let shown = stable_drift(&screen(&mut console, width, height));
        assert!(shown.contains("✗ run 4 failed"), "{shown}");
        assert!(shown.contains("! terminated but still active"), "{shown}");
        insta::assert_snapshot!(format!("drift_{width}x{height}"), shown);
    }
}

#[test]
fn drift_item_detail_shows_both_values_in_full() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    to_employee(&mut console, "E002");
    console.key(key(KeyCode::Enter));
    let shown = stable_drift(&screen(&mut console, 80, 24));
    assert!(shown.contains("Information Technology"), "{shown}");
    insta::assert_snapshot!("drift_detail_80x24", shown);
}

#[test]
fn a_category_is_chosen_with_c() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    // every → employee without learner → learner without employee → terminated but active
    press(&mut console, "ccc");
    assert_eq!(
        console.state.panes.drift.category,
        Some(DriftCategory::TerminatedButActive)
    );
    let rows = &console.state.panes.drift.items.rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].employee_id, "E003");
}

#[test]
fn accept_asks_a_reason_and_an_end_then_a_yes_and_is_audited() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    let id = to_employee(&mut console, "E002");
    press(&mut console, "a");
    // An empty reason is refused, the prompt stays open and nothing changes.
    console.key(key(KeyCode::Enter));
    assert!(screen(&mut console, 80, 24).contains("a reason is required"));
    assert_eq!(item_state(&fixture.store, id), DriftState::Open);
    press(
        &mut console,
        "IT is the old name; the LMS catalogue follows in March",
    );
    console.key(key(KeyCode::Enter));
    press(&mut console, "soon");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 80, 24);
    assert!(
        shown.contains("neither a number of days"),
        "a bad end is refused: {shown}"
    );
    for _ in 0..4 {
        console.key(key(KeyCode::Backspace));
    }
    press(&mut console, "30");
    console.key(key(KeyCode::Enter));
    assert!(screen(&mut console, 80, 24).contains("Really accept drift item"));
    assert_eq!(
        item_state(&fixture.store, id),
        DriftState::Open,
        "nothing before the yes"
    );
    press(&mut console, "y");
    assert_eq!(item_state(&fixture.store, id), DriftState::Accepted);
    let entry = newest_audit(&fixture.store);
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("alice", "drift.accept")
    );
    assert_eq!(
        entry.reason.as_deref(),
        Some("IT is the old name; the LMS catalogue follows in March")
    );
    assert!(entry.after["expires"].is_string(), "{}", entry.after);
}

#[test]
fn fix_asks_a_yes_and_journals_the_owners_value() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    let id = to_employee(&mut console, "E001");
    press(&mut console, "x");
    assert_eq!(
        item_state(&fixture.store, id),
        DriftState::Open,
        "nothing before the yes"
    );
    console.key(key(KeyCode::Enter));
    assert_eq!(item_state(&fixture.store, id), DriftState::Fixing);
    let filter = EventFilter {
        employee_id: Some("E001".into()),
        direction: Some(Direction::HrisToLms),
        ..EventFilter::default()
    };
    let events = fixture.store.events_page(&filter, None, 5).expect("events");
    assert_eq!(events[0].kind, "Fix", "the newest event of E001 is the fix");
    assert_eq!(newest_audit(&fixture.store).action, "drift.fix");
}

#[test]
fn a_learner_without_an_employee_cannot_be_fixed_and_says_why() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    let fixable = to_employee(&mut console, "E004");
    press(&mut console, " ");
    let refused = to_employee(&mut console, "X-77");
    press(&mut console, " x");
    press(&mut console, "y");
    let flash = console.state.flash.clone().expect("a result");
    assert!(flash.error, "{flash:?}");
    assert!(flash.text.contains("1 done"), "{}", flash.text);
    assert!(flash.text.contains("no HRIS record to push"), "{}", flash.text);
    assert_eq!(item_state(&fixture.store, fixable), DriftState::Fixing);
    assert_eq!(item_state(&fixture.store, refused), DriftState::Open);
}

#[test]
fn flag_takes_a_note_and_reaches_the_hris_admin() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    let id = to_employee(&mut console, "E003");
    press(&mut console, "f");
    press(&mut console, "left in March; please close the record");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 80, 24);
    assert!(shown.contains("Really flag drift item"), "{shown}");
    assert!(shown.contains("HRIS admin's queue"), "{shown}");
    press(&mut console, "y");
    assert_eq!(item_state(&fixture.store, id), DriftState::Flagged);
    let handle = console.handle().clone();
    let flags = handle.flags(0, 10).expect("flags");
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].kind, "drift");
    assert_eq!(flags[0].note, "left in March; please close the record");
    assert_eq!(newest_audit(&fixture.store).action, "drift.flag");
}

#[test]
fn run_now_asks_the_engine_unless_a_run_is_under_way() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3R");
    let requested = fixture.store.reconcile_control().expect("control").requested;
    assert!(requested.is_some());
    assert_eq!(newest_audit(&fixture.store).action, "reconcile.request");
    fixture
        .store
        .begin_run("schedule", Duration::from_secs(900))
        .expect("begin")
        .expect("free");
    console.update(hrsync::console::Action::StoreChanged);
    let before = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 100)
        .unwrap()
        .len();
    press(&mut console, "R");
    let flash = console.state.flash.clone().expect("said");
    assert!(flash.text.contains("a run is under way"), "{}", flash.text);
    let after = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 100)
        .unwrap()
        .len();
    assert_eq!(before, after, "nothing requested twice");
    assert!(screen(&mut console, 80, 24).contains("under way since"));
}

#[test]
fn read_only_refuses_every_drift_change() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, true);
    press(&mut console, "3");
    let id = to_employee(&mut console, "E001");
    for keys in ["x", "f", "a", "R"] {
        press(&mut console, keys);
        let flash = console.state.flash.clone().expect("refused");
        assert!(flash.text.contains("read-only"), "{keys}: {}", flash.text);
    }
    assert_eq!(item_state(&fixture.store, id), DriftState::Open);
    assert!(fixture.store.reconcile_control().unwrap().requested.is_none());
}

#[test]
fn an_empty_store_says_no_run_has_completed() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "3");
    let shown = stable_drift(&screen(&mut console, 80, 24));
    assert!(shown.contains("No reconciliation has completed yet."), "{shown}");
    press(&mut console, "jGgx ");
    let _ = screen(&mut console, 20, 5);
}

#[test]
fn the_drift_pane_and_its_overlays_draw_at_any_size() {
    let (fixture, _) = seeded();
    let sizes: Vec<(u16, u16)> = [1, 5, 20, 33, 60, 80, 120, 200]
        .iter()
        .flat_map(|&w| [1u16, 3, 5, 8, 12, 14, 24, 48].map(|h| (w, h)))
        .collect();
    for keys in ["3", "3\n", "3a", "3x", "3 jf", "3ccc"] {
        let mut console = console(&fixture, false);
        for c in keys.chars() {
            match c {
                '\n' => console.key(key(KeyCode::Enter)),
                c => press(&mut console, &c.to_string()),
            }
        }
        for &(width, height) in &sizes {
            let shown = screen(&mut console, width, height);
            assert_eq!(shown.lines().count(), height as usize);
        }
    }
}

/// `A` marks every item of the latest run; one flag then reaches the HRIS admin
/// for each, after one confirmation naming the count and the ids.
#[test]
fn select_all_marks_every_item_and_one_flag_covers_them() {
    let (fixture, _) = seeded();
    let mut console = console(&fixture, false);
    press(&mut console, "3A");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("6 marked (all matching)"), "{shown}");
    press(&mut console, "f");
    press(&mut console, "please review each of these");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("Really flag 6 drift items"), "{shown}");
    assert!(shown.contains("6 drift items: "), "{shown}");
    assert!(console.handle().flags(0, 100).expect("flags").is_empty());
    press(&mut console, "y");
    assert_eq!(console.handle().flags(0, 100).expect("flags").len(), 6);
    let flagged = fixture
        .store
        .audit_page(
            &AuditFilter {
                action: Some("drift.flag".into()),
                ..AuditFilter::default()
            },
            None,
            100,
        )
        .expect("audit");
    assert_eq!(flagged.len(), 6);
    assert!(
        console.state.panes.drift.items.marked.is_empty(),
        "the marks go with the command"
    );
    // Esc lets marks go without acting.
    press(&mut console, "A");
    assert_eq!(console.state.panes.drift.items.marked.len(), 6);
    console.key(key(KeyCode::Esc));
    assert!(console.state.panes.drift.items.marked.is_empty());
}

//! The console's Cutover pane (`0`): the parallel run's business days, the
//! streak and the bar in the title, and the latest day's differences; `x` on an
//! open difference asks for a reason and a yes, then explains it as `hrsync
//! parallel explain` does, audited with the console's operator.

use crate::console_support;

use console_support::{console, fixture, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::state::Mode;
use hrsync::model::parallel::Difference;
use hrsync::store::{AuditFilter, ParallelDay, ParallelRun, Store};
use jiff::civil::date;

fn difference(employee: &str, field: &str, legacy: Option<&str>, hrsync: Option<&str>) -> Difference {
    Difference {
        employee_id: employee.into(),
        field: field.into(),
        legacy: legacy.map(Into::into),
        hrsync: hrsync.map(Into::into),
    }
}

fn keep(store: &Store, day: jiff::civil::Date, differences: Vec<Difference>) {
    let day = ParallelDay {
        day,
        file: format!("legacy-{day}.csv"),
        compared_at: jiff::Timestamp::from_second(1_796_000_000).unwrap(),
        shadow: true,
        legacy_learners: 120,
        hrsync_learners: 121,
        matching: 120 - differences.len() as u64,
        legacy_without_id: 0,
        differences,
    };
    store.transaction(|tx| tx.record_parallel_day(&day)).unwrap();
}

/// A week of the parallel run: Tuesday clean, Wednesday's one difference
/// explained by ana, Thursday not compared, Friday clean, and Monday with
/// three differences, one of them explained.
fn parallel_run(store: &Store) {
    let moved = difference("E007", "department", Some("Sales"), Some("Sales East"));
    let contractor = difference("C-114", "learner", Some("present"), None);
    keep(store, date(2026, 12, 1), Vec::new());
    keep(store, date(2026, 12, 2), vec![contractor.clone()]);
    keep(store, date(2026, 12, 4), Vec::new());
    keep(
        store,
        date(2026, 12, 7),
        vec![
            contractor.clone(),
            moved,
            difference("E012", "groups", Some("Leaders|Onboarding"), Some("Leaders")),
        ],
    );
    store
        .transaction(|tx| tx.add_parallel_explanation(&contractor, "legacy kept contractors", "ana"))
        .unwrap();
}

#[test]
fn the_cutover_pane_shows_the_days_the_streak_and_the_latest_differences() {
    let fixture = fixture();
    parallel_run(&fixture.store);
    let mut console = console(&fixture, false);
    press(&mut console, "0");
    let small = screen(&mut console, 80, 24);
    let tabs = small.lines().nth(2).unwrap();
    assert!(tabs.contains("[0 Cut 2]"), "the tab row at 80 columns: {tabs}");
    assert!(tabs.chars().count() <= 80, "{tabs}");
    assert!(small.contains("streak 0 of 5"), "{small}");
    insta::assert_snapshot!("cutover_80x24", stable(&small));
    let large = screen(&mut console, 160, 48);
    insta::assert_snapshot!("cutover_160x48", stable(&large));
    // Tab cycles onto it too: from Files (9) to Cutover (0) and round to Events (1).
    press(&mut console, "9");
    console.key(key(KeyCode::Tab));
    assert_eq!(console.state.pane, hrsync::console::state::Pane::Cutover);
    console.key(key(KeyCode::Tab));
    assert_eq!(console.state.pane, hrsync::console::state::Pane::Events);
}

#[test]
fn x_explains_a_difference_from_the_keyboard_with_a_reason_and_a_yes() {
    let fixture = fixture();
    parallel_run(&fixture.store);
    let mut console = console(&fixture, false);
    press(&mut console, "0");
    // The first difference is explained already: `x` says by whom.
    press(&mut console, "x");
    let flash = console.state.flash.clone().expect("a word on the key");
    assert!(flash.text.contains("already explained by ana"), "{flash:?}");
    // The second (E007's department) is open: a reason, then a yes.
    press(&mut console, "j");
    press(&mut console, "x");
    assert!(matches!(console.state.mode, Mode::Prompt { .. }), "x asks why");
    console.key(key(KeyCode::Enter));
    assert!(
        matches!(console.state.mode, Mode::Prompt { .. }),
        "an empty reason is refused"
    );
    press(&mut console, "legacy lags a day");
    console.key(key(KeyCode::Enter));
    let confirm = screen(&mut console, 100, 30);
    assert!(confirm.contains("legacy Sales · hrsync Sales East"), "{confirm}");
    assert!(confirm.contains("reason: legacy lags a day"), "{confirm}");
    press(&mut console, "y");
    let flash = console.state.flash.clone().expect("what the yes did");
    assert!(!flash.error, "{flash:?}");
    let shown = screen(&mut console, 120, 30);
    assert!(shown.contains("✓ alice: legacy lags a day"), "{shown}");
    assert!(shown.contains("3, 2 explained"), "{shown}");

    let explained = fixture.store.parallel_explanations().unwrap();
    let last = explained.last().unwrap();
    assert_eq!(
        (last.employee_id.as_str(), last.field.as_str(), last.by.as_str()),
        ("E007", "department", "alice")
    );
    let audit = fixture
        .store
        .audit_page(&AuditFilter::default(), None, 10_000)
        .unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "parallel.explain")
        .expect("audited");
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.employee_id.as_deref(),
            entry.reason.as_deref()
        ),
        ("alice", Some("E007"), Some("legacy lags a day"))
    );
}

#[test]
fn a_read_only_console_refuses_to_explain() {
    let fixture = fixture();
    parallel_run(&fixture.store);
    let mut console = console(&fixture, true);
    press(&mut console, "0");
    press(&mut console, "j");
    press(&mut console, "x");
    let flash = console.state.flash.clone().expect("a refusal");
    assert!(flash.text.contains("read-only"), "{flash:?}");
    assert!(matches!(console.state.mode, Mode::Normal));
    assert_eq!(fixture.store.parallel_explanations().unwrap().len(), 1);
}

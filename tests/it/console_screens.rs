//! Every pane of the console on a real store, as insta snapshots of a ratatui
//! TestBackend at 80×24 (the SSH minimum) and 160×48. Times and paths are filtered.

use crate::console_support;

use console_support::{console, fixture, key, press, screen, stable};
use crossterm::event::KeyCode;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snap(name: &str, setup: impl Fn(&mut hrsync::console::Console)) {
    snap_on(&fixture(), name, setup);
}

fn snap_on(fixture: &console_support::Fixture, name: &str, setup: impl Fn(&mut hrsync::console::Console)) {
    for (width, height) in SIZES {
        let mut console = console(fixture, false);
        setup(&mut console);
        let shown = stable(&screen(&mut console, width, height));
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), shown);
    }
}

#[test]
fn the_header_in_an_lms_outage() {
    let fixture = fixture();
    console_support::publish_outage(&fixture.store);
    snap_on(&fixture, "outage", |_| {});
    snap_on(&fixture, "outage_failed", |c| press(c, "2"));
}

#[test]
fn events_pane() {
    snap("events", |_| {});
}

#[test]
fn events_pane_filtered_by_employee() {
    snap("events_employee", |c| {
        press(c, "e");
        press(c, "E004");
        c.key(key(KeyCode::Enter));
    });
}

#[test]
fn event_detail_shows_raw_mapped_and_the_write() {
    snap("event_detail", |c| {
        // The newest applied event: walk down to the first "applied" row.
        for _ in 0..40 {
            let applied = c
                .state
                .panes
                .events
                .list
                .selected_row()
                .is_some_and(|e| e.status == hrsync::model::EventStatus::Applied);
            if applied {
                break;
            }
            press(c, "j");
        }
        c.key(key(KeyCode::Enter));
    });
}

#[test]
fn failed_retries_pane() {
    snap("failed", |c| press(c, "2"));
}

#[test]
fn bulk_retry_asks_first() {
    snap("failed_bulk_confirm", |c| {
        press(c, "2 j r");
    });
}

#[test]
fn held_pane() {
    snap("held", |c| press(c, "7"));
}

#[test]
fn contract_pane() {
    snap("contract", |c| press(c, "5"));
}

#[test]
fn audit_pane() {
    snap("audit", |c| press(c, "6"));
}

#[test]
fn drift_pane_before_any_run() {
    snap("drift", |c| press(c, "3"));
}

#[test]
fn help_lists_every_key() {
    snap("help", |c| press(c, "?"));
}

#[test]
fn skip_asks_for_a_reason() {
    snap("skip_reason", |c| {
        press(c, "2s");
        press(c, "duplicate of E004's later change");
    });
}

#[test]
fn credentials_pane_shows_bands_and_what_the_hris_lacks() {
    use hrsync::model::Direction;
    use hrsync::store::{EventFilter, NewCredential};
    let fixture = fixture();
    let today = jiff::Zoned::now().date();
    let day = |n: i64| (today + jiff::Span::new().days(n)).to_string();
    let filter = EventFilter {
        direction: Some(Direction::LmsToHris),
        ..Default::default()
    };
    let completions = fixture.store.events_page(&filter, None, 10).unwrap();
    assert!(completions.len() >= 5, "the fixture has completions");
    fixture
        .store
        .transaction(|tx| {
            for (i, (event, days)) in completions.iter().zip([-5, 10, 45, 80, 200]).enumerate() {
                let name = if i % 2 == 0 {
                    "First Aid Certificate"
                } else {
                    "Forklift Licence"
                };
                tx.record_credential(&NewCredential {
                    employee_id: &event.employee_id,
                    name,
                    number: Some("FA-000001"),
                    issued: &day(days - 365),
                    expires: &day(days),
                    event_id: event.id,
                })?;
                if i % 2 == 0 {
                    tx.credential_in_hris(event.id)?;
                }
            }
            Ok(())
        })
        .unwrap();
    let dates = regex::Regex::new(r"\d{4}-\d{2}-\d{2}").unwrap();
    for (width, height) in SIZES {
        let mut console = console(&fixture, false);
        press(&mut console, "8");
        let shown = stable(&screen(&mut console, width, height));
        assert!(
            shown.contains("expired 1 · within 30 days 1 · 60 1 · 90 1 · not in the HRIS 2"),
            "{shown}"
        );
        let shown = dates.replace_all(&shown, "YYYY-MM-DD").into_owned();
        insta::assert_snapshot!(format!("credentials_{width}x{height}"), shown);
    }
}

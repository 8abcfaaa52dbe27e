//! The console in shadow mode: the header says SHADOW, and the Events pane shows
//! each shadowed event with the write it would have made.

use crate::console_support;

use console_support::{console, fixture, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::engine::apply::shadow::PlannedWrite;
use hrsync::engine::operator::status::EngineStatus;
use hrsync::model::{EventId, EventStatus};
use hrsync::store::Shadow;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

#[test]
fn the_header_says_shadow_and_events_show_their_planned_writes() {
    let fixture = fixture();
    let later = Timestamp::now() + SignedDuration::from_secs(3600);
    let heads: Vec<EventId> = (fixture.store.ready(later, 100).expect("ready"))
        .iter()
        .filter(|e| e.status == EventStatus::Pending)
        .map(|e| e.id)
        .take(2)
        .collect();
    assert_eq!(heads.len(), 2, "the fixture has pending heads");
    let after: Map<String, Value> = [("job_title".to_string(), json!("Manager"))]
        .into_iter()
        .collect();
    let before: Map<String, Value> = [("job_title".to_string(), json!("Clerk"))].into_iter().collect();
    let planned = PlannedWrite::new(
        "update",
        Some("u-7".into()),
        &before,
        &after,
        vec!["Leaders".into()],
    );
    for id in &heads {
        fixture
            .store
            .transaction(|tx| tx.mark_shadowed(*id, &planned.summary(), &planned.with_mapped(None)))
            .expect("shadowed");
    }
    fixture
        .store
        .transaction(|tx| tx.enter_shadow())
        .expect("in shadow mode");
    let shown = fixture.store.event(heads[0]).unwrap().unwrap().event;
    assert_eq!(
        (shown.status, shown.note.as_deref()),
        (
            EventStatus::Shadowed,
            Some("would update learner u-7: fields job_title; add groups Leaders")
        )
    );

    let mut normal = console(&fixture, false);
    assert!(
        !screen(&mut normal, 80, 24).contains("SHADOW"),
        "not in shadow mode yet"
    );
    let mut status = EngineStatus::read(&fixture.store).unwrap().unwrap();
    status.shadow = true;
    status.publish(&fixture.store).unwrap();
    let mut console = console(&fixture, false);
    let shown = screen(&mut console, 80, 24);
    assert!(shown.lines().next().unwrap().contains("SHADOW"), "{shown}");
    insta::assert_snapshot!("shadow_events_80x24", stable(&shown));
    insta::assert_snapshot!("shadow_events_160x48", stable(&screen(&mut console, 160, 48)));
}

#[test]
fn leaving_shadow_mode_from_the_command_line_asks_why_and_for_a_yes() {
    let fixture = fixture();
    fixture
        .store
        .transaction(|tx| tx.enter_shadow())
        .expect("in shadow mode");
    let mut console = console(&fixture, false);
    press(&mut console, ":shadow leave");
    console.key(key(KeyCode::Enter));
    assert!(screen(&mut console, 100, 30).contains("Why leave shadow mode"));
    press(&mut console, "signed off");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("Really leave shadow mode?"), "{shown}");
    assert!(fixture.store.shadow_mode().unwrap().is_on(), "not before the yes");
    press(&mut console, "y");
    let left = fixture.store.shadow_mode().unwrap().left.expect("left");
    assert_eq!((left.by.as_str(), left.reason.as_str()), ("alice", "signed off"));
    let entry = &fixture.store.audit_page(&Default::default(), None, 1).unwrap()[0];
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("alice", "mode.live")
    );
    // A second time, the console says why not.
    press(&mut console, ":shadow leave again");
    console.key(key(KeyCode::Enter));
    press(&mut console, "y");
    let shown = screen(&mut console, 100, 30);
    assert!(shown.contains("left shadow mode"), "{shown}");
}

//! The console in shadow mode: the header says SHADOW, and the Events pane shows
//! each shadowed event with the write it would have made.

use crate::console_support;

use console_support::{console, fixture, screen, stable};
use hrsync::engine::apply::shadow::PlannedWrite;
use hrsync::engine::operator::status::EngineStatus;
use hrsync::model::{EventId, EventStatus};
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
}

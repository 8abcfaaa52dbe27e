//! The store's conformance suite for reconciliation runs, drift items and flags,
//! the HRIS export files and the export taken, and the LMS feed's tables: each
//! check runs on SQLite and on PostgreSQL (`conformance!`).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hrsync::model::files::{ExportFile, FileCounts, FileState, STALE};
use hrsync::model::{DriftCategory, DriftState, RunOutcome};
use hrsync::store::{
    DriftItem, DriftItems, ExportFiles, FeedKeys, Finding, FlagQueue, LearnerFeed, ReconcileRuns, Toward,
};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::common::backends::{Backend, conformance};

conformance!(
    one_run_at_a_time_across_engines,
    a_silent_run_is_failed_and_another_starts,
    a_finished_run_counts_its_items_by_category,
    items_page_by_category_and_match_text_in_any_case,
    an_accepted_difference_stays_out_while_its_values_stay,
    a_failed_run_says_why_and_is_not_the_latest_complete,
    flags_queue_oldest_first_across_engines,
    an_export_file_is_one_row_by_name_and_content,
    export_files_page_by_id_and_count_by_state,
    the_export_taken_is_kept_per_employee,
    a_learner_counts_a_change_only_when_it_differs,
    user_names_are_one_learners_in_any_case,
    groups_and_members_snapshot_in_byte_order,
);

const LONG: Duration = Duration::from_secs(600);

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
        learner_id: Some(format!("L{employee}")),
        field: field.into(),
        hris_value: hris.map(String::from),
        lms_value: lms.map(String::from),
        detail: json!({ "record": { "id": employee } }),
    }
}

fn started(store: &impl ReconcileRuns) -> i64 {
    store
        .begin_run("operator", LONG)
        .unwrap()
        .expect("no run under way")
}

fn one_run_at_a_time_across_engines(backend: &impl Backend) {
    const ENGINES: usize = 4;
    let stores: Vec<_> = (0..ENGINES).map(|_| Arc::new(backend.open())).collect();
    for round in 0..3 {
        let start = Arc::new(Barrier::new(ENGINES));
        let racers: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, start) = (store.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    // The run under way, as the others are told of it.
                    (store.begin_run("schedule", LONG).unwrap())
                        .map_err(|running| (running.id, running.outcome, running.trigger))
                })
            })
            .collect();
        let answers: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let begun: Vec<i64> = answers.iter().filter_map(|a| a.as_ref().ok().copied()).collect();
        assert_eq!(begun.len(), 1, "round {round}: {answers:?}");
        for answer in &answers {
            if let Err(running) = answer {
                let expected = (begun[0], RunOutcome::Running, "schedule".to_string());
                assert_eq!(running, &expected, "the others are told of the run under way");
            }
        }
        let done = stores[round].finish_run(begun[0], (0, 0, 0), &[]).unwrap();
        assert_eq!(done.outcome, RunOutcome::Complete);
    }
}

fn a_silent_run_is_failed_and_another_starts(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let first = started(&a);
    a.beat_run(first).unwrap();
    assert_eq!(
        b.begin_run("console", LONG).unwrap().map_err(|r| r.id),
        Err(first)
    );
    // With no beat for longer than `stale_after`, its process is taken as gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        match b.begin_run("console", Duration::from_millis(50)).unwrap() {
            Ok(id) => break id,
            Err(run) => assert_eq!(run.id, first),
        }
        assert!(Instant::now() < deadline, "the silent run was never given up");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(second > first);
    let gone = a.reconcile_run(first).unwrap().unwrap();
    assert_eq!(gone.outcome, RunOutcome::Failed);
    assert!(gone.finished_at.is_some());
    assert!(
        gone.error.as_deref().unwrap().contains("process ended"),
        "{gone:?}"
    );
    let now = b.reconcile_run(second).unwrap().unwrap();
    assert_eq!(
        (now.outcome, now.trigger.as_str()),
        (RunOutcome::Running, "console")
    );
}

fn a_finished_run_counts_its_items_by_category(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let id = started(&a);
    let findings = [
        finding(
            DriftCategory::FieldDrift,
            "1",
            "job_title",
            Some("Nurse"),
            Some("Clerk"),
        ),
        finding(DriftCategory::FieldDrift, "2", "email", None, Some("b@x.example")),
        finding(DriftCategory::EmployeeWithoutLearner, "3", "", None, None),
    ];
    let run = b.finish_run(id, (10, 9, 4), &findings).unwrap();
    assert_eq!(run.id, id);
    assert_eq!(run.outcome, RunOutcome::Complete);
    assert_eq!(
        (run.employees, run.learners, run.completions, run.accepted),
        (10, 9, 4, 0)
    );
    assert_eq!(run.count(DriftCategory::FieldDrift), 2);
    assert_eq!(run.count(DriftCategory::EmployeeWithoutLearner), 1);
    assert_eq!(
        run.counts.len(),
        DriftCategory::ALL.len(),
        "every category, zero included"
    );
    assert_eq!(run.total(), 3);
    assert!(run.finished_at.unwrap() >= run.started_at);

    let later = started(&b);
    let runs = a.reconcile_runs(10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [later, id],
        "newest first"
    );
    assert_eq!(a.reconcile_runs(1).unwrap().len(), 1);
    assert_eq!(a.latest_complete_run().unwrap(), Some(run.clone()));
    assert_eq!(a.reconcile_run(id).unwrap(), Some(run));
    assert_eq!(a.reconcile_run(later + 100).unwrap(), None);

    let items = a.drift_items_page(id, None, 0, 10).unwrap();
    assert_eq!(items.len(), 3);
    let email = items.iter().find(|i| i.field == "email").unwrap();
    assert_eq!(
        (
            email.hris_value.as_deref(),
            email.lms_value.as_deref(),
            email.state
        ),
        (None, Some("b@x.example"), DriftState::Open)
    );
    assert_eq!(email.learner_id.as_deref(), Some("L2"));
    assert_eq!(email.detail, json!({ "record": { "id": "2" } }));
    assert_eq!(a.drift_item(email.id).unwrap().as_ref(), Some(email));

    b.set_drift_state(email.id, DriftState::Flagged, Some("handed to HR"))
        .unwrap();
    let flagged = a.drift_item(email.id).unwrap().unwrap();
    assert_eq!(
        (flagged.state, flagged.note.as_deref()),
        (DriftState::Flagged, Some("handed to HR"))
    );
}

fn items_page_by_category_and_match_text_in_any_case(backend: &impl Backend) {
    let store = backend.open();
    let id = started(&store);
    let findings = [
        finding(DriftCategory::WrongGroups, "9", "Onboarding", None, None),
        finding(
            DriftCategory::FieldDrift,
            "1",
            "job_title",
            Some("Ada Lovelace"),
            Some("ada"),
        ),
        finding(DriftCategory::EmployeeWithoutLearner, "2", "", None, None),
        finding(
            DriftCategory::FieldDrift,
            "3",
            "jobxtitle",
            Some("Grace"),
            Some("grace"),
        ),
        finding(
            DriftCategory::FieldDrift,
            "4",
            "email",
            Some("100%"),
            Some("1000"),
        ),
    ];
    store.finish_run(id, (5, 5, 0), &findings).unwrap();

    // By category (byte order, as SQLite sorts), then as found.
    let all = store.drift_items_page(id, None, 0, 10).unwrap();
    let order: Vec<(&str, &str)> = all
        .iter()
        .map(|i| (i.category.as_str(), i.employee_id.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("employee_without_learner", "2"),
            ("field_drift", "1"),
            ("field_drift", "3"),
            ("field_drift", "4"),
            ("wrong_groups", "9"),
        ]
    );
    let page = store
        .drift_items_page(id, Some(DriftCategory::FieldDrift), 1, 1)
        .unwrap();
    assert_eq!(
        page.iter().map(|i| i.employee_id.as_str()).collect::<Vec<_>>(),
        ["3"]
    );
    assert_eq!(
        store
            .drift_items_count(id, Some(DriftCategory::FieldDrift), None)
            .unwrap(),
        3
    );
    assert_eq!(store.drift_items_count(id, None, None).unwrap(), 5);

    let matching = |text: &str| -> Vec<String> {
        let found = store.drift_items_matching(id, None, Some(text), 0, 10).unwrap();
        assert_eq!(
            store.drift_items_count(id, None, Some(text)).unwrap(),
            found.len(),
            "{text}"
        );
        found.into_iter().map(|i| i.employee_id).collect()
    };
    assert_eq!(matching("LOVELACE"), ["1"], "any case");
    assert_eq!(matching("l9"), ["9"], "the learner id");
    assert_eq!(
        matching("job_"),
        ["1"],
        "an underscore is itself, not any character"
    );
    assert_eq!(matching("0%"), ["4"], "a percent sign is itself");
    assert!(matching("nobody").is_empty());
    let only = store
        .drift_items_matching(id, Some(DriftCategory::FieldDrift), Some("grace"), 0, 10)
        .unwrap();
    assert_eq!(only.len(), 1);
}

fn an_accepted_difference_stays_out_while_its_values_stay(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let title = |lms| {
        finding(
            DriftCategory::FieldDrift,
            "7",
            "job_title",
            Some("Nurse"),
            Some(lms),
        )
    };
    let no_email = finding(DriftCategory::FieldDrift, "8", "email", None, Some("x@y.example"));
    let first = started(&a);
    a.finish_run(first, (2, 2, 0), &[title("Clerk"), no_email.clone()])
        .unwrap();
    let items = a.drift_items_page(first, None, 0, 10).unwrap();
    let pick =
        |employee: &str| -> DriftItem { items.iter().find(|i| i.employee_id == employee).unwrap().clone() };
    b.accept_drift(&pick("7"), "the LMS keeps its own titles", None, "ops@x")
        .unwrap();
    b.accept_drift(&pick("8"), "no email yet", None, "ops@x").unwrap();
    let accepted = a.drift_item(pick("7").id).unwrap().unwrap();
    assert_eq!(
        (accepted.state, accepted.note.as_deref()),
        (DriftState::Accepted, Some("the LMS keeps its own titles"))
    );

    let second = started(&b);
    let run = a
        .finish_run(second, (2, 2, 0), &[title("Clerk"), no_email.clone()])
        .unwrap();
    assert_eq!(
        (run.accepted, run.total()),
        (2, 0),
        "the same values, nulls included, stay out"
    );

    let third = started(&b);
    let run = a
        .finish_run(third, (2, 2, 0), &[title("Porter"), no_email.clone()])
        .unwrap();
    assert_eq!(
        (run.accepted, run.total()),
        (1, 1),
        "a changed value is reported again"
    );

    // Accepted again with an expiry already past: the newer acceptance replaces
    // the older, and an expired one no longer holds.
    let reported = a.drift_items_page(third, None, 0, 10).unwrap();
    let past = Timestamp::now() - Duration::from_secs(3600);
    b.accept_drift(&reported[0], "for a while", Some(past), "ops@x")
        .unwrap();
    let fourth = started(&b);
    let run = a
        .finish_run(fourth, (2, 2, 0), &[title("Porter"), no_email])
        .unwrap();
    assert_eq!(
        (run.accepted, run.total()),
        (1, 1),
        "an expired acceptance holds no more"
    );
    let later = Timestamp::now() + Duration::from_secs(3600);
    b.accept_drift(&reported[0], "for a while", Some(later), "ops@x")
        .unwrap();
    let fifth = started(&b);
    let run = a.finish_run(fifth, (2, 2, 0), &[title("Porter")]).unwrap();
    assert_eq!((run.accepted, run.total()), (1, 0));
}

fn a_failed_run_says_why_and_is_not_the_latest_complete(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let complete = started(&a);
    let complete = a.finish_run(complete, (1, 1, 0), &[]).unwrap();
    let failing = started(&b);
    let failed = b.fail_run(failing, "the LMS answered 503").unwrap();
    assert_eq!(failed.outcome, RunOutcome::Failed);
    assert_eq!(failed.error.as_deref(), Some("the LMS answered 503"));
    assert!(failed.finished_at.is_some());
    assert_eq!(failed.total(), 0);
    assert_eq!(a.latest_complete_run().unwrap().map(|r| r.id), Some(complete.id));
    assert_eq!(
        a.reconcile_runs(1).unwrap()[0].id,
        failing,
        "the newest run is the failed one"
    );
    assert!(
        a.begin_run("operator", LONG).unwrap().is_ok(),
        "a failed run is not under way"
    );
}

fn flags_queue_oldest_first_across_engines(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let before = Timestamp::now() - Duration::from_secs(5);
    let first = a
        .add_flag(
            "drift",
            Some("7"),
            "job_title differs",
            "check the title",
            &json!({ "item": 1 }),
            "ops@x",
        )
        .unwrap();
    let second = b
        .add_flag(
            "duplicate",
            None,
            "two Anas",
            "same email",
            &json!(["1", "2"]),
            "ops@y",
        )
        .unwrap();
    let third = a
        .add_flag("drift", Some("9"), "s", "n", &Value::Null, "ops@x")
        .unwrap();
    assert!(first < second && second < third);

    let flags = b.flags(0, 2).unwrap();
    assert_eq!(flags.iter().map(|f| f.id).collect::<Vec<_>>(), [first, second]);
    let (one, two) = (&flags[0], &flags[1]);
    assert_eq!(
        (
            one.kind.as_str(),
            one.employee_id.as_deref(),
            one.subject.as_str(),
            one.note.as_str()
        ),
        ("drift", Some("7"), "job_title differs", "check the title")
    );
    assert_eq!(
        (one.actor.as_str(), &one.detail),
        ("ops@x", &json!({ "item": 1 }))
    );
    assert!(one.at >= before && one.at <= Timestamp::now() + Duration::from_secs(5));
    assert_eq!(
        (two.employee_id.as_deref(), &two.detail),
        (None, &json!(["1", "2"]))
    );
    assert_eq!(
        b.flags(second, 10)
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect::<Vec<_>>(),
        [third]
    );
}

fn file(name: &str, sha: &str, modified_s: i64, decided_s: i64, state: FileState) -> ExportFile {
    ExportFile {
        id: 0,
        name: name.into(),
        sha256: sha.into(),
        size: 1234,
        modified: Timestamp::from_second(modified_s).unwrap(),
        decided_at: Timestamp::from_second(decided_s).unwrap(),
        state,
        reason: None,
        counts: FileCounts {
            rows: 10,
            rejected: 1,
            inserted: 2,
            updated: 3,
            missing: 4,
            unchanged: 0,
        },
    }
}

fn an_export_file_is_one_row_by_name_and_content(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let held = ExportFile {
        reason: Some("many fewer rows".into()),
        ..file("hris.csv", "aa", 1_000, 2_000, FileState::Held)
    };
    let id = a.record_file(&held).unwrap();
    assert_eq!(
        b.export_file("hris.csv", "aa").unwrap(),
        Some(ExportFile { id, ..held.clone() })
    );

    // The same file again: its decision is replaced, its row kept.
    let taken = ExportFile {
        reason: None,
        counts: FileCounts {
            unchanged: 9,
            ..held.counts
        },
        ..file("hris.csv", "aa", 1_000, 3_000, FileState::Taken)
    };
    assert_eq!(b.record_file(&taken).unwrap(), id);
    assert_eq!(
        a.export_file_by_id(id).unwrap(),
        Some(ExportFile { id, ..taken.clone() })
    );
    // The same name with another content is another file.
    let other = a
        .record_file(&file("hris.csv", "bb", 5_000, 4_000, FileState::Refused))
        .unwrap();
    assert_ne!(other, id);
    assert_eq!(a.export_file("hris.csv", "cc").unwrap(), None);
    assert_eq!(a.export_file_by_id(other + 100).unwrap(), None);

    // The last taken is by the file's own time, not by when it was decided.
    let newer = a
        .record_file(&file("b.csv", "cc", 2_000, 1_500, FileState::Taken))
        .unwrap();
    assert_eq!(b.last_taken_file().unwrap().map(|f| f.id), Some(newer));
    let files = b.export_files(10).unwrap();
    assert_eq!(
        files.iter().map(|f| f.id).collect::<Vec<_>>(),
        [other, id, newer],
        "newest decision first"
    );
    assert_eq!(b.export_files(1).unwrap().len(), 1);
}

fn export_files_page_by_id_and_count_by_state(backend: &impl Backend) {
    let store = backend.open();
    let states = [
        FileState::Taken,
        FileState::Refused,
        FileState::Refused,
        FileState::Held,
        FileState::Confirmed,
        FileState::Taken,
    ];
    let ids: Vec<i64> = states
        .iter()
        .enumerate()
        .map(|(n, &state)| {
            let reason = (n == 2).then(|| format!("{STALE}: exported before the last one taken"));
            let f = ExportFile {
                reason,
                ..file(&format!("f{n}.csv"), "x", n as i64, n as i64, state)
            };
            store.record_file(&f).unwrap()
        })
        .collect();
    let page = |from, toward, limit| -> Vec<i64> {
        (store.export_files_window(from, toward, limit).unwrap().iter())
            .map(|f| f.id)
            .collect()
    };
    assert_eq!(page(None, Toward::Older, 2), [ids[5], ids[4]]);
    assert_eq!(page(Some(ids[4]), Toward::Older, 2), [ids[3], ids[2]]);
    assert_eq!(
        page(None, Toward::Newer, 2),
        [ids[1], ids[0]],
        "newest first, from the oldest"
    );
    assert_eq!(page(Some(ids[1]), Toward::Newer, 3), [ids[4], ids[3], ids[2]]);
    assert!(page(Some(ids[0]), Toward::Older, 5).is_empty());

    let totals = store.export_file_totals().unwrap();
    assert_eq!(
        (
            totals.taken,
            totals.refused,
            totals.stale,
            totals.held,
            totals.confirmed
        ),
        (2, 2, 1, 1, 1)
    );
    assert_eq!(totals.all(), 6);
}

fn record(id: &str, name: &str) -> Map<String, Value> {
    json!({ "id": id, "name": name }).as_object().unwrap().clone()
}

fn the_export_taken_is_kept_per_employee(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert!(a.exported_digests().unwrap().is_empty());
    assert_eq!(a.exported_employee("1").unwrap(), None);
    let file = a
        .record_file(&file("hris.csv", "aa", 1, 1, FileState::Taken))
        .unwrap();
    for (id, name) in [("2", "Bo"), ("10", "Cy"), ("1", "Ada")] {
        a.put_exported(id, &format!("d{id}"), &record(id, name), file)
            .unwrap();
    }
    b.put_exported("2", "d2b", &record("2", "Bo Brown"), file)
        .unwrap();
    b.remove_exported("10").unwrap();

    let digests = a.exported_digests().unwrap();
    assert_eq!(digests.len(), 2);
    assert_eq!((digests["1"].as_str(), digests["2"].as_str()), ("d1", "d2b"));
    assert_eq!(a.exported_employee("2").unwrap(), Some(record("2", "Bo Brown")));
    assert_eq!(a.exported_employee("10").unwrap(), None);
    assert_eq!(
        a.exported_employees().unwrap(),
        [record("1", "Ada"), record("2", "Bo Brown")],
        "by employee id"
    );
}

fn a_learner_counts_a_change_only_when_it_differs(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let outbox = a.feed_outbox().unwrap();
    assert_eq!(
        (outbox.changes, outbox.written, outbox.written_at, outbox.uploaded),
        (0, 0, None, 0)
    );
    let ada = json!({ "userName": "ada@x.example", "active": true });
    let keys = (Some("ext-1"), "ada@x.example", Some("0001"));
    a.put_feed_learner("E1", keys, &ada).unwrap();
    b.put_feed_learner("E1", keys, &ada).unwrap();
    assert_eq!(a.feed_outbox().unwrap().changes, 1, "the same again is no change");
    let away = json!({ "userName": "ada@x.example", "active": false });
    b.put_feed_learner("E1", keys, &away).unwrap();
    assert_eq!(a.feed_outbox().unwrap().changes, 2);
    assert_eq!(a.feed_learner("E1").unwrap(), Some(away.clone()));
    assert_eq!(a.feed_learner("E2").unwrap(), None);
    assert_eq!(
        a.feed_learner_by(FeedKeys::ExternalId, "ext-1").unwrap(),
        Some(("E1".to_string(), away.clone()))
    );
    assert_eq!(
        a.feed_learner_by(FeedKeys::EmployeeNumber, "0001")
            .unwrap()
            .map(|(id, _)| id)
            .as_deref(),
        Some("E1")
    );
    assert_eq!(a.feed_learner_by(FeedKeys::EmployeeNumber, "0002").unwrap(), None);

    let at = Timestamp::from_second(1_700_000_000).unwrap();
    b.feed_written(2, at).unwrap();
    a.feed_uploaded(1).unwrap();
    let outbox = b.feed_outbox().unwrap();
    assert_eq!(
        (outbox.changes, outbox.written, outbox.written_at, outbox.uploaded),
        (2, 2, Some(at), 1)
    );
}

fn user_names_are_one_learners_in_any_case(backend: &impl Backend) {
    let store = backend.open();
    let ada = json!({ "userName": "ada@x.example" });
    store
        .put_feed_learner("E1", (None, "ada@x.example", None), &ada)
        .unwrap();
    let taken = store.put_feed_learner("E2", (None, "ADA@x.example", None), &json!({ "userName": "ADA" }));
    assert!(taken.is_err(), "a userName is one learner's, in any case");
    let found = store
        .feed_learner_by(FeedKeys::UserName, "Ada@X.Example")
        .unwrap();
    assert_eq!(found, Some(("E1".to_string(), ada)));
    assert_eq!(
        store.feed_learner("E2").unwrap(),
        None,
        "the refused learner left nothing"
    );
    assert_eq!(store.feed_outbox().unwrap().changes, 1, "nor a change");
}

fn groups_and_members_snapshot_in_byte_order(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    // Byte order: digits, then capitals, then the underscore, then small letters.
    for id in ["e0", "E_2", "E1"] {
        let user = format!("{id}@x.example");
        a.put_feed_learner(id, (None, &user, None), &json!({ "userName": user }))
            .unwrap();
    }
    a.put_feed_group("Onboarding").unwrap();
    b.put_feed_group("Onboarding").unwrap();
    b.put_feed_group("Empty").unwrap();
    assert_eq!(
        a.feed_outbox().unwrap().changes,
        5,
        "a group made twice is one change"
    );
    assert!(b.feed_group_exists("Onboarding").unwrap());
    assert!(
        !b.feed_group_exists("onboarding").unwrap(),
        "group names mind case"
    );

    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    a.add_feed_members("Onboarding", &ids(&["e0", "E_2", "E1"]))
        .unwrap();
    b.add_feed_members("Onboarding", &ids(&["E1"])).unwrap();
    assert_eq!(
        a.feed_outbox().unwrap().changes,
        6,
        "members already in change nothing"
    );
    b.remove_feed_members("Onboarding", &ids(&["E_2", "nobody"]))
        .unwrap();
    a.remove_feed_members("Onboarding", &ids(&["E_2"])).unwrap();
    assert_eq!(a.feed_outbox().unwrap().changes, 7);
    assert!(
        a.add_feed_members("Onboarding", &ids(&["nobody"])).is_err(),
        "a member is a learner"
    );

    let snapshot = b.feed_snapshot().unwrap();
    assert_eq!(snapshot.changes, 7);
    assert_eq!(
        snapshot
            .learners
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["E1", "E_2", "e0"]
    );
    assert_eq!(snapshot.learners[1].1["userName"], "E_2@x.example");
    assert_eq!(snapshot.groups["Onboarding"], ["E1", "e0"]);
    assert!(snapshot.groups["Empty"].is_empty());
    assert_eq!(snapshot.groups.len(), 2);
}

//! The contract review's impact preview, in a console beside a real engine run
//! against the sandbox: Ctrl-S in the contract editor shows the diff with what
//! the edit does to the HRIS population, counted from the list the engine keeps
//! (or pulls afresh); an edit that deactivates more than `[safety]` allows is
//! marked and applied only once the operator types the word it asks for.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common;
use crate::console_support;

use common::{Options, World, start};
use console_support::{ctrl, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::{Console, ConsoleOptions};
use hrsync::engine::operator::handle::{EngineHandle, Population, PulledBy};
use hrsync::engine::operator::status::EngineStatus;
use hrsync::store::{AuditFilter, ControlPlane};
use serde_json::Value;

const IT_DEPT: &str = r#""Information Technology" = "IT Dept""#;
const IT_TECH: &str = r#""Information Technology" = "Tech""#;
const SCOPE: &str = r#"in = ["Full-Time", "Part-Time"]"#;
const PART_TIME: &str = r#"in = ["Part-Time"]"#;

/// The world settled, and a console on its engine acting as carol.
async fn world_and_console() -> (World, Console) {
    let world = start(Options::default()).await;
    world.settle().await;
    let handle =
        EngineHandle::in_process(world.engine(), Some(common::CONTRACT.to_string())).with_operator("carol");
    let console = Console::new(handle, &options());
    (world, console)
}

fn options() -> ConsoleOptions {
    ConsoleOptions {
        read_only: false,
        no_color: true,
    }
}

/// Opens the editor on the contract in force and replaces the line `from` by `to`
/// as an operator would: down to it, to its end, erased, typed anew.
fn edit_line(console: &mut Console, from: &str, to: &str) {
    let at = (common::CONTRACT.lines())
        .position(|l| l == from)
        .unwrap_or_else(|| panic!("the shipped contract has the line {from}"));
    press(console, "5e");
    for _ in 0..at {
        console.key(key(KeyCode::Down));
    }
    console.key(key(KeyCode::End));
    for _ in 0..from.chars().count() {
        console.key(key(KeyCode::Backspace));
    }
    press(console, to);
}

/// The rows below the header and the tabs (the engine's live figures move there),
/// and whether the engine's own reconciliation had pulled the list yet left out.
fn body(shown: &str) -> String {
    let rows = stable(&shown.lines().skip(3).collect::<Vec<_>>().join("\n"));
    let pull = regex::Regex::new("kept from the last pull|pulled for this review").unwrap();
    pull.replace_all(&rows, "[kept or pulled]").into_owned()
}

fn newest_audit(world: &World) -> hrsync::model::AuditEntry {
    (world
        .store()
        .audit_page(&AuditFilter::default(), None, 1)
        .unwrap())
    .pop()
    .expect("an audit entry")
}

/// The employees under the shipped contract for whom `keep` holds.
async fn learners_where(world: &World, keep: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    (world.hris().await.iter())
        .filter(|(_, e)| common::in_scope_and_employed(e) && keep(e))
        .map(|(id, _)| id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_shows_the_impact_beside_the_diff_at_both_sizes() {
    let (world, mut console) = world_and_console().await;
    edit_line(&mut console, IT_DEPT, IT_TECH);
    console.key(ctrl('s'));
    let wide = screen(&mut console, 160, 48);
    assert!(wide.contains("IMPACT ON THE HRIS POPULATION"), "{wide}");
    assert!(wide.contains("\"IT Dept\" → \"Tech\""), "{wide}");
    insta::assert_snapshot!("preview_department_160x48", body(&wide));
    let narrow = screen(&mut console, 80, 24);
    insta::assert_snapshot!("preview_department_80x24", body(&narrow));

    // Scope narrowed to part-timers: the safety mark comes first, in the error colour.
    press(&mut console, "n");
    console.key(key(KeyCode::Esc));
    press(&mut console, "y");
    edit_line(&mut console, SCOPE, PART_TIME);
    console.key(ctrl('s'));
    let narrow = screen(&mut console, 80, 24);
    assert!(narrow.contains("✗ SAFETY:"), "{narrow}");
    insta::assert_snapshot!("preview_scope_80x24", body(&narrow));
    drop(world);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previewed_value_table_change_is_applied_and_switches_the_contract() {
    let (world, mut console) = world_and_console().await;
    let in_it = learners_where(&world, |e| e["department"] == "Information Technology").await;
    assert!(!in_it.is_empty(), "the world has IT learners");
    let before = EngineStatus::read(world.store())
        .unwrap()
        .unwrap()
        .contract_version;

    edit_line(&mut console, IT_DEPT, IT_TECH);
    console.key(ctrl('s'));
    let shown = screen(&mut console, 160, 48);
    let row = (shown.lines())
        .find_map(|l| l.split_once("department ").map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no department row:\n{shown}"));
    assert_eq!(
        row.split_whitespace().next(),
        Some(in_it.len().to_string().as_str()),
        "every IT learner changes department:\n{shown}"
    );
    assert!(shown.contains("safety: 0 deactivations"), "{shown}");
    assert!(!shown.contains("SAFETY"), "{shown}");

    // No goes back to the edit; reviewed again, the list pulled is kept.
    press(&mut console, "n");
    console.key(ctrl('s'));
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains("kept from the last pull"), "{shown}");

    press(&mut console, "y");
    let applied = world.store().contract_requested().unwrap().expect("applied");
    assert_eq!(applied, common::CONTRACT.replacen(IT_DEPT, IT_TECH, 1));
    let entry = newest_audit(&world);
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("carol", "contract.apply")
    );
    assert!(
        entry.after.get("safety_overridden").is_none(),
        "{:?}",
        entry.after
    );

    // The engine takes it up within about a second: its version changes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = EngineStatus::read(world.store())
            .unwrap()
            .unwrap()
            .contract_version;
        if now != before {
            assert_eq!(
                Some(&now),
                entry.after["version"].as_str().map(String::from).as_ref()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine did not switch from {before}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_the_scope_is_marked_and_applied_only_with_the_typed_word() {
    let (world, mut console) = world_and_console().await;
    let full_time = learners_where(&world, |e| e["employmentHistoryStatus"] == "Full-Time").await;
    edit_line(&mut console, SCOPE, PART_TIME);
    console.key(ctrl('s'));
    let shown = screen(&mut console, 160, 48);
    let mark = format!("✗ SAFETY: {} deactivations, more than the 50", full_time.len());
    assert!(shown.contains(&mark), "{shown}");
    let word = format!("deactivate {}", full_time.len());
    assert!(shown.contains(&format!("type \"{word}\"")), "{shown}");

    // A yes is not enough: it asks for the word, and a wrong one applies nothing.
    press(&mut console, "y");
    let shown = screen(&mut console, 160, 48);
    assert!(
        shown.contains(&format!("Over [safety]: type \"{word}\"")),
        "{shown}"
    );
    press(&mut console, "yes");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains("not applied: \"yes\""), "{shown}");
    assert!(
        shown.contains("Really apply the edited contract?"),
        "back to the review:\n{shown}"
    );
    assert_eq!(world.store().contract_requested().unwrap(), None);
    assert_ne!(newest_audit(&world).action, "contract.apply");

    // Esc at the word is back to the review too; then the right word applies it.
    press(&mut console, "y");
    console.key(key(KeyCode::Esc));
    assert_eq!(world.store().contract_requested().unwrap(), None);
    press(&mut console, "y");
    press(&mut console, &word);
    console.key(key(KeyCode::Enter));
    let applied = world.store().contract_requested().unwrap().expect("applied");
    assert_eq!(applied, common::CONTRACT.replacen(SCOPE, PART_TIME, 1));
    let entry = newest_audit(&world);
    assert_eq!(
        (entry.actor.as_str(), entry.action.as_str()),
        ("carol", "contract.apply")
    );
    let overridden = &entry.after["safety_overridden"];
    assert_eq!(overridden["by"], "carol", "{:?}", entry.after);
    assert_eq!(overridden["deactivations"], full_time.len() as u64);
    assert_eq!(overridden["allowed"], 50);
    assert_eq!(overridden["typed"], word);
    assert!(
        entry
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("[safety] overridden by carol")),
        "{:?}",
        entry.reason
    );
    assert!(screen(&mut console, 160, 48).contains("over [safety]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_maps_the_engines_last_reconciliation_until_it_is_too_old() {
    let world = start(Options::default()).await;
    world.settle().await;
    let population = world.engine().preview.clone();
    // A reconciliation on the engine's connections keeps its pull for previews.
    let mut connections = hrsync::engine::connect::connect(&world.config, world.store())
        .await
        .unwrap();
    connections.latest_pull = population.latest.clone();
    let reconciler = hrsync::engine::reconcile::Reconciler {
        store: world.store().clone(),
        contract: world.engine().contract.clone(),
        connections,
        notifier: hrsync::connectors::Notifier::new(None),
        progress: Default::default(),
    };
    reconciler.run("test").await.unwrap();
    let kept = population.latest.get().expect("the run's pull is kept");
    assert_eq!(kept.employees.rows.len(), world.hris().await.len());

    let new = common::CONTRACT.replacen(IT_DEPT, IT_TECH, 1);
    let handle = EngineHandle::in_process(world.engine(), Some(common::CONTRACT.to_string()));
    let preview = tokio::task::block_in_place(|| handle.preview_contract(&new, 3)).unwrap();
    assert_eq!(
        (preview.pulled_by, preview.pulled_at),
        (PulledBy::Kept, kept.pulled_at)
    );
    // Older than max_age: pulled afresh.
    let strict = handle.clone().with_population(Population {
        max_age: Duration::ZERO,
        ..population.clone()
    });
    let fresh = tokio::task::block_in_place(|| strict.preview_contract(&new, 3)).unwrap();
    assert_eq!(fresh.pulled_by, PulledBy::Fresh);
    assert!(fresh.pulled_at > kept.pulled_at);
    assert_eq!(fresh.impact, preview.impact, "the same HRIS, the same impact");
    // A field the kept list was not pulled with: pulled afresh as well.
    let reads_more = new.replacen(r#"hris = "preferredName""#, r#"hris = "displayName""#, 1);
    assert_ne!(reads_more, new, "the contract reads preferredName");
    let wider = tokio::task::block_in_place(|| handle.preview_contract(&reads_more, 3)).unwrap();
    assert_eq!(wider.pulled_by, PulledBy::Fresh);

    // With no HRIS to pull from (attached without a configuration), the review says why.
    let attached =
        EngineHandle::on_store(world.store().clone()).with_contract_text(Some(common::CONTRACT.into()));
    let error = attached.preview_contract(&new, 3).unwrap_err().to_string();
    assert!(error.contains("no HRIS to preview against"), "{error}");
}

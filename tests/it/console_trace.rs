//! `T` in the console: the employee of the row under the cursor, traced as
//! `hrsync trace` does, in an overlay. Against the sandbox, with the engine in
//! this process and attached to its store; where no row names an employee, `T`
//! says so.

use crate::common;
use crate::console_support;

use common::{Options, World, start};
use console_support::{key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::state::Mode;
use hrsync::console::{Console, ConsoleOptions};
use hrsync::engine::operator::handle::EngineHandle;
use serde_json::Value;

const OPTIONS: ConsoleOptions = ConsoleOptions {
    read_only: false,
    no_color: true,
};

/// The Events pane narrowed to `employee`'s events (`e`, the id, Enter), then
/// `T` on the newest. The trace's HTTP reads run on a thread of their own while
/// this worker waits, so it hands its other tasks on first.
fn trace_from_events(console: &mut Console, employee: &str) {
    press(console, "e");
    press(console, employee);
    console.key(key(KeyCode::Enter));
    let row = console
        .state
        .panes
        .events
        .list
        .selected_row()
        .expect("their events are listed");
    assert_eq!(row.employee_id, employee);
    tokio::task::block_in_place(|| press(console, "T"));
}

/// The trace's lines, once it is back.
fn traced(console: &Console) -> Vec<String> {
    match &console.state.mode {
        Mode::Trace { lines, .. } => {
            assert!(!lines[0].starts_with("tracing"), "the trace is back: {lines:?}");
            lines.clone()
        }
        other => panic!("no trace open: {other:?}; flash {:?}", console.state.flash),
    }
}

/// The first employee (by id) `pick` chooses.
async fn employee(world: &World, pick: impl Fn(&str, &Value, bool) -> bool) -> String {
    let learners = world.learners().await;
    world
        .hris()
        .await
        .into_iter()
        .find(|(id, e)| pick(id, e, learners.contains_key(id)))
        .map(|(id, _)| id)
        .expect("the sandbox has such an employee")
}

fn synced(_: &str, e: &Value, has_learner: bool) -> bool {
    common::in_scope_and_employed(e) && e["employmentStatus"] == "Active" && has_learner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t_on_an_events_row_traces_its_employee_with_the_engines_lookups() {
    let world = start(Options {
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let handle =
        EngineHandle::in_process(world.engine(), Some(common::CONTRACT.to_string())).with_operator("carol");
    let mut console = Console::new(handle, &OPTIONS);

    // In scope: the inclusion rule that holds is named, and the plan with it.
    let id = employee(&world, synced).await;
    trace_from_events(&mut console, &id);
    let lines = traced(&console);
    assert_eq!(lines[0], format!("employee {id}"), "{lines:#?}");
    assert!(
        lines.iter().any(
            |l| l.starts_with("  scope       in scope: every inclusion rule holds")
                && l.contains("employment_type any of Full-Time, Part-Time")
        ),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("found by externalId")),
        "{lines:#?}"
    );
    assert!(
        lines.last().unwrap().starts_with("verdict: nothing"),
        "{lines:#?}"
    );
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains(&format!("TRACE OF EMPLOYEE {id}")), "{shown}");
    assert!(
        shown.contains("Esc back"),
        "the footer says how to leave: {shown}"
    );

    // `y` copies the trace; Esc closes it, back on the Events pane.
    press(&mut console, "y");
    assert_eq!(
        console.state.clipboard.as_deref(),
        Some(lines.join("\n").as_str())
    );
    console.key(key(KeyCode::Esc));
    assert!(matches!(console.state.mode, Mode::Normal));
    assert!(
        screen(&mut console, 160, 48).contains("T trace"),
        "the footer offers T"
    );

    // Out of scope: the inclusion rule that failed, with the value that broke it.
    let today = common::today();
    let out = employee(&world, |_, e, has_learner| {
        e["employmentStatus"] == "Active"
            && !matches!(
                e["employmentHistoryStatus"].as_str(),
                Some("Full-Time" | "Part-Time")
            )
            && e["hireDate"]
                .as_str()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())
                .is_some_and(|d| d <= today)
            && !has_learner
    })
    .await;
    press(&mut console, "c");
    trace_from_events(&mut console, &out);
    let lines = traced(&console);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  scope       out of scope: inclusion rule at line")),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"  learner     none found".to_string()),
        "{lines:#?}"
    );
    console.key(key(KeyCode::Char('q')));
    assert!(matches!(console.state.mode, Mode::Normal), "q closes the trace");
    assert!(!console.state.quit, "and does not quit");
}

/// Event ids, learner ids and dates differ from run to run; the rest is the trace.
fn redacted(screen: &str, learner: &str) -> String {
    let mut out = stable(screen).replace(learner, "[learner]");
    for (pattern, with) in [
        (r"\d{4}-\d\d-\d\d", "yyyy-mm-dd"),
        (r"(?m)^(\s+)\d+ yyyy-mm-dd", "${1}N yyyy-mm-dd"),
    ] {
        out = regex::Regex::new(pattern)
            .expect("pattern")
            .replace_all(&out, with)
            .into_owned();
    }
    out
}

/// Attached to the store with the configuration, the trace's connections are
/// its own; the engine is stopped first, so the screen stays still.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_overlay_at_80x24_and_160x48() {
    let mut world = start(Options {
        employees: 40,
        ..Options::default()
    })
    .await;
    world.settle().await;
    world.stop().await;
    console_support::publish_status(world.store());
    let id = employee(&world, synced).await;
    let learner = world.learners().await[&id]["id"]
        .as_str()
        .expect("the learner's id")
        .to_string();
    let handle = EngineHandle::on_store(world.store().clone())
        .with_operator("alice")
        .with_contract_text(Some(common::CONTRACT.to_string()))
        .connect_tracer(&world.config)
        .await;
    for (width, height) in [(80, 24), (160, 48)] {
        let mut console = Console::new(handle.clone(), &OPTIONS);
        console.update(hrsync::console::Action::Resize(width, height));
        trace_from_events(&mut console, &id);
        traced(&console);
        let shown = redacted(&screen(&mut console, width, height), &learner);
        insta::assert_snapshot!(format!("trace_{width}x{height}"), shown);
        // Scrolled a page down, the verdict is in view.
        console.key(key(KeyCode::PageDown));
        let shown = screen(&mut console, width, height);
        assert!(shown.contains("verdict: nothing"), "{shown}");
    }
}

#[test]
fn t_where_no_row_names_an_employee_says_so() {
    let fixture = console_support::fixture();
    let mut console = console_support::console(&fixture, false);
    press(&mut console, "5");
    let shown = screen(&mut console, 160, 48);
    assert!(
        !shown.contains("T trace"),
        "the footer leaves T out where it does nothing: {shown}"
    );
    press(&mut console, "T");
    assert!(matches!(console.state.mode, Mode::Normal));
    let shown = screen(&mut console, 160, 48);
    assert!(
        shown.contains("T traces the employee a row names; Contract rows name none (try Events, Failed"),
        "{shown}"
    );
}

#[test]
fn t_on_a_console_attached_without_a_configuration_says_it_cannot_trace() {
    let fixture = console_support::fixture();
    let mut console = console_support::console(&fixture, false);
    assert!(console.state.panes.events.list.selected_row().is_some());
    press(&mut console, "T");
    assert!(
        matches!(console.state.mode, Mode::Normal),
        "the trace closes on its failure"
    );
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains("this console cannot trace"), "{shown}");
}

#[test]
fn every_pane_whose_rows_name_an_employee_lists_t_in_the_help() {
    let fixture = console_support::fixture();
    let mut console = console_support::console(&fixture, false);
    press(&mut console, "?");
    let shown = screen(&mut console, 200, 48);
    for pane in ["Events", "Failed", "Drift", "Dups", "Audit", "Held", "Creds"] {
        let line = shown
            .lines()
            .find(|l| l.starts_with(pane))
            .unwrap_or_else(|| panic!("{pane} in the help:\n{shown}"));
        assert!(line.contains("T trace"), "{line}");
    }
    for pane in ["Contract", "Files"] {
        let line = shown.lines().find(|l| l.starts_with(pane)).unwrap();
        assert!(!line.contains("T trace"), "{line}");
    }
}

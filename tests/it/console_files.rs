//! The console's Files pane (`[hris] kind = "csv"`): an engine in file mode takes
//! one export, refuses a stale one and holds a truncated one whole; the pane
//! lists the three, `c` on the held one asks for a reason and a yes that says
//! how many would be deactivated, and the engine then takes it. A file name
//! full of escape sequences is shown escaped; an API HRIS has no files.

use crate::common;
use crate::console_support;

use std::time::{Duration, Instant};

use common::exports::{decided, drop_in, export, file_world};
use console_support::{fixture, key, press, screen, stable};
use crossterm::event::KeyCode;
use hrsync::console::{Console, ConsoleOptions, paint};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::operator::status::EngineStatus;
use hrsync::model::connections::HrisKind;
use hrsync::model::files::{ExportFile, FileCounts, FileState};
use hrsync::model::{EventStatus, Source};
use hrsync::store::{AuditFilter, EventFilter};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn options() -> ConsoleOptions {
    ConsoleOptions {
        read_only: false,
        no_color: true,
    }
}

/// The pane's part of the screen: the header's live figures and the tab
/// badges of a running engine change from run to run, the files do not.
fn body(screen: &str) -> String {
    let export_stamp = regex::Regex::new(r"hris-\d{8}-\d{6}").unwrap();
    let when = regex::Regex::new(r"\d\d-\d\d \d\d:\d\d").unwrap();
    let date = regex::Regex::new(r"\d{4}-\d\d-\d\d").unwrap();
    let digest = regex::Regex::new(r"sha256\s+[0-9a-f]{12}").unwrap();
    let size = regex::Regex::new(r"\d+ bytes").unwrap();
    let text: String = screen.lines().skip(3).map(|l| format!("{l}\n")).collect();
    let text = export_stamp.replace_all(&text, "hris-STAMP");
    let text = date.replace_all(&text, "YYYY-MM-DD");
    let text = stable(&text);
    let text = when.replace_all(&text, "MM-DD hh:mm");
    let text = size.replace_all(&text, "N bytes");
    digest.replace_all(&text, "sha256 DIGEST").into_owned()
}

/// Updates the console until `done` holds of it, reading the store as the loop would.
fn until(console: &mut Console, what: &str, done: impl Fn(&Console) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(console) {
        assert!(Instant::now() < deadline, "the console never showed {what}");
        std::thread::sleep(Duration::from_millis(50));
        console.update(hrsync::console::Action::StoreChanged);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_stale_and_held_files_are_listed_and_c_lets_the_held_one_through() {
    let world = file_world(300).await;
    let (full, _) = export(&world, "full").await;
    let full = drop_in(&world, &full);
    decided(&world, &full, FileState::Taken).await;
    world.settle().await;
    let (stale, _) = export(&world, "stale").await;
    let stale = drop_in(&world, &stale);
    decided(&world, &stale, FileState::Refused).await;
    let (truncated, _) = export(&world, "truncated").await;
    let truncated = drop_in(&world, &truncated);
    let held = decided(&world, &truncated, FileState::Held).await;
    assert!(held.counts.missing > 50, "{held:?}");

    let handle = EngineHandle::in_process(world.engine(), None).with_operator("alice");
    let mut console = tokio::task::block_in_place(|| Console::new(handle, &options()));
    tokio::task::block_in_place(|| {
        press(&mut console, "9");
        let list = screen(&mut console, 80, 24);
        let tabs = list.lines().nth(2).unwrap();
        assert!(tabs.contains("[9 Files 1]"), "the tab row at 80 columns: {tabs}");
        assert!(tabs.chars().count() <= 80, "{tabs}");
        insta::assert_snapshot!("files_list_80x24", body(&list));

        // `c` where it does nothing says why: the stale file is never taken.
        press(&mut console, "j");
        press(&mut console, "c");
        let flash = console.state.flash.clone().expect("a word on the key");
        assert!(flash.text.contains("was refused"), "{flash:?}");
        assert!(matches!(console.state.mode, hrsync::console::state::Mode::Normal));

        // On the held one: a reason, then a yes that says how many go.
        press(&mut console, "g");
        press(&mut console, "c");
        press(&mut console, "HR cut the workforce");
        console.key(key(KeyCode::Enter));
        let confirm = screen(&mut console, 80, 24);
        assert!(
            confirm.contains(&format!("{} learners would be deactivated", held.counts.missing)),
            "{confirm}"
        );
        insta::assert_snapshot!("files_confirm_80x24", body(&confirm));
        press(&mut console, "y");
        let flash = console.state.flash.clone().expect("what the yes did");
        assert!(!flash.error, "{flash:?}");
    });

    // The engine takes the confirmed file: its missing employees' deactivations
    // are journaled and go ahead, none held a second time.
    let taken = decided(&world, &truncated, FileState::Taken).await;
    assert_eq!(taken.id, held.id);
    assert_eq!(taken.counts.missing, held.counts.missing);
    assert!(
        taken
            .reason
            .as_deref()
            .unwrap()
            .starts_with("confirmed by alice: HR cut the workforce"),
        "{taken:?}"
    );
    let missing: Vec<_> = world
        .store()
        .events_page(&EventFilter::default(), None, 100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "Missing" && e.source == Source::File)
        .collect();
    assert_eq!(missing.len() as u64, taken.counts.missing);
    assert!(
        missing.iter().all(|e| e.status != EventStatus::Held),
        "the file's deactivations were confirmed with it"
    );
    world.settle().await;
    let learners = world.learners().await;
    let deactivated = missing
        .iter()
        .filter(|e| learners.get(&e.employee_id).is_some_and(|l| l["active"] == false))
        .count();
    assert!(deactivated > 50, "{deactivated} of {} deactivated", missing.len());
    let audit = world
        .store()
        .audit_page(
            &AuditFilter {
                action: Some("file.confirm".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "alice");

    tokio::task::block_in_place(|| {
        until(&mut console, "the file taken", |c| {
            c.state
                .panes
                .files
                .list
                .rows
                .first()
                .is_some_and(|f| f.state == FileState::Taken)
        });
        let after = screen(&mut console, 80, 24);
        let row = after
            .lines()
            .find(|l| l.contains("hris-") && l.starts_with('›'))
            .expect("the cursor's row");
        assert!(row.contains("✓ taken"), "{row}");
        assert!(after.contains("confirmed by alice"), "{after}");
    });
}

#[test]
fn a_hostile_file_name_and_reason_are_shown_escaped() {
    let fixture = fixture();
    let file = ExportFile {
        id: 0,
        name: "hris-\x1b]2;pwned\x07\x1b[2J.csv".into(),
        sha256: "ab".repeat(32),
        size: 1234,
        modified: jiff::Timestamp::now(),
        decided_at: jiff::Timestamp::now(),
        state: FileState::Refused,
        reason: Some("unreadable: line 3: \u{9b}2J bad \u{202e}field".into()),
        counts: FileCounts::default(),
    };
    fixture.store.transaction(|tx| tx.record_file(&file)).unwrap();
    let mut console = console_support::console(&fixture, false);
    press(&mut console, "9");
    console.update(hrsync::console::Action::Resize(80, 24));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    // Without the frame's last sweep: the pane escapes on its own.
    terminal.draw(|frame| paint(&console.state, frame)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..24 {
        for x in 0..80 {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(hrsync::console::sanitise::is_hostile),
                "({x}, {y}) holds {symbol:?}"
            );
            text.push_str(symbol);
        }
        text.push('\n');
    }
    assert!(text.contains("hris-␛]2;pwned␇␛[2J.csv"), "{text}");
    assert!(text.contains("\\u{9b}2J bad \\u{202e}field"), "{text}");
}

#[test]
fn an_api_hris_has_no_export_files() {
    let fixture = fixture();
    let mut status = EngineStatus::read(&fixture.store).unwrap().unwrap();
    status.hris_kind = Some(HrisKind::BambooHr);
    status.publish(&fixture.store).unwrap();
    let mut console = console_support::console(&fixture, false);
    press(&mut console, "9");
    let api = screen(&mut console, 80, 24);
    assert!(
        api.contains("no export files (the HRIS is not a file kind)"),
        "{api}"
    );
    insta::assert_snapshot!("files_api_80x24", stable(&api));
    // Nothing to confirm, and the key says so.
    press(&mut console, "c");
    let flash = console.state.flash.clone().expect("a word on the key");
    assert!(flash.text.contains("no export file"), "{flash:?}");
}

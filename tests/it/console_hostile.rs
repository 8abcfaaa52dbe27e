//! Hostile text from the HRIS and LMS (OSC 52, OSC 2, CSI 2J, C1 CSI, DEL, a
//! bidi override) in names, ids, reasons and payloads, through every pane: shown
//! escaped, and no control character reaches the terminal's buffer.

use crate::console_support;

use console_support::hostile::{NAME, NAME_SHOWN, hostile, hostile_contract};
use console_support::{Fixture, key, press, stable};
use crossterm::event::KeyCode;
use hrsync::console::{Console, ConsoleOptions, draw, paint};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::model::DuplicateSide;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

fn console(fixture: &Fixture) -> Console {
    let handle = EngineHandle::on_store(fixture.store.clone())
        .with_operator("alice")
        .with_contract_text(Some(hostile_contract()));
    let options = ConsoleOptions {
        read_only: false,
        no_color: true,
    };
    Console::new(handle, &options)
}

fn buffer(console: &mut Console, width: u16, height: u16, net: bool) -> Buffer {
    console.update(hrsync::console::Action::Resize(width, height));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    if net {
        terminal.draw(|frame| draw(&console.state, frame)).expect("draw");
    } else {
        terminal
            .draw(|frame| paint(&console.state, frame))
            .expect("paint");
    }
    terminal.backend().buffer().clone()
}

/// What a terminal would act on, or what would hide or reorder text.
fn forbidden(c: char) -> bool {
    c.is_control() || hrsync::console::sanitise::is_hostile(c)
}

/// Draws without the sweep and checks that no draw site let a control through
/// (so the sweep has nothing to do), then returns the screen as text.
fn shown(console: &mut Console, width: u16, height: u16) -> String {
    let painted = buffer(console, width, height, false);
    for (i, cell) in painted.content.iter().enumerate() {
        let at = (i as u16 % width, i as u16 / width);
        assert!(
            !cell.symbol().chars().any(forbidden),
            "cell {at:?} holds {:?}",
            cell.symbol()
        );
    }
    let drawn = buffer(console, width, height, true);
    assert_eq!(drawn, painted, "the sweep found nothing to replace");
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| drawn[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let relative = regex::Regex::new(r"in \d+[smh]|\d+[smhd] ago").unwrap();
    let dates = regex::Regex::new(r"\d{4}-\d{2}-\d{2}").unwrap();
    let out = relative.replace_all(&stable(&out), "N").into_owned();
    dates.replace_all(&out, "YYYY-MM-DD").into_owned()
}

/// A pane or overlay drawn at both sizes, clean of controls at each; at 160×48
/// (where columns are wide enough) it must show `expect`, the escaped forms.
/// The 80×24 screen is the snapshot.
fn check(name: &str, expect: &[&str], setup: impl Fn(&mut Console)) -> String {
    let fixture = hostile();
    let mut small = String::new();
    for (width, height) in [(80, 24), (160, 48)] {
        let mut console = console(&fixture);
        setup(&mut console);
        let screen = shown(&mut console, width, height);
        if width == 80 {
            small = screen;
            continue;
        }
        for text in expect {
            assert!(
                screen.contains(text),
                "{name} {width}x{height} lacks {text:?}:\n{screen}"
            );
        }
    }
    insta::assert_snapshot!(format!("hostile_{name}_80x24"), small.clone());
    small
}

#[test]
fn events_list() {
    check(
        "events",
        &["␛[2J01", "E\\u{9b}2J0", "␛]52;c;aGk=␇Zoë", "Updated␡"],
        |_| {},
    );
}

#[test]
fn event_detail_with_rejection_reasons() {
    check(
        "event_detail",
        &["␛]52;c;aGk=␇Zoë\" has a control", "\\u{202e}"],
        |c| {
            press(c, "G");
            c.key(key(KeyCode::Enter));
        },
    );
}

#[test]
fn event_detail_with_the_write() {
    let screen = check("event_write", &["u-␛]2;pwned␇", "\\u{9b}2J"], |c| {
        // The applied event: the newest but one (the completion is newest).
        press(c, "gj");
        c.key(key(KeyCode::Enter));
    });
    assert!(screen.contains("WRITE AND RESULT"), "{screen}");
}

#[test]
fn failed_pane() {
    check(
        "failed",
        &["E\\u{9b}2J0", "displayName \"␛]52;c;aGk=␇Zoë"],
        |c| press(c, "2"),
    );
}

#[test]
fn held_pane_and_its_confirmation() {
    check("held", &["threshold ␛]2;pwned␇: ␛]52"], |c| press(c, "7"));
    check(
        "held_confirm",
        &["Really confirm", "event 3  E003  Term␛[2J"],
        |c| press(c, "7c"),
    );
}

#[test]
fn audit_pane() {
    check(
        "audit",
        &["E\\u{9b}2J0", "name changed to ␛]52;c;aGk=␇Zoë"],
        |c| press(c, "6"),
    );
}

#[test]
fn drift_pane_and_item() {
    check(
        "drift",
        &["the HRIS answered ␛]52;c;aGk=␇Zoë", "␛]52;c;aGk=␇Zoë"],
        |c| press(c, "3"),
    );
    check(
        "drift_detail",
        &[NAME_SHOWN, "Oka\\u{202e}rof", "second line ␛]2;pwned␇"],
        |c| {
            press(c, "3");
            c.key(key(KeyCode::Enter));
        },
    );
}

#[test]
fn duplicates_pane_and_link_prompt() {
    check(
        "duplicates",
        &["zoe␛[2JOka\\u{202e}rof", "lastName\\u{9b}"],
        |c| press(c, "4"),
    );
    check(
        "duplicates_link",
        &["link learner u-␛]2;pwned␇", "␛]52;c;aGk=␇Zoë"],
        |c| {
            press(c, "4");
            for _ in 0..3 {
                if c.state
                    .panes
                    .duplicates
                    .group()
                    .is_some_and(|g| g.side == DuplicateSide::Lms)
                {
                    break;
                }
                press(c, "j");
            }
            press(c, "L");
        },
    );
}

#[test]
fn contract_credentials_header_and_flash() {
    check("contract", &["first␛]52;c;aGk=␇Name\\u{202e}"], |c| {
        press(c, "5")
    });
    check("credentials", &["E\\u{9b}2J0", "␛]52;c;aGk=␇Zoë"], |c| {
        press(c, "8")
    });
    check(
        "flash",
        &["127.0.0.1:8080␛]2;pwned␇", "could not link ␛]52"],
        |c| {
            c.state.warn(format!("could not link {NAME}"));
        },
    );
}

/// Piped, the CLI prints values exactly as stored: scripts see the real bytes.
#[test]
fn cli_lists_stay_exact_in_a_pipe() {
    let fixture = hostile();
    let db = fixture.dir.path().join("hrsync.db");
    for args in [&["retries", "list"][..], &["drift", "list"]] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .expect("run hrsync");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        assert!(stdout.contains(NAME), "{args:?}: {stdout:?}");
        assert!(!stdout.contains(NAME_SHOWN), "{args:?}: {stdout:?}");
    }
}

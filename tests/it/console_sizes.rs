//! The console draws every pane and every overlay at any terminal size down to
//! 20×5 without panicking, and stays usable at 80×24.

use crate::console_support;

use console_support::{console, ctrl, fixture, key, press, publish_outage, screen};
use crossterm::event::KeyCode;

/// Key presses that open each pane and overlay.
const SCREENS: &[&str] = &[
    "1", "2", "3", "4", "5", "6", "7", "8", "?", "2 j r", "2s", "7c", "/", "6\n", "5e", "1\n",
];

fn open(console: &mut hrsync::console::Console, keys: &str) {
    for c in keys.chars() {
        match c {
            '\n' => console.key(key(KeyCode::Enter)),
            c => press(console, &c.to_string()),
        }
    }
}

#[test]
fn nothing_panics_from_20x5_up() {
    let fixture = fixture();
    let sizes: Vec<(u16, u16)> = [1, 2, 3, 5, 8, 13, 20, 24, 33, 50, 80, 81, 120, 160, 240]
        .iter()
        .flat_map(|&w| [1u16, 2, 3, 4, 5, 6, 8, 11, 12, 13, 24, 48, 70].map(|h| (w, h)))
        .collect();
    for keys in SCREENS {
        let mut console = console(&fixture, false);
        open(&mut console, keys);
        for &(width, height) in &sizes {
            let shown = screen(&mut console, width, height);
            assert_eq!(shown.lines().count(), height as usize);
        }
    }
}

#[test]
fn at_80x24_the_essentials_show() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    let shown = screen(&mut console, 80, 24);
    assert!(shown.contains("● running"), "{shown}");
    assert!(shown.contains("dead 3"), "{shown}");
    assert!(
        shown.contains("q quit") || shown.contains("? help") || shown.contains("Enter detail"),
        "{shown}"
    );
    // The contract editor scrolls and the smallest terminals keep the footer.
    open(&mut console, "5e");
    console.key(ctrl('s'));
    let tiny = screen(&mut console, 20, 5);
    assert_eq!(tiny.lines().count(), 5);
}

#[test]
fn at_80x24_an_outage_keeps_every_count_in_the_header() {
    let fixture = fixture();
    publish_outage(&fixture.store);
    let mut console = console(&fixture, false);
    let shown = screen(&mut console, 80, 24);
    let header = shown.lines().take(2).collect::<Vec<_>>().join("\n");
    for what in [
        "▲ degraded",
        "LMS ✗ down 4m: LMS answered 503",
        "err 68.5%",
        "queue 11",
        "dead 3",
        "held 2",
        "rejected 4",
        "drift 5 (! 2 critical)",
        "reconciling: reading learners 45%",
    ] {
        assert!(header.contains(what), "{what:?} is not in the header:\n{header}");
    }
    assert!(shown.lines().nth(2).unwrap().contains("1 Events"), "{shown}");
}

/// The line above the footer: the status bar of a list pane.
fn status_bar(shown: &str) -> &str {
    let lines: Vec<&str> = shown.lines().collect();
    lines[lines.len() - 2]
}

#[test]
fn at_80x24_the_status_bar_shows_the_selected_rows_error_in_full() {
    let fixture = fixture();
    let mut console = console(&fixture, false);
    press(&mut console, "2");
    let shown = screen(&mut console, 80, 24);
    let row = shown
        .lines()
        .find(|l| l.starts_with('›'))
        .expect("a selected row");
    assert!(
        !row.contains("503 Service Unavailable"),
        "the column cuts it: {row}"
    );
    let dead = fixture.dead.last().expect("a dead letter");
    assert_eq!(
        status_bar(&shown),
        format!("event {dead} E012: LMS answered 503 Service Unavailable")
    );
    // Every list pane has one, for the row under the cursor.
    for (keys, starts) in [
        ("1", "event 40 E010: work_email: \"zoë@\" is not an email address"),
        ("7", "event "),
        ("6", "#"),
        ("jj", "#"),
    ] {
        press(&mut console, keys);
        let shown = screen(&mut console, 80, 24);
        assert!(status_bar(&shown).starts_with(starts), "{keys}: {shown}");
    }
    press(&mut console, "7");
    let held = screen(&mut console, 80, 24);
    assert!(
        status_bar(&held).contains("safety threshold: the poll would deactivate 60"),
        "{held}"
    );
}

#[test]
fn at_80x24_a_long_error_fills_the_status_bar_and_the_detail_has_all_of_it() {
    use hrsync::model::EventStatus;
    use hrsync::store::EventFilter;
    let fixture = fixture();
    let pending = EventFilter {
        status: Some(EventStatus::Pending),
        ..Default::default()
    };
    let event = fixture.store.events_page(&pending, None, 1).unwrap().remove(0);
    let error = "LMS answered 503 Service Unavailable: upstream connect error or disconnect/reset \
                 before headers. retried and the latest reset reason: remote connection failure, \
                 transport failure reason: delayed connect error: 111 (request id 7f3a9c)";
    fixture
        .store
        .mark_dead_letter(event.id, error, Some(503))
        .unwrap();
    let mut console = console(&fixture, false);
    press(&mut console, "2");
    let shown = screen(&mut console, 80, 24);
    let bar = status_bar(&shown);
    assert!(
        bar.starts_with(&format!("event {} ", event.id)) && bar.ends_with('…'),
        "{shown}"
    );
    assert_eq!(bar.chars().count(), 80, "as much as the line holds: {bar}");
    console.key(key(KeyCode::Enter));
    let detail = screen(&mut console, 80, 24);
    let joined = detail.lines().map(str::trim_end).collect::<Vec<_>>().join(" ");
    assert!(joined.contains(&format!("last error: {error}")), "{detail}");
}

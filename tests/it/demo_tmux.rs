//! The real `hrsync demo` in tmux, as an operator sees it: events show, the panes
//! switch, a dead letter is retried with keys, an LMS outage shows in the header
//! and is recovered with keys, `q` quits, and the terminal is given back (no
//! alternate screen, the shell's line visible again).

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: &'static str,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (.ci/run installs it)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", self.session])
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", self.session, keys]);
    }

    /// Waits until the screen shows `what`; panics with the screen after `limit`.
    fn wait_for(&self, what: &str, limit: Duration) -> String {
        self.wait_until(what, limit, |screen| screen.contains(what))
    }

    /// Waits until `done` holds of the screen; panics with the screen after `limit`.
    fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Whether this machine has tmux. Without it the test is skipped with a printed
/// reason, except under `CI`, where a missing tmux is a failure (.ci/run installs it).
fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is missing, and under CI this test must run"
        );
        eprintln!("skipped: tmux is not installed (install it to run the demo in a real terminal)");
    }
    found
}

#[test]
fn the_demo_in_a_real_terminal() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The LMS fails often enough that dead letters appear within seconds.
    let faults = dir.path().join("faults.json");
    std::fs::write(&faults, r#"{"scim": {"error_ratio": 0.25}}"#).unwrap();
    let tmux = Tmux {
        socket: format!("hrsync-test-{}", std::process::id()),
        session: "demo",
    };
    let command = format!(
        "{} --log-file {} demo --employees 300 --churn 3 --faults {}; echo DEMO-EXITED $?; sleep 60",
        env!("CARGO_BIN_EXE_hrsync"),
        dir.path().join("hrsync.log").display(),
        faults.display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        tmux.session,
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);

    tmux.wait_for("→LMS", Duration::from_secs(60));
    // The engine publishes its state once a second.
    let screen = tmux.wait_for("● running", Duration::from_secs(10));
    assert!(screen.contains("q quit"), "the footer shows the keys:\n{screen}");

    tmux.keys("2");
    tmux.wait_for("dead letters", Duration::from_secs(10));
    // Wait for a dead letter to select, then retry it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tmux.screen().contains("› [ ]") {
        assert!(
            Instant::now() < deadline,
            "no dead letter appeared:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    tmux.keys("r");
    tmux.wait_for("done: retry event", Duration::from_secs(10));

    // A reconciliation on demand from the Drift pane, and the suspected duplicates.
    tmux.keys("3");
    tmux.wait_for("no reconciliation has completed", Duration::from_secs(10));
    tmux.keys("R");
    tmux.wait_for("accepted 0", Duration::from_secs(60));
    tmux.keys("4");
    tmux.wait_for("suspected duplicates", Duration::from_secs(10));
    tmux.wait_for("‖ held", Duration::from_secs(10));

    tmux.keys("5");
    tmux.wait_for("MAPPING", Duration::from_secs(10));
    tmux.keys("6");
    tmux.wait_for("[6 Audit]", Duration::from_secs(10));
    tmux.wait_for("learner.", Duration::from_secs(10));

    lms_outage_and_recovery(&tmux, &dir.path().join("hrsync.log"));

    tmux.keys("q");
    let screen = tmux.wait_for("DEMO-EXITED 0", Duration::from_secs(30));
    assert!(
        screen.contains("hrsync demo: sandbox"),
        "the shell's own lines are back:\n{screen}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", tmux.session, "#{alternate_on}"]);
    assert_eq!(alternate.trim(), "0", "the terminal left the alternate screen");
}

/// The header's dead-letter count.
fn dead_letters(screen: &str) -> Option<u64> {
    let count = regex::Regex::new(r"\bdead (\d+)\b").expect("pattern");
    count.captures(screen)?[1].parse().ok()
}

/// The sandbox's admin API, as the demo logs it.
fn admin_url(log: &std::path::Path) -> String {
    let logged = regex::Regex::new(r"admin_url=(http://\S+)").expect("pattern");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(found) = logged.captures(&text) {
            return found[1].to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not log its admin API:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn set_faults(admin: &str, faults: serde_json::Value) {
    let answer = reqwest::blocking::Client::new()
        .post(format!("{admin}/faults"))
        .json(&faults)
        .send()
        .expect("the sandbox's admin API answers");
    assert!(
        answer.status().is_success(),
        "faults {faults}: {}",
        answer.status()
    );
}

/// The LMS is taken down through the sandbox: the header names it and the
/// engine degrades. The fault cleared, the dead letters are retried from the
/// Failed pane until none is left, and the header is back to running.
fn lms_outage_and_recovery(tmux: &Tmux, log: &std::path::Path) {
    let admin = admin_url(log);
    set_faults(&admin, serde_json::json!({ "scim": { "error_ratio": 1.0 } }));
    let faulted = Instant::now();
    tmux.keys("2");
    // The system, since when and its last error, and the engine's state.
    let down = regex::Regex::new(r"LMS ✗ down \d+[smh]: \S").expect("pattern");
    tmux.wait_until(
        "the LMS down and the engine degraded",
        Duration::from_secs(10),
        |s| down.is_match(s) && s.contains("▲ degraded"),
    );
    eprintln!(
        "the header showed the LMS down {:?} after the fault",
        faulted.elapsed()
    );
    tmux.wait_until("dead letters from the outage", Duration::from_secs(30), |s| {
        dead_letters(s).is_some_and(|n| n > 0)
    });

    set_faults(&admin, serde_json::json!({}));
    let cleared = Instant::now();
    // An event in its last attempt as the fault clears may still die: retry
    // again until none is left.
    let deadline = cleared + Duration::from_secs(90);
    loop {
        let screen = tmux.screen();
        match dead_letters(&screen) {
            Some(0) => break,
            Some(_) if !screen.contains("y/Enter: yes") => {
                tmux.keys("R");
                tmux.wait_for("y/Enter: yes", Duration::from_secs(10));
                tmux.keys("y");
                tmux.wait_for("done: retry", Duration::from_secs(10));
            }
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the dead letters did not drain:\n{screen}"
        );
        let settled = Instant::now() + Duration::from_secs(10);
        while Instant::now() < settled && dead_letters(&tmux.screen()).is_some_and(|n| n > 0) {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let screen = tmux.wait_until("the header running again", Duration::from_secs(60), |s| {
        s.contains("● running") && !s.contains("LMS ✗")
    });
    assert_eq!(dead_letters(&screen), Some(0), "{screen}");
    eprintln!("recovered {:?} after the fault was cleared", cleared.elapsed());
}

fn sandbox_state(admin: &str) -> serde_json::Value {
    reqwest::blocking::get(format!("{admin}/state"))
        .and_then(|answer| answer.json())
        .expect("the sandbox's admin API answers")
}

/// `hrsync demo --shadow`: the header says SHADOW, events are shadowed and
/// nothing reaches the LMS or the HRIS; leaving shadow mode from the command
/// line (a reason, then a yes) applies the planned writes afresh.
#[test]
fn the_demo_in_shadow_mode_then_live() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("hrsync-shadow-{}", std::process::id()),
        session: "shadow",
    };
    let log = dir.path().join("hrsync.log");
    let command = format!(
        "{} --log-file {} demo --employees 100 --churn 2 --shadow; echo DEMO-EXITED $?; sleep 60",
        env!("CARGO_BIN_EXE_hrsync"),
        log.display(),
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        tmux.session,
        "-x",
        "120",
        "-y",
        "36",
        &command,
    ]);
    let screen = tmux.wait_for("shadowed", Duration::from_secs(60));
    assert!(
        screen.lines().next().unwrap_or_default().contains("SHADOW"),
        "the header says SHADOW:\n{screen}"
    );
    let admin = admin_url(&log);
    let before = sandbox_state(&admin);
    assert_eq!(before["lms"]["users"], 0, "nothing provisioned: {before}");
    // Churn and completions go on; still nothing is written anywhere.
    tmux.wait_until("more shadowed events", Duration::from_secs(30), |s| {
        s.matches("shadowed").count() > 5
    });
    let during = sandbox_state(&admin);
    assert_eq!(during["lms"]["users"], 0, "{during}");
    assert_eq!(
        during["hris"]["training_records"], before["hris"]["training_records"],
        "no write-back in shadow mode"
    );

    tmux.keys(":shadow leave");
    tmux.keys("Enter");
    tmux.wait_for("Why leave shadow mode", Duration::from_secs(10));
    tmux.keys("parallel run signed off");
    tmux.keys("Enter");
    tmux.wait_for("Really leave shadow mode?", Duration::from_secs(10));
    tmux.keys("y");
    tmux.wait_until("the header live", Duration::from_secs(30), |s| {
        !s.lines().next().unwrap_or_default().contains("SHADOW")
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let after = sandbox_state(&admin);
        if after["lms"]["users"].as_u64().is_some_and(|n| n > 0) && tmux.screen().contains("✓ applied") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the planned writes were not applied: {after}\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    tmux.keys("q");
    tmux.wait_for("DEMO-EXITED 0", Duration::from_secs(30));
}

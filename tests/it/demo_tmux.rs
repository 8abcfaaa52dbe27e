//! The real `hrsync demo` in tmux, as an operator sees it: events show, the panes
//! switch, a dead letter is retried with keys, `q` quits, and the terminal is
//! given back (no alternate screen, the shell's line visible again).

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
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what:?}; the screen:\n{screen}"
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

    tmux.keys("q");
    let screen = tmux.wait_for("DEMO-EXITED 0", Duration::from_secs(30));
    assert!(
        screen.contains("hrsync demo: sandbox"),
        "the shell's own lines are back:\n{screen}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", tmux.session, "#{alternate_on}"]);
    assert_eq!(alternate.trim(), "0", "the terminal left the alternate screen");
}

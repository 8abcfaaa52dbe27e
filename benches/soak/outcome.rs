//! What the soak came to, once the churn has stopped and the engine has caught
//! up (dead letters retried, as an operator would): the journal's counts, the
//! verdicts of `checks`, the engine's memory run by run; printed as one line
//! and a short table.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::checks;
use crate::churn::Churned;
use crate::world::World;

/// How long the end may take to catch up and to settle, each.
const CATCH_UP: Duration = Duration::from_secs(300);

/// Settles, checks and prints; true when nothing was lost or applied twice.
pub async fn finish(world: &World, mut churned: Churned, minutes: f64) -> bool {
    let caught_up = world.caught_up_within(CATCH_UP).await;
    let mut settled = world.settled_within(CATCH_UP).await;
    let dead = world.store.counts().unwrap().dead_letters;
    if dead > 0 {
        // As an operator would: every dead letter tried again once the faults are gone.
        let status = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .args(["retries", "--config"])
            .arg(&world.config)
            .args(["retry", "--all"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "hrsync retries retry --all: {status}");
        settled = world.settled_within(CATCH_UP).await;
    }
    churned.lives.push(churned.running.life());
    let counts = world.store.counts().unwrap();
    let stopped = churned.running.engine.terminate();

    let journal = checks::journal(world);
    let lost = checks::lost(world, &churned.changes, &journal).await;
    let twice = checks::twice(world).await;
    let differs = checks::differs(world, &journal);
    let audit_intact = matches!(world.store.verify_audit(), Ok(Ok(_)));

    let lost_n = lost.changes.len() + lost.latest.len();
    let twice_n = twice.writes.len() + twice.created.len() + twice.learners.len();
    let differs_n = if differs.result == "complete" {
        differs.unexplained.len()
    } else {
        usize::MAX
    };
    let lives = &churned.lives;
    let (first, last) = (&lives[0], &lives[lives.len() - 1]);
    println!(
        "soak: {minutes} min, {} HRIS changes, {} SIGKILLs: {} events journaled, {} applied, {} unchanged, \
         {} dead, {} rejected, {} held; lost {lost_n}, applied twice {twice_n}, LMS ≠ HRIS {differs_n}; \
         engine RSS {:.0} MB at the start, {:.0} MB at the end",
        churned.changes.len(),
        lives.len() - 1,
        counts.total,
        counts.applied,
        counts.unchanged,
        dead,
        counts.rejected,
        counts.held,
        first.started_mb,
        last.ended_mb,
    );
    let rows: Vec<(&str, String)> = vec![
        (
            "HRIS changes made by the churn",
            churned.changes.len().to_string(),
        ),
        ("faults injected (phases entered)", phases(&churned.faults)),
        (
            "SIGKILLs (engine restarted at once)",
            (lives.len() - 1).to_string(),
        ),
        (
            "engine exits not caused by a kill",
            churned.unexpected_exits.to_string(),
        ),
        (
            "events journaled (identity, by source)",
            format!("{} ({})", counts.total, journal.by_source),
        ),
        (
            "applied / unchanged",
            format!("{} / {}", counts.applied, counts.unchanged),
        ),
        (
            "dead letters (then retried; dead after that)",
            format!("{dead} ({})", counts.dead_letters),
        ),
        (
            "rejected / held / skipped",
            format!("{} / {} / {}", counts.rejected, counts.held, counts.skipped),
        ),
        (
            "deliveries acknowledged as already journaled",
            counts.duplicates.to_string(),
        ),
        ("lost: changes never journaled", count(&lost.changes)),
        (
            "lost: employees whose latest change was never journaled",
            count(&lost.latest),
        ),
        (
            "applied twice: one event's same write audited twice",
            count(&twice.writes),
        ),
        ("applied twice: learners created twice", count(&twice.created)),
        (
            "applied twice: employees with two learners",
            count(&twice.learners),
        ),
        (
            "LMS ≠ HRIS after settling, nothing waiting (employees)",
            by_employee(&differs.unexplained),
        ),
        (
            "LMS ≠ HRIS, employee waits for an operator or a date",
            by_employee(&differs.waiting),
        ),
        ("reconciliation", differs.result.clone()),
        (
            "caught up / settled / clean stop / audit chain intact",
            format!("{caught_up} / {settled} / {stopped} / {audit_intact}"),
        ),
    ];
    for (what, figure) in rows {
        println!("  {what:<58} {figure}");
    }
    println!("  engine runs (pid: minutes, RSS at start → end, peak):");
    for life in lives {
        println!(
            "    {}: {:.1} min, {:.0} → {:.0} MB, peak {:.0} MB",
            life.pid,
            life.seconds / 60.0,
            life.started_mb,
            life.ended_mb,
            life.peak_mb
        );
    }
    lost_n == 0 && twice_n == 0 && differs_n == 0 && caught_up && settled
}

/// "3 (146: job_title; 847: last_name, user_name, work_email; …)".
fn by_employee(found: &BTreeMap<String, Vec<String>>) -> String {
    let first: Vec<String> = found
        .iter()
        .take(5)
        .map(|(employee, fields)| format!("{employee}: {}", fields.join(", ")))
        .collect();
    match found.len() {
        0 => "0".into(),
        n => format!("{n} ({}{})", first.join("; "), if n > 5 { "; …" } else { "" }),
    }
}

fn count(ids: &[String]) -> String {
    match ids {
        [] => "0".into(),
        some => format!(
            "{} (first: {})",
            some.len(),
            some.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn phases(entered: &[(&str, usize)]) -> String {
    entered
        .iter()
        .filter(|(name, _)| *name != "calm")
        .map(|(name, times)| format!("{times}× {name}"))
        .collect::<Vec<_>>()
        .join("; ")
}

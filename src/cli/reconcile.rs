//! `hrsync reconcile`, `hrsync drift`, `hrsync duplicates` and `hrsync flags`:
//! a run on demand, and the operator's decisions on what runs find, for scripts.

use super::out::{follow, in_order, print_json, progress, say};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use serde_json::json;

use super::ops::StoreArgs;
use crate::config::Config;
use crate::connectors::Notifier;
use crate::console::sanitise::on_stdout;
use crate::engine::apply::resolve::{self, Resolved};
use crate::engine::operator::operator_name;
use crate::engine::reconcile::{Reconciler, RunResult};
use crate::model::{DriftCategory, GroupState};
use crate::store::{AuditKey, DuplicateGroup};

/// One run now, in this process; waits for it. Exit 0 when complete, 1 when it
/// failed, 2 when another run is under way.
pub async fn reconcile(config_path: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let contract = super::run::load_contract(&config.contract_path)?;
    let key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    let store = crate::engine::open_keyed(&config, key)?;
    let contract = Arc::new(parking_lot::RwLock::new(Arc::new(contract)));
    let reconciler = Reconciler {
        store: store.clone(),
        connections: crate::engine::connect::connect_in_force(&config, &store, &contract).await?,
        contract,
        notifier: Notifier::new(config.notify_url.clone()),
        progress: Default::default(),
    };
    // On a terminal, the run's progress on standard error while it runs.
    let bar = progress(0, "reconciliation", json_out);
    let drawing = follow(bar.clone(), reconciler.progress.clone());
    let result = reconciler.run("operator").await;
    drawing.abort();
    bar.finish_and_clear();
    let result = result?;
    if json_out {
        print_json(&result)?;
    } else {
        let run = result.run();
        match &result {
            RunResult::Complete { .. } => {
                say!(
                    "reconciliation {} complete: {} employees, {} learners, {} completions; {} findings ({} accepted left out)",
                    run.id,
                    run.employees,
                    run.learners,
                    run.completions,
                    run.total(),
                    run.accepted
                )?;
                for category in DriftCategory::ALL {
                    let critical = if category.is_critical() {
                        "  (critical)"
                    } else {
                        ""
                    };
                    say!(
                        "  {:<30} {:>7}{critical}",
                        category.as_str(),
                        run.count(*category)
                    )?;
                }
            }
            RunResult::Failed { .. } => say!(
                "reconciliation {} could not finish: {}; nothing is reported as drift",
                run.id,
                on_stdout(run.error.as_deref().unwrap_or("unknown"))
            )?,
            RunResult::AlreadyRunning { .. } => say!(
                "reconciliation {} is under way (started {}); not started twice",
                run.id,
                run.started_at
            )?,
        }
    }
    Ok(match result {
        RunResult::Complete { .. } => ExitCode::SUCCESS,
        RunResult::Failed { .. } => ExitCode::from(1),
        RunResult::AlreadyRunning { .. } => ExitCode::from(2),
    })
}

#[derive(Subcommand, Debug)]
pub enum DriftCommand {
    /// The latest complete run's items (or another run's), one category or all.
    List {
        /// Another run than the latest complete one (its id from `hrsync reconcile`).
        #[arg(long)]
        run: Option<i64>,
        /// Only this category's items.
        #[arg(long, value_name = "CATEGORY", value_parser = categories())]
        category: Option<String>,
    },
    /// Push the owner's value now, through the normal pipeline.
    Fix {
        /// The drift items' ids (`hrsync drift list`).
        ids: Vec<i64>,
    },
    /// Hand items to the HRIS admin's queue with a note.
    Flag {
        /// The drift items' ids.
        ids: Vec<i64>,
        /// What the HRIS admin should know (kept in the audit log).
        #[arg(long)]
        note: String,
    },
    /// Accept items: not reported again while their values stay (or until --days pass).
    Accept {
        /// The drift items' ids.
        ids: Vec<i64>,
        /// Why the difference is acceptable (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Accept for this many days only (default: while the values stay).
        #[arg(long)]
        days: Option<u32>,
    },
}

/// The drift categories, as `--category` takes them (and `--help` lists them).
fn categories() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(DriftCategory::ALL.iter().map(|c| c.as_str()))
}

fn print_resolved(json_out: bool, done: &[Resolved]) -> anyhow::Result<ExitCode> {
    if json_out {
        print_json(done)?;
    }
    let mut refused = false;
    for r in done {
        match &r.result {
            Ok(state) if !json_out => say!("drift item {}: {state}", r.item)?,
            Ok(_) => {}
            Err(why) => {
                refused = true;
                eprintln!("drift item {}: not done: {why}", r.item)
            }
        }
    }
    if refused {
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

pub fn drift(args: &StoreArgs, command: &DriftCommand) -> anyhow::Result<ExitCode> {
    let store = match command {
        DriftCommand::List { .. } => args.open_read_only()?,
        _ => super::audit::keyed(args.open()?, args)?,
    };
    let actor = operator_name();
    Ok(match command {
        DriftCommand::List { run, category } => {
            let category = match category {
                Some(word) => Some(DriftCategory::parse(word).ok_or_else(|| {
                    let known: Vec<&str> = DriftCategory::ALL.iter().map(|c| c.as_str()).collect();
                    anyhow::anyhow!("unknown category {word:?}; one of {}", known.join(", "))
                })?),
                None => None,
            };
            let run = match run {
                Some(id) => store
                    .reconcile_run(*id)?
                    .ok_or_else(|| anyhow::anyhow!("no run {id}"))?,
                None => match store.latest_complete_run()? {
                    Some(run) => run,
                    // Nothing found yet is an empty result, not a failure.
                    None if args.json => {
                        print_json(&json!({ "run": null, "items": [] }))?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    None => {
                        say!("no complete reconciliation yet: `hrsync reconcile` runs one")?;
                        return Ok(ExitCode::SUCCESS);
                    }
                },
            };
            let mut items = Vec::new();
            loop {
                let page = store.drift_items_page(run.id, category, items.len(), 1000)?;
                let done = page.len() < 1000;
                items.extend(page);
                if done {
                    break;
                }
            }
            if args.json {
                print_json(&json!({ "run": run, "items": items }))?;
            } else {
                say!("run {} ({}), {} items", run.id, run.started_at, items.len())?;
                for i in &items {
                    say!(
                        "{:>7}  {:<28} {:<10} {:<18} hris={} lms={} [{}]",
                        i.id,
                        i.category.as_str(),
                        on_stdout(&i.employee_id),
                        on_stdout(&i.field),
                        on_stdout(i.hris_value.as_deref().unwrap_or("-")),
                        on_stdout(i.lms_value.as_deref().unwrap_or("-")),
                        i.state
                    )?;
                }
            }
            ExitCode::SUCCESS
        }
        DriftCommand::Fix { ids } => print_resolved(args.json, &resolve::fix(&store, &actor, ids)?)?,
        DriftCommand::Flag { ids, note } => {
            print_resolved(args.json, &resolve::flag(&store, &actor, ids, note)?)?
        }
        DriftCommand::Accept { ids, reason, days } => {
            let expires =
                days.map(|d| jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * d as i64));
            print_resolved(args.json, &resolve::accept(&store, &actor, ids, reason, expires)?)?
        }
    })
}

#[derive(Subcommand, Debug)]
pub enum DuplicatesCommand {
    /// Suspected groups, open and flagged first.
    List {
        /// Decided groups too.
        #[arg(long)]
        all: bool,
        /// Oldest first (the default is newest first, as the console lists them).
        #[arg(long)]
        oldest_first: bool,
    },
    /// Not a duplicate: remembered; the held records sync.
    NotDuplicate {
        /// The group's id (`hrsync duplicates list`).
        group: i64,
        /// Why they are different people (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Hand the group to the HRIS admin with a note; the newcomers stay held.
    Flag {
        /// The group's id.
        group: i64,
        /// What the HRIS admin should know (kept in the audit log).
        #[arg(long)]
        note: String,
    },
    /// Learner side: link the right learner to the employee.
    Link {
        /// The group's id.
        group: i64,
        /// The learner's SCIM id, of the group's members.
        #[arg(long)]
        learner: String,
        /// The employee id it belongs to.
        #[arg(long)]
        employee: String,
    },
}

fn print_groups(json_out: bool, groups: &[DuplicateGroup]) -> anyhow::Result<()> {
    if json_out {
        return print_json(groups);
    }
    for g in groups {
        let members: Vec<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
        say!(
            "group {:>5}  {:<4} {:<24} {:<13} {}",
            g.id,
            g.side.as_str(),
            g.basis.describe(),
            g.state.as_str(),
            on_stdout(&members.join(", "))
        )?;
    }
    Ok(())
}

pub fn duplicates(args: &StoreArgs, command: &DuplicatesCommand) -> anyhow::Result<ExitCode> {
    let store = match command {
        DuplicatesCommand::List { .. } => args.open_read_only()?,
        _ => super::audit::keyed(args.open()?, args)?,
    };
    let actor = operator_name();
    match command {
        DuplicatesCommand::List { all, oldest_first } => {
            let states: &[GroupState] = if *all {
                &[]
            } else {
                &[GroupState::Open, GroupState::Flagged]
            };
            let mut groups = Vec::new();
            loop {
                let page = store.duplicate_groups(states, groups.len(), 500)?;
                let done = page.len() < 500;
                groups.extend(page);
                if done {
                    break;
                }
            }
            // Open before flagged before decided, each newest first as the store lists them.
            if *oldest_first {
                groups.sort_by_key(|g| (g.state != GroupState::Open, g.state != GroupState::Flagged, g.id));
            }
            print_groups(args.json, &groups)?;
        }
        DuplicatesCommand::NotDuplicate { group, reason } => print_groups(
            args.json,
            &[resolve::not_duplicate(&store, &actor, *group, reason)?],
        )?,
        DuplicatesCommand::Flag { group, note } => print_groups(
            args.json,
            &[resolve::flag_duplicate(&store, &actor, *group, note)?],
        )?,
        DuplicatesCommand::Link {
            group,
            learner,
            employee,
        } => print_groups(
            args.json,
            &[resolve::link(&store, &actor, *group, learner, employee)?],
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand, Debug)]
pub enum FlagsCommand {
    /// The HRIS admin's queue: drift and duplicates operators handed over.
    List {
        /// Oldest first (the default is newest first, as the console lists them).
        #[arg(long)]
        oldest_first: bool,
    },
}

pub fn flags(args: &StoreArgs, command: &FlagsCommand) -> anyhow::Result<ExitCode> {
    let store = args.open_read_only()?;
    let FlagsCommand::List { oldest_first } = command;
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |f: &crate::store::Flag| f.id);
        let page = store.flags(after, 1000)?;
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            break;
        }
    }
    let all = in_order(all, *oldest_first);
    if args.json {
        print_json(&all)?;
    } else {
        for f in &all {
            say!(
                "{:>5}  {}  {:<9} {:<10} {}: {}  ({})",
                f.id,
                f.at,
                f.kind,
                on_stdout(f.employee_id.as_deref().unwrap_or("-")),
                on_stdout(&f.subject),
                on_stdout(&f.note),
                on_stdout(&f.actor)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

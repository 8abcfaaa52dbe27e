//! The operator commands on a store: status, retries, held deactivations, audit.
//! They work beside a running engine (SQLite WAL, one writer at a time); each
//! prints for people, or JSON with `--json` for scripts.

use super::out::{in_order, print_json, progress, say};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::engine::operator::{self, operator_name};
use crate::model::{Event, EventId, EventStatus};
use crate::store::csv_cells::CsvCells;
use crate::store::private_files::write_replacing;
use crate::store::{AuditFormat, Store};

/// Which store a command works on.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// The configuration whose store (`[store] path` or `url`) to use.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// The store file itself (instead of --config).
    #[arg(long, value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
    /// Print JSON for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

impl StoreArgs {
    /// For commands that change the store: read-write, migrated to this hrsync's schema.
    pub fn open(&self) -> anyhow::Result<Store> {
        open_store(self.db.as_deref(), self.config.as_deref(), false)
    }

    /// For commands that only read: nothing is written, so they work on a read-only
    /// copy kept as evidence, and never migrate a store another hrsync still uses.
    pub fn open_read_only(&self) -> anyhow::Result<Store> {
        open_store(self.db.as_deref(), self.config.as_deref(), true)
    }

    /// The live window of `hrsync status`: `[store] lease_seconds` of the
    /// configuration, else its default.
    fn lease_time(&self) -> std::time::Duration {
        let configured = self.config.as_deref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            Config::parse(path, &text, |_| Some("unused".into())).ok()
        });
        configured.map_or(crate::config::DEFAULT_LEASE_TIME, |c| c.lease_time)
    }
}

/// Opens an existing store: the SQLite file `db`, or the store `config` names
/// (its SQLite file, or its PostgreSQL database with the password from
/// `[store] password_env`). Read-only for the commands that only look.
pub fn open_store(db: Option<&Path>, config: Option<&Path>, read_only: bool) -> anyhow::Result<Store> {
    let path = match (db, config) {
        (Some(db), _) => db.to_path_buf(),
        (None, Some(config)) => {
            let config = store_config(config)?;
            if let Some(postgres) = &config.store_url {
                let (url, password) = (&postgres.url, postgres.password.as_ref());
                let opened = match read_only {
                    true => Store::open_postgres_read_only(url, password),
                    false => Store::open_postgres(url, password),
                };
                return opened.with_context(|| format!("opening the store {url}"));
            }
            config.store_path
        }
        (None, None) => anyhow::bail!("say which store: --config FILE or --db PATH"),
    };
    if !path.exists() {
        anyhow::bail!("no store at {} (has `hrsync run` started there?)", path.display());
    }
    let opened = match read_only {
        true => Store::open_read_only(&path),
        false => Store::open(&path),
    };
    let how = if read_only { " read-only" } else { "" };
    opened.with_context(|| format!("opening the store {}{how}", path.display()))
}

/// A configuration read to find its store. The other secrets are not needed for
/// that, so any value stands in for one that is not set; a PostgreSQL store's
/// password is, and must be set.
pub fn store_config(config: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let loaded = Config::parse(config, &text, |var| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .or(Some("unused".into()))
    })?;
    let password_env = loaded
        .store_url
        .as_ref()
        .and_then(|pg| pg.password_env.as_deref());
    if let Some(var) = password_env
        && !std::env::var(var).is_ok_and(|v| !v.is_empty())
    {
        anyhow::bail!(
            "{}: [store] password_env names {var}, which is not set: the PostgreSQL store's \
             password is needed to open it",
            config.display()
        );
    }
    Ok(loaded)
}

#[derive(Subcommand, Debug)]
pub enum RetriesCommand {
    /// The dead letters (or, with a flag, another queue): attempts, last error, HTTP status.
    List {
        /// Instead, the events waiting behind an earlier open event of their
        /// employee (blocked), each naming the event it waits for.
        #[arg(long, group = "queue")]
        blocked: bool,
        /// Instead, the events the engine will try again by itself, with their next attempt.
        #[arg(long, group = "queue")]
        retrying: bool,
        /// Instead, the events refused for good (a contract violation, a 4xx), with why.
        #[arg(long, group = "queue")]
        rejected: bool,
        /// Instead, the events planned in shadow mode, with the write each would make.
        #[arg(long, group = "queue")]
        shadowed: bool,
        /// Oldest first (the default is newest first, as the console lists them).
        #[arg(long)]
        oldest_first: bool,
    },
    /// Try events again now: retrying ones without waiting for their next attempt,
    /// dead letters, or rejected ones after a fix.
    Retry {
        /// The events' ids (dead letters, retrying or rejected events).
        ids: Vec<i64>,
        /// Every retrying event and dead letter (once the failing system is back).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Close an event without applying it.
    Skip {
        /// The event's id.
        id: i64,
        /// Why it is closed unapplied (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Close an event and hand it to the HRIS admin.
    Flag {
        /// The event's id.
        id: i64,
        /// What the HRIS admin should know (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ShadowCommand {
    /// Leave shadow mode for good: the engine writes from now on, and every shadowed
    /// event is planned again against the LMS and the HRIS as they are then.
    Leave {
        /// Why shadow mode is left (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum HeldCommand {
    /// Deactivations held by the safety threshold.
    List {
        /// Oldest first (the default is newest first, as the console lists them).
        #[arg(long)]
        oldest_first: bool,
    },
    /// Apply held deactivations.
    Confirm {
        /// The held events' ids.
        ids: Vec<i64>,
        /// Every held deactivation.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Drop held deactivations, with a reason.
    Reject {
        /// The held events' ids.
        ids: Vec<i64>,
        /// Every held deactivation.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Why they are dropped (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum FilesCommand {
    /// The HRIS export files seen (`[hris] kind = "csv"`): taken, refused or held, with counts.
    List {
        /// How many, newest decision first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Let a held export (many fewer rows than the one before) through: it is taken at the
    /// next look at the inbox.
    Confirm {
        /// The file's id, from `hrsync files list`.
        id: i64,
        /// Why it is right (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the chain: an edited, removed, reordered or rechained entry is found; against a
    /// checkpoint, also a log rewritten, cut short or emptied since.
    Verify {
        /// A checkpoint from `hrsync audit checkpoint`, kept outside the store.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
        /// An environment variable holding an audit key to check with (repeatable), besides
        /// `[audit] key_env` and `previous_key_envs` (HRSYNC_AUDIT_KEY with --db).
        #[arg(long = "key-env", value_name = "NAME")]
        key_env: Vec<String>,
    },
    /// Print the log's head (sequence, hash, key id, time) as JSON, or write it to a file
    /// (0600), to keep outside the store; the log must verify first.
    Checkpoint {
        /// Write it to this file (0600, replaced atomically) instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// As for `verify`.
        #[arg(long = "key-env", value_name = "NAME")]
        key_env: Vec<String>,
    },
    /// Write the log out.
    Export {
        /// JSON Lines (one entry a line) or CSV.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only this employee's history.
        #[arg(long)]
        employee: Option<String>,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// CSV cells exactly as stored: turns off the leading ' that keeps a
        /// spreadsheet from running a cell starting with = + - @, tab or CR as a formula.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

pub fn status(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let store = args.open_read_only()?;
    let counts = store.counts()?;
    let poll = store.cursor(crate::engine::intake::initial_load::POLL_CURSOR)?;
    let loaded = store.cursor(crate::engine::intake::initial_load::DONE_CURSOR)?;
    // What the engine last published: its state, each system's health, its problems.
    let engine = crate::engine::operator::status::EngineStatus::read(&store)?;
    let now = jiff::Timestamp::now();
    let stale = engine.as_ref().is_none_or(|e| e.is_stale(now));
    let pause = crate::engine::operator::status::pause_requested(&store)?;
    // A store an older hrsync made read-only has no engines table: said, not fatal.
    let engines = crate::store::Engines::engines(&store, args.lease_time()).map_err(|e| e.to_string());
    if args.json {
        print_json(
            &json!({ "store": store.location(), "counts": counts, "poll_cursor": poll, "initial_load_done": loaded,
                    "engine": engine, "engine_status_stale": stale, "pause_requested": pause,
                    "engines": engines.as_ref().ok().map(|e| super::engines::as_json(e)) }),
        )?;
    } else {
        use crate::console::sanitise::on_stdout;
        match &engine {
            Some(e) if !stale => say!(
                "engine {} (pid {}, status {}s old){}",
                e.state.as_str(),
                e.pid,
                now.duration_since(e.updated_at).as_secs(),
                if pause { ", paused by an operator" } else { "" }
            )?,
            Some(e) => say!(
                "engine: no status for {}s (last said {}); is it running?",
                now.duration_since(e.updated_at).as_secs(),
                e.state.as_str()
            )?,
            None => say!("engine: has never published a status")?,
        }
        for system in engine.iter().flat_map(|e| &e.systems) {
            say!(
                "  {} {} since {}{}",
                system.system.label(),
                system.state,
                system.since.strftime("%H:%M:%S UTC"),
                system
                    .last_error
                    .as_deref()
                    .map_or(String::new(), |e| format!(": {}", on_stdout(e)))
            )?;
        }
        if let Some(work) = engine.as_ref().filter(|_| !stale).and_then(|e| e.work.as_ref()) {
            let far = work
                .percent()
                .map_or(format!("{} so far", work.done), |p| format!("{p}%"));
            say!("  under way: {}, {far}", work.what)?;
        }
        for problem in engine.iter().flat_map(|e| &e.problems) {
            say!("  problem: {}", on_stdout(problem))?;
        }
        match &engines {
            Ok(engines) => super::engines::say_engines(engines, now)?,
            Err(error) => say!("engines: cannot be read: {}", on_stdout(error))?,
        }
        say!("store {}", store.location())?;
        say!(
            "events {}: {} pending, {} retrying, {} applied, {} unchanged, {} dead letters, {} rejected, {} held, {} skipped, {} flagged; {} duplicate deliveries",
            counts.total,
            counts.pending,
            counts.retrying,
            counts.applied,
            counts.unchanged,
            counts.dead_letters,
            counts.rejected,
            counts.held,
            counts.skipped,
            counts.flagged,
            counts.duplicates
        )?;
        say!("initial load: {}", loaded.as_deref().unwrap_or("not done yet"))?;
        say!("HRIS polled up to: {}", poll.as_deref().unwrap_or("never"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ids(ids: &[i64]) -> Vec<EventId> {
    ids.iter().map(|&id| EventId(id)).collect()
}

fn print_events(json: bool, events: &[Event], what: &str) -> anyhow::Result<()> {
    use crate::console::sanitise::on_stdout;
    if json {
        return print_json(events);
    }
    if events.is_empty() {
        say!("no {what}")?;
    }
    // On a terminal, values from the HRIS or LMS are shown escaped (on_stdout).
    for e in events {
        // A retrying event says when the engine tries it next.
        let next = match (e.status, e.next_attempt_at) {
            (EventStatus::Retrying, Some(at)) => format!(" (next {})", at.strftime("%H:%M:%S UTC")),
            _ => String::new(),
        };
        say!(
            "{:>8}  {:<12} employee {:<10} {:<8} attempts {}{next}  {}{}",
            e.id,
            e.status.as_str(),
            on_stdout(&e.employee_id),
            on_stdout(&e.kind),
            e.attempts,
            e.last_http_status
                .map(|s| format!("HTTP {s}: "))
                .unwrap_or_default(),
            // A held-back event says first what it waits for.
            on_stdout(
                (e.note.as_deref().filter(|n| n.starts_with("waiting behind")))
                    .or(e.last_error.as_deref())
                    .or(e.note.as_deref())
                    .unwrap_or("")
            )
        )?;
    }
    Ok(())
}

pub fn retries(args: &StoreArgs, command: &RetriesCommand) -> anyhow::Result<ExitCode> {
    let store = match command {
        RetriesCommand::List { .. } => args.open_read_only()?,
        _ => super::audit::keyed(args.open()?, args)?,
    };
    let actor = operator_name();
    match command {
        RetriesCommand::List {
            blocked,
            retrying,
            rejected,
            shadowed,
            oldest_first,
        } => {
            let (status, what) = if *shadowed {
                (Some(EventStatus::Shadowed), "shadowed events")
            } else if *retrying {
                (Some(EventStatus::Retrying), "retrying events")
            } else if *rejected {
                (Some(EventStatus::Rejected), "rejected events")
            } else if *blocked {
                (None, "events waiting behind another")
            } else {
                (Some(EventStatus::DeadLetter), "dead letters")
            };
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = match status {
                    Some(status) => store.with_status(status, after, 1000)?,
                    None => store.waiting_behind(after, 1000)?,
                };
                let Some(last) = page.last() else { break };
                after = Some(last.id);
                all.extend(page);
            }
            print_events(args.json, &in_order(all, *oldest_first), what)?;
        }
        RetriesCommand::Retry { ids: chosen, all } => {
            if chosen.is_empty() && !all {
                anyhow::bail!("name the events to retry, or --all");
            }
            let done = if *all {
                operator::retry_all_failing(&store, &actor)?
            } else {
                operator::retry(&store, &actor, &ids(chosen))?
            };
            print_events(args.json, &done, "retrying events or dead letters to retry")?;
        }
        RetriesCommand::Skip { id, reason } => {
            let event = operator::skip(&store, &actor, EventId(*id), reason)?;
            print_events(args.json, &[event], "events")?;
        }
        RetriesCommand::Flag { id, reason } => {
            let event = operator::flag(&store, &actor, EventId(*id), reason)?;
            print_events(args.json, &[event], "events")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn shadow(args: &StoreArgs, command: &ShadowCommand) -> anyhow::Result<ExitCode> {
    let store = super::audit::keyed(args.open()?, args)?;
    let actor = operator_name();
    match command {
        ShadowCommand::Leave { reason } => {
            let requeued = crate::engine::apply::shadow::leave(&store, &actor, reason)?;
            if args.json {
                print_json(&json!({ "left_by": actor, "events_applied_afresh": requeued.len() }))?;
            } else {
                say!(
                    "shadow mode left by {actor}: the engine writes from now on; {} shadowed event(s) \
                     are planned again and applied",
                    requeued.len()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn held(args: &StoreArgs, command: &HeldCommand) -> anyhow::Result<ExitCode> {
    let store = match command {
        HeldCommand::List { .. } => args.open_read_only()?,
        _ => super::audit::keyed(args.open()?, args)?,
    };
    let actor = operator_name();
    let chosen = |list: &[i64], all: bool| -> anyhow::Result<Vec<EventId>> {
        match (list.is_empty(), all) {
            (_, true) => Ok(operator::all_held(&store)?),
            (false, false) => Ok(ids(list)),
            (true, false) => anyhow::bail!("name the held events, or --all"),
        }
    };
    match command {
        HeldCommand::List { oldest_first } => {
            let held: Vec<Event> = operator::all_held(&store)?
                .into_iter()
                .filter_map(|id| store.event(id).ok().flatten().map(|d| d.event))
                .collect();
            print_events(args.json, &in_order(held, *oldest_first), "held deactivations")?;
        }
        HeldCommand::Confirm { ids: list, all } => {
            let done = operator::confirm_held(&store, &actor, &chosen(list, *all)?)?;
            print_events(args.json, &done, "held deactivations")?;
        }
        HeldCommand::Reject {
            ids: list,
            all,
            reason,
        } => {
            let done = operator::reject_held(&store, &actor, &chosen(list, *all)?, reason)?;
            print_events(args.json, &done, "held deactivations")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn files(args: &StoreArgs, command: &FilesCommand) -> anyhow::Result<ExitCode> {
    match command {
        FilesCommand::List { limit } => {
            let files = args.open_read_only()?.export_files(*limit)?;
            if args.json {
                print_json(&files)?;
            } else if files.is_empty() {
                say!("no HRIS export files seen yet")?;
            } else {
                for f in &files {
                    let c = &f.counts;
                    say!(
                        "{:>5} {:<9} {} rows {} rejected {} +{} ~{} -{} ={}  {}{}",
                        f.id,
                        f.state.as_str(),
                        crate::console::sanitise::visible(&f.name),
                        c.rows,
                        c.rejected,
                        c.inserted,
                        c.updated,
                        c.missing,
                        c.unchanged,
                        f.modified,
                        f.reason
                            .as_deref()
                            .map(|r| format!("\n      {}", crate::console::sanitise::visible(r)))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
        FilesCommand::Confirm { id, reason } => {
            if reason.trim().is_empty() {
                anyhow::bail!("--reason must say why the export is right");
            }
            let store = super::audit::keyed(args.open()?, args)?;
            let file = crate::engine::intake::files::confirm_held(&store, *id, &operator_name(), reason)
                .map_err(anyhow::Error::msg)?;
            if args.json {
                print_json(&file)?;
            } else {
                say!(
                    "export file {} ({}) confirmed: it is taken at the next look at the inbox",
                    file.id,
                    file.name
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn audit(args: &StoreArgs, command: &AuditCommand) -> anyhow::Result<ExitCode> {
    // Verify and export only read.
    let store = args.open_read_only()?;
    match command {
        AuditCommand::Verify { against, key_env } => {
            super::audit::verify(&store, args, key_env, against.as_deref())
        }
        AuditCommand::Checkpoint { out, key_env } => {
            super::audit::checkpoint(&store, args, key_env, out.as_deref())
        }
        AuditCommand::Export {
            format,
            employee,
            out,
            raw,
        } => {
            let format = match format {
                ExportFormat::Jsonl => AuditFormat::Jsonl,
                ExportFormat::Csv => AuditFormat::Csv,
            };
            let cells = if *raw { CsvCells::Raw } else { CsvCells::Guarded };
            // Not over the entries themselves on a terminal.
            let shown = out.is_some() || !std::io::stdout().is_terminal();
            let total = store.audit_entries(employee.as_deref())?;
            let bar = progress(total, "exporting the audit log", !shown);
            let each = |n| bar.set_position(n);
            let employee = employee.as_deref();
            let written = match out {
                // Never through a symlink planted at --out, and readable by the owner only.
                Some(path) => write_replacing(path, |file| {
                    let out = std::io::BufWriter::new(file);
                    Ok(store.export_audit_counted(format, cells, employee, out, &each)?)
                })?,
                None => store.export_audit_counted(format, cells, employee, std::io::stdout(), &each)?,
            };
            bar.finish_and_clear();
            eprintln!("{written} audit entries written");
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! The command line: which part of hrsync a command starts.

mod audit;
mod console;
mod doctor;
mod doctor_feed;
mod engines;
mod ops;
pub mod out;
mod parallel;
mod preview;
mod reconcile;
mod run;
mod trace;
mod writeback;

pub use run::{sandbox_config, sandbox_config_from};

use out::say;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::sandbox::faults::Faults;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::store::private_files;

#[derive(Parser, Debug)]
#[command(
    name = "hrsync",
    version,
    about = "Keeps an HRIS and an LMS in step, with an operations console"
)]
pub struct Cli {
    /// Where the log goes (never to the terminal).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the simulated HRIS, LMS and LRS; the first stdout line is their URLs and credentials as JSON.
    Sandbox(SandboxArgs),
    /// The whole thing on the built-in sandbox.
    Demo {
        /// How many employees the simulated HRIS starts with.
        #[arg(long, default_value_t = 2000)]
        employees: usize,
        /// HRIS changes (and LRS completions) per second.
        #[arg(long, default_value_t = 2.0, value_name = "PER_SEC")]
        churn: f64,
        /// Print progress lines instead of opening the console.
        #[arg(long)]
        headless: bool,
        /// A JSON fault set (as `hrsync sandbox --faults`) instead of the demo's light sprinkle.
        #[arg(long, value_name = "FILE")]
        faults: Option<PathBuf>,
        /// No colours (as NO_COLOR does).
        #[arg(long)]
        no_color: bool,
        /// Where the HRIS's employees come from: its API (`bamboohr`), or (`csv`) nightly
        /// exports the sandbox writes to a folder every 20 s, taken as flat files.
        #[arg(long, value_name = "KIND", default_value = "bamboohr", value_parser = ["bamboohr", "csv"])]
        hris: String,
        /// Shadow mode: plan every write, make none (as `[mode] shadow = true`).
        #[arg(long)]
        shadow: bool,
    },
    /// Work with the mapping contract.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Run the engine headless until SIGINT/SIGTERM.
    Run {
        /// The configuration (assets/hrsync.example.toml shows every key).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Shadow mode: plan every write, make none (as `[mode] shadow = true`).
        #[arg(long)]
        shadow: bool,
    },
    /// The operations console: the engine and the console here, or attached to a running engine.
    Console(console::ConsoleArgs),
    /// The journal's counts and cursors.
    Status(ops::StoreArgs),
    /// Shadow mode: leave it (audited), after which the shadowed events are applied afresh.
    Shadow {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: ops::ShadowCommand,
    },
    /// Dead letters: list, retry, skip, flag.
    Retries {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: ops::RetriesCommand,
    },
    /// Deactivations held by the safety threshold: list, confirm, reject.
    Held {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: ops::HeldCommand,
    },
    /// HRIS export files (flat-file mode): list them, confirm a held one.
    Files {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: ops::FilesCommand,
    },
    /// The hash-chained audit log: verify, checkpoint, export.
    Audit {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: ops::AuditCommand,
    },
    /// Credentials the write-back has seen: which expire soon, and whether the HRIS has them.
    Credentials {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(flatten)]
        contract: writeback::ContractArg,
        #[command(subcommand)]
        command: writeback::CredentialsCommand,
    },
    /// Run a reconciliation now (both sides pulled in full and compared) and wait for it.
    Reconcile {
        /// The configuration naming the systems and the store (as `run` takes).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Follow one employee through the pipeline: the HRIS record, scope, mapping,
    /// the learner found, the plan, their events and drift, each with what decided it.
    Trace {
        /// The employee's HRIS id.
        employee_id: String,
        /// The configuration naming the systems and the store (as `run` takes).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Journal the employee's record as it is now; the engine applies it like any change (audited).
        #[arg(long, requires = "reason")]
        apply: bool,
        /// Why the record is journaled (with `--apply`; kept in the audit log).
        #[arg(long, requires = "apply")]
        reason: Option<String>,
        /// Print the trace as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The parallel run against the legacy process: compare a day, the streak, explain a difference, report, cut over.
    Parallel {
        #[command(subcommand)]
        command: ParallelCommand,
    },
    /// Probe the HRIS, LMS and LRS with reads only: what each supports, and what hrsync will do differently.
    Doctor {
        #[arg(
            long,
            value_name = "FILE",
            help = "The configuration naming the systems (as `run` takes)"
        )]
        config: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What reconciliation found: list, fix, flag, accept.
    Drift {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: reconcile::DriftCommand,
    },
    /// Suspected duplicate employees and learners: list, not-duplicate, flag, link.
    Duplicates {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: reconcile::DuplicatesCommand,
    },
    /// The HRIS admin's queue of flagged drift and duplicates.
    Flags {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(subcommand)]
        command: reconcile::FlagsCommand,
    },
    /// Export for systems without an API.
    Export {
        #[command(flatten)]
        store: ops::StoreArgs,
        #[command(flatten)]
        contract: writeback::ContractArg,
        #[command(subcommand)]
        command: writeback::ExportCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ParallelCommand {
    /// Compare the legacy process's CSV for a day with hrsync's output that day, and keep it.
    Compare {
        /// The legacy process's CSV of what it put in the LMS that day.
        #[arg(long, value_name = "FILE")]
        legacy: PathBuf,
        /// The day the file is for (YYYY-MM-DD).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: jiff::civil::Date,
        /// The configuration naming the systems, the store and `[parallel]`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Each business day, its state, the streak of clean days and whether the cutover bar is reached.
    Status {
        /// The configuration naming the store and `[parallel]`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mark a difference explained while its values stay the same (audited).
    Explain {
        /// The employee's id.
        #[arg(long, value_name = "ID")]
        employee: String,
        /// The field: a contract field, `active`, `groups` or `learner`.
        #[arg(long, value_name = "F")]
        field: String,
        /// Why the two differ, e.g. "legacy kept contractors" (kept in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// The configuration naming the store and `[parallel]`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Write the sign-off report: each business day (clean, differences, missing)
    /// with its differences by kind, the streak and the bar, and every explained
    /// difference with its reason, who explained it and when.
    Report {
        /// The Markdown report to write; the JSON goes beside it with the extension
        /// `.json` (`--out signoff.md` writes signoff.md and signoff.json). Each is
        /// written whole (a temporary file, then a rename), replacing an older one.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The configuration naming the store and `[parallel]`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print where the report went and the streak as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leave shadow mode once the streak reaches `required_days` (audited as
    /// `parallel.cutover` and `mode.live`); the shadowed events are applied afresh.
    /// Refused, exiting non-zero, below the bar or outside shadow mode.
    Cutover {
        /// Cut over below the bar; needs --reason.
        #[arg(long, requires = "reason")]
        force: bool,
        /// Why (required with --force; kept in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// The configuration naming the store and `[parallel]`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ContractCommand {
    /// Check a contract file: print a summary, or each problem with its line and exit non-zero.
    Check {
        /// The contract file (TOML) to check.
        file: PathBuf,
    },
    /// What a new contract would do to the population, from a fresh HRIS pull:
    /// learner fields changed, scope in and out, deactivations, enrolments and
    /// new rejections. Exits 3 when the deactivations exceed [safety], 1 when
    /// the new contract has problems.
    Preview {
        /// The new contract file (TOML), compared with the one the configuration names.
        file: PathBuf,
        /// The configuration naming the HRIS, the store and the contract in force.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print the impact as JSON.
        #[arg(long)]
        json: bool,
        /// Employees shown per count.
        #[arg(long, value_name = "N", default_value_t = crate::contract::impact::DEFAULT_EXAMPLES)]
        examples: usize,
    },
}

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Where to listen (port 0: any free port; the first line says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// How many employees the simulated HRIS starts with.
    #[arg(long, default_value_t = 1000)]
    pub employees: usize,
    /// The seed of the generated world: the same seed, the same people.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// HRIS changes per second.
    #[arg(long, default_value_t = 0.0, value_name = "PER_SEC")]
    pub churn: f64,
    /// xAPI completions per second.
    #[arg(long, default_value_t = 0.0, value_name = "PER_SEC")]
    pub completions: f64,
    /// Where HRIS webhooks are posted.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<url::Url>,
    /// A JSON fault set, as POST /_sandbox/faults takes.
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// The company name in the HRIS URL path.
    #[arg(long, default_value = "acme")]
    pub company: String,
    /// Write nightly-style CSV exports here (the HRIS's employees, the LRS's
    /// completions) at start and every --export-every seconds.
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// Seconds between exports after the first.
    #[arg(
        long,
        value_name = "S",
        default_value_t = crate::sandbox::export::DEFAULT_EVERY.as_secs(),
        requires = "export_dir",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub export_every: u64,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Contract(ContractCommand::Check { file }) => return check_contract(file),
        Command::Status(store) => return ops::status(store),
        Command::Retries { store, command } => return ops::retries(store, command),
        Command::Held { store, command } => return ops::held(store, command),
        Command::Shadow { store, command } => return ops::shadow(store, command),
        Command::Audit { store, command } => return ops::audit(store, command),
        Command::Files { store, command } => return ops::files(store, command),
        Command::Credentials {
            store,
            contract,
            command,
        } => return writeback::credentials(store, contract, command),
        Command::Export {
            store,
            contract,
            command,
        } => return writeback::export(store, contract, command),
        Command::Drift { store, command } => return reconcile::drift(store, command),
        Command::Duplicates { store, command } => return reconcile::duplicates(store, command),
        Command::Flags { store, command } => return reconcile::flags(store, command),
        Command::Parallel {
            command: ParallelCommand::Status { config, json },
        } => return parallel::status(config, *json),
        Command::Parallel {
            command:
                ParallelCommand::Explain {
                    employee,
                    field,
                    reason,
                    config,
                },
        } => return parallel::explain(config, employee, field, reason),
        Command::Parallel {
            command: ParallelCommand::Report { out, config, json },
        } => return parallel::report(config, out, *json),
        Command::Parallel {
            command:
                ParallelCommand::Cutover {
                    force,
                    reason,
                    config,
                    json,
                },
        } => return parallel::cutover(config, *force, reason.as_deref(), *json),
        _ => {}
    }
    let log_file = match &cli.log_file {
        Some(path) => path.clone(),
        None => default_log_file()?,
    };
    let _log_guard = init_logging(&log_file)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    if let Command::Contract(ContractCommand::Preview {
        file,
        config,
        json,
        examples,
    }) = &cli.command
    {
        return runtime.block_on(preview::preview(file, config, *json, *examples));
    }
    if let Command::Reconcile { config, json } = &cli.command {
        return runtime.block_on(reconcile::reconcile(config, *json));
    }
    if let Command::Trace {
        employee_id,
        config,
        apply,
        reason,
        json,
    } = &cli.command
    {
        let apply = reason.as_deref().filter(|_| *apply);
        return runtime.block_on(trace::trace(config, employee_id, *json, apply));
    }
    if let Command::Parallel {
        command:
            ParallelCommand::Compare {
                legacy,
                date,
                config,
                json,
            },
    } = &cli.command
    {
        return runtime.block_on(parallel::compare(config, legacy, *date, *json));
    }
    if let Command::Doctor { config, json } = &cli.command {
        return runtime.block_on(doctor::doctor(config, *json));
    }
    runtime.block_on(async move {
        match cli.command {
            Command::Sandbox(args) => sandbox(args).await,
            Command::Demo {
                employees,
                churn,
                headless,
                faults,
                no_color,
                hris,
                shadow,
            } => {
                let options = run::DemoOptions {
                    employees,
                    churn,
                    headless,
                    faults: faults.as_deref().map(read_faults).transpose()?,
                    no_color,
                    hris_files: hris == "csv",
                    shadow,
                };
                run::demo(options, &log_file).await
            }
            Command::Run { config, shadow } => run::headless(&config, shadow).await,
            Command::Console(args) => console::run(args).await,
            _ => unreachable!("handled before the runtime starts"),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn check_contract(file: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading the contract {}", file.display()))?;
    match crate::contract::parse(&text) {
        Ok(contract) => {
            say!("{}: ok, {}", file.display(), contract.summary())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                match problem.column {
                    Some(column) => eprintln!(
                        "{}:{}:{column}: {}",
                        file.display(),
                        problem.line,
                        problem.message
                    ),
                    None => eprintln!("{}:{}: {}", file.display(), problem.line, problem.message),
                }
            }
            eprintln!(
                "{}: {} problem(s); the contract was not accepted",
                file.display(),
                problems.len()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `$XDG_STATE_HOME/hrsync/hrsync.log`, else `~/.local/state/hrsync/hrsync.log`: a
/// folder of the user's own, not the shared temporary folder, where anyone could
/// plant a symlink at the log's name or read what it says about people.
fn default_log_file() -> anyhow::Result<PathBuf> {
    // The XDG spec: a relative XDG_STATE_HOME is invalid and is ignored.
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            std::env::home_dir()
                .filter(|home| home.is_absolute())
                .map(|home| home.join(".local").join("state"))
        })
        .context("no XDG_STATE_HOME and no home folder to keep the log in: say where with --log-file")?;
    Ok(state.join("hrsync").join("hrsync.log"))
}

fn init_logging(path: &Path) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Folders made here are 0700 and the log 0600: it names employees.
    private_files::create_private_dir_all(dir)
        .with_context(|| format!("creating the log folder {}", dir.display()))?;
    let file = private_files::open_append_private(path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("HRSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Ok(guard)
}

fn read_faults(path: &Path) -> anyhow::Result<Faults> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the faults file {}", path.display()))?;
    let faults: Faults = serde_json::from_str(&text)
        .with_context(|| format!("the faults file {} is not a valid fault set", path.display()))?;
    faults
        .validate()
        .map_err(|problem| anyhow::anyhow!("the faults file {}: {problem}", path.display()))?;
    Ok(faults)
}

async fn sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let faults = args
        .faults
        .as_deref()
        .map(read_faults)
        .transpose()?
        .unwrap_or_default();
    let config = SandboxConfig {
        addr: args.addr,
        employees: args.employees,
        seed: args.seed,
        churn_per_sec: args.churn,
        completions_per_sec: args.completions,
        webhook_url: args.webhook_url,
        faults,
        company: args.company,
        today: None,
        export_dir: args.export_dir,
        export_every: std::time::Duration::from_secs(args.export_every),
    };
    let sandbox = Sandbox::start(config).await?;
    say!("{}", serde_json::to_string(sandbox.credentials())?)?;
    shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every command says what it takes (`--help`), so an
    /// operator never has to guess at a flag.
    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "hrsync", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }
}

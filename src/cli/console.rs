//! `hrsync console`: the engine and the console in one process (`--config`), or a
//! console attached to the store of a running `hrsync run` (`--attach`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::console::{ConsoleOptions, run_console};
use crate::engine;
use crate::engine::operator::handle::{EngineHandle, Population};

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// The configuration: its engine runs in this process (or, with --attach, its store is used).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Attach to the store of an engine running elsewhere (`hrsync run`) instead of starting one.
    #[arg(long)]
    pub attach: bool,
    /// The store file to attach to (instead of the one --config names).
    #[arg(long, value_name = "PATH", requires = "attach")]
    pub db: Option<PathBuf>,
    /// The contract file the attached engine started with, to show and edit.
    #[arg(long, value_name = "FILE")]
    pub contract: Option<PathBuf>,
    /// Look, never change: every write is refused.
    #[arg(long)]
    pub read_only: bool,
    /// No colours (as NO_COLOR does).
    #[arg(long)]
    pub no_color: bool,
    /// Shadow mode for the engine run here: plan every write, make none (as `[mode] shadow = true`).
    #[arg(long, conflicts_with = "attach")]
    pub shadow: bool,
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading the {what} {}", path.display()))
}

/// Attached with `--config`, `T` traces against the systems it names, when its
/// secrets are at hand; otherwise `T` says why it cannot.
async fn attached_tracer(handle: EngineHandle, args: &ConsoleArgs) -> EngineHandle {
    let Some(path) = &args.config else {
        return handle;
    };
    match Config::load(path) {
        Ok(config) => handle.connect_tracer(&config).await,
        Err(error) => handle.with_tracer(Err(format!(
            "this console cannot trace: the configuration does not load here ({error:#})"
        ))),
    }
}

/// Attached, the contract review previews against a fresh pull of the HRIS the
/// configuration names (no reconciliation in this process keeps one). Without
/// its secrets there is no HRIS to pull: the review says so.
fn attached_population(config: &Path, store: &crate::store::Store) -> Option<Population> {
    let loaded = (|| -> anyhow::Result<Population> {
        let config = Config::load(config)?;
        let source = crate::engine::connect::hris_source(&config, store)?;
        Ok(Population {
            source,
            latest: Default::default(),
            max_age: std::time::Duration::ZERO,
            safety: config.safety,
        })
    })();
    match loaded {
        Ok(population) => Some(population),
        Err(error) => {
            tracing::warn!(%error, "no HRIS for the contract review's impact preview");
            None
        }
    }
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let options = ConsoleOptions {
        read_only: args.read_only,
        no_color: args.no_color,
    };
    if args.attach {
        let (contract_path, parallel) = match (&args.db, &args.config) {
            (Some(_), _) => (args.contract.clone(), Default::default()),
            (None, Some(config)) => {
                let config = super::ops::store_config(config)?;
                (
                    args.contract.clone().or(Some(config.contract_path)),
                    config.parallel,
                )
            }
            (None, None) => anyhow::bail!("say which engine to attach to: --db PATH or --config FILE"),
        };
        let store = super::ops::open_store(args.db.as_deref(), args.config.as_deref(), args.read_only)?;
        let contract = contract_path.map(|p| read(&p, "contract")).transpose()?;
        if args.read_only {
            let handle = EngineHandle::attach(store, contract).with_parallel(parallel);
            let handle = attached_tracer(handle, &args).await;
            return run_console(handle, options).await;
        }
        let handle = EngineHandle::attach(store.clone(), contract).with_parallel(parallel);
        let mut handle = attached_tracer(handle, &args).await;
        // Attached, operator actions append to the audit log from this process.
        if let Some(key) = super::audit::writer_key(args.config.as_deref())? {
            handle = handle.with_audit_key(key);
        }
        if let Some(population) = args
            .config
            .as_deref()
            .and_then(|config| attached_population(config, &store))
        {
            handle = handle.with_population(population);
        }
        return run_console(handle, options).await;
    }
    let Some(config_path) = &args.config else {
        anyhow::bail!("say which engine: --config FILE to run one here, or --attach to join a running one");
    };
    let mut config = Config::load(config_path)?;
    config.shadow |= args.shadow;
    let text = read(&config.contract_path, "contract")?;
    let contract = crate::contract::parse(&text).map_err(|problems| {
        let listed: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", config.contract_path.display(), p.line, p.message))
            .collect();
        anyhow::anyhow!("the contract was not accepted:\n{}", listed.join("\n"))
    })?;
    let engine = engine::start(&config, contract).await?;
    let handle = EngineHandle::in_process(&engine, Some(text)).with_parallel(config.parallel.clone());
    let result = run_console(handle, options).await;
    engine.shutdown().await;
    result
}

//! `hrsync credentials expiring` and `hrsync export completions`: the write-back
//! as the journal holds it, for scripts and for HRIS systems without an API.

use super::out::{print_json, progress, say};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::ops::StoreArgs;
use crate::config::Config;
use crate::console::sanitise::on_stdout;
use crate::contract::Contract;
use crate::engine::apply::credentials;
use crate::store::csv_cells::CsvCells;
use crate::store::private_files::write_replacing;

#[derive(Args, Debug)]
pub struct ContractArg {
    /// The mapping contract (default: the one `--config` names).
    #[arg(long, value_name = "FILE", global = true)]
    pub contract: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CredentialsCommand {
    /// Credentials expiring within N days, and those already expired.
    Expiring {
        /// How many days ahead to look.
        #[arg(long, default_value_t = 90)]
        days: i32,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Completions as CSV (RFC 4180, UTF-8, a fixed column order).
    Completions {
        /// The first completion day to include (YYYY-MM-DD, the contract's time zone).
        #[arg(long, value_name = "DATE")]
        since: String,
        /// The CSV file to write (0600, replaced atomically, never through a symlink).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Cells exactly as stored: turns off the leading ' that keeps a spreadsheet
        /// from running a cell starting with = + - @, tab or CR as a formula.
        #[arg(long)]
        raw: bool,
    },
}

fn contract_of(store: &StoreArgs, arg: &ContractArg) -> anyhow::Result<Contract> {
    let path = match (&arg.contract, &store.config) {
        (Some(path), _) => path.clone(),
        (None, Some(config)) => contract_path_of(config)?,
        (None, None) => anyhow::bail!("say which contract: --contract FILE or --config FILE"),
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading the contract {}", path.display()))?;
    crate::contract::parse(&text).map_err(|problems| {
        let listed: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))
            .collect();
        anyhow::anyhow!("the contract was not accepted:\n{}", listed.join("\n"))
    })
}

fn contract_path_of(config: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let loaded = Config::parse(config, &text, |_| Some("unused".into()))?;
    Ok(loaded.contract_path)
}

pub fn credentials(
    store_args: &StoreArgs,
    arg: &ContractArg,
    command: &CredentialsCommand,
) -> anyhow::Result<ExitCode> {
    let CredentialsCommand::Expiring { days } = command;
    if *days < 0 {
        anyhow::bail!("--days must be 0 or more, got {days}");
    }
    // The contract says the time zone "today" is in.
    let zone = match contract_of(store_args, arg) {
        Ok(contract) => contract.time_zone,
        Err(_) if arg.contract.is_none() && store_args.config.is_none() => jiff::tz::TimeZone::system(),
        Err(error) => return Err(error),
    };
    let store = store_args.open_read_only()?;
    let today = jiff::Timestamp::now().to_zoned(zone).date();
    let expiring = credentials::expiring(&store, today, *days)?;
    if store_args.json {
        print_json(&json!({ "today": today.to_string(), "days": days, "credentials": expiring }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if expiring.is_empty() {
        say!("no credential expires within {days} days")?;
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{:<8} {:>5}  {:<10}  {:<10}  {:<22}  {:<34}  in HRIS",
        "band",
        "days",
        "expires",
        "employee",
        "department",
        "credential"
    )?;
    for c in &expiring {
        say!(
            "{:<8} {:>5}  {:<10}  {:<10}  {:<22}  {:<34}  {}",
            c.band,
            c.days_left,
            c.expires.to_string(),
            on_stdout(&c.employee_id),
            on_stdout(c.department.as_deref().unwrap_or("-")),
            on_stdout(&c.name),
            if c.in_hris { "yes" } else { "NO" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(
    store_args: &StoreArgs,
    arg: &ContractArg,
    command: &ExportCommand,
) -> anyhow::Result<ExitCode> {
    let ExportCommand::Completions { since, out, raw } = command;
    let cells = if *raw { CsvCells::Raw } else { CsvCells::Guarded };
    let since: jiff::civil::Date = since
        .parse()
        .with_context(|| format!("--since must be a date as YYYY-MM-DD, got {since:?}"))?;
    let contract = contract_of(store_args, arg)?;
    let store = store_args.open_read_only()?;
    // Written beside the target and renamed into place: a failed export leaves no half
    // file, a symlink planted at --out is replaced rather than followed, and the file
    // is readable by the owner only.
    let bar = progress(0, "exporting completions", store_args.json);
    let looked_at = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let rows = write_replacing(out, |file| {
        Ok(credentials::export_completions(
            &store, &contract, since, cells, file, &looked_at,
        )?)
    })?;
    bar.finish_and_clear();
    if store_args.json {
        print_json(&json!({ "rows": rows, "out": out }))?;
    } else {
        say!("{rows} completion(s) since {since} written to {}", out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

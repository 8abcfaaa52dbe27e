//! `hrsync parallel compare|status|explain|report|cutover`: the parallel run against the legacy
//! process. The decisions are `engine::parallel`'s; this reads the files and the
//! lists, keeps the results and prints them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::json;

use super::out::{print_json, say};
use crate::config::Config;
use crate::connectors::inbox::write_whole;
use crate::console::sanitise::on_stdout;
use crate::engine::operator::operator_name;
use crate::engine::parallel::{self, DayState};
use crate::store::{AuditKey, Store};

fn open(config: &Config) -> anyhow::Result<Store> {
    let key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    Ok(crate::engine::open_keyed(config, key)?)
}

fn text(s: &str) -> String {
    on_stdout(s).into_owned()
}

/// Compares the legacy file for `date` with hrsync's output and keeps the day.
pub async fn compare(
    config_path: &Path,
    legacy: &Path,
    date: Date,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let contract = super::run::load_contract(&config.contract_path)?;
    parallel::run::check_columns(&config.parallel, &contract)?;
    let bytes =
        std::fs::read(legacy).with_context(|| format!("reading the legacy file {}", legacy.display()))?;
    let store = open(&config)?;
    let connections = crate::engine::connect::connect(&config, &store).await?;
    let (day, comparison) = parallel::compare_file(
        &config.parallel,
        config.shadow,
        &contract,
        &store,
        &connections,
        &bytes,
        &legacy.display().to_string(),
        date,
    )
    .await?;
    let shadow = day.shadow;
    let explanations = store.parallel_explanations()?;
    let open_count = parallel::unexplained(&comparison.differences, &explanations);
    if json_out {
        print_json(&json!({
            "date": date,
            "file": day.file,
            "hrsync_side": if shadow { "desired" } else { "lms" },
            "comparison": comparison,
            "unexplained": open_count,
            "clean": open_count == 0,
        }))?;
    } else {
        say!(
            "{date}: legacy {} learners, hrsync {} ({}), {} matching, {} difference(s), {} unexplained",
            comparison.legacy_learners,
            comparison.hrsync_learners,
            if shadow { "desired state" } else { "in the LMS" },
            comparison.matching,
            comparison.differences.len(),
            open_count
        )?;
        for d in &comparison.differences {
            let explained = explanations.iter().any(|e| d.explained_by(e));
            say!(
                "  {:<12} {:<16} legacy {} · hrsync {}{}",
                text(&d.employee_id),
                text(&d.field),
                text(d.legacy.as_deref().unwrap_or("(none)")),
                text(d.hrsync.as_deref().unwrap_or("(none)")),
                if explained { "  (explained)" } else { "" }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How the parallel run stands today, in the contract's time zone.
fn standing(config: &Config) -> anyhow::Result<(Store, parallel::Standing)> {
    let contract = super::run::load_contract(&config.contract_path)?;
    let store = open(config)?;
    let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
    let standing = parallel::standing(&store, &config.parallel, today)?;
    Ok((store, standing))
}

/// The business days, the streak and whether the cutover bar is reached.
pub fn status(config_path: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let (_, standing) = standing(&config)?;
    let status = standing.status;
    if json_out {
        print_json(&status)?;
    } else {
        for day in &status.days {
            let state = match day.state {
                DayState::Clean => "clean".to_string(),
                DayState::Differences(n) => format!("{n} unexplained difference(s)"),
                DayState::Missing => "not compared".to_string(),
            };
            say!(
                "  {} {:<3} {state}",
                day.date,
                day.date.weekday().to_monday_one_offset()
            )?;
        }
        say!(
            "streak: {} of {} clean business days; cutover bar {}",
            status.streak,
            status.required_days,
            if status.bar_reached {
                "reached"
            } else {
                "not reached"
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Marks the latest difference for this employee and field explained (audited).
pub fn explain(config_path: &Path, employee_id: &str, field: &str, reason: &str) -> anyhow::Result<ExitCode> {
    if reason.trim().is_empty() {
        bail!(parallel::ParallelError::NoReason);
    }
    let config = Config::load(config_path)?;
    let store = open(&config)?;
    let actor = operator_name();
    let (day, explanation) = parallel::explain(&store, &actor, employee_id, field, reason)
        .map_err(|error| anyhow::anyhow!(text(&error.to_string())))?;
    say!(
        "explained: employee {} {} (legacy {} · hrsync {}), as of {day}, by {}",
        text(&explanation.employee_id),
        text(&explanation.field),
        text(explanation.legacy.as_deref().unwrap_or("(none)")),
        text(explanation.hrsync.as_deref().unwrap_or("(none)")),
        text(&explanation.by)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Where the report's JSON goes beside its Markdown `out`: the same name with
/// the extension `.json` (`signoff.md` → `signoff.json`, `signoff` → `signoff.json`).
pub fn report_json_path(out: &Path) -> anyhow::Result<PathBuf> {
    if out.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
        bail!(
            "--out names the Markdown report; its JSON is written beside it with the extension .json, \
             so give a name like signoff.md rather than {}",
            out.display()
        );
    }
    if out.file_name().is_none() {
        bail!("--out must name a file, not {}", out.display());
    }
    Ok(out.with_extension("json"))
}

/// Writes the sign-off report: Markdown at `out`, JSON beside it; each file
/// whole or not at all (a temporary name in the same folder, synced, renamed).
pub fn report(config_path: &Path, out: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let json_path = report_json_path(out)?;
    let config = Config::load(config_path)?;
    let (_, standing) = standing(&config)?;
    let report = parallel::report::build(&standing, Timestamp::now());
    let json_text = serde_json::to_string_pretty(&report)? + "\n";
    write_whole(out, report.markdown().as_bytes())
        .with_context(|| format!("writing the report {}", out.display()))?;
    write_whole(&json_path, json_text.as_bytes())
        .with_context(|| format!("writing the report {}", json_path.display()))?;
    if json_out {
        print_json(&json!({
            "markdown": out,
            "json": json_path,
            "streak": report.streak,
            "required_days": report.required_days,
            "bar_reached": report.bar_reached,
        }))?;
    } else {
        say!(
            "wrote {} and {}: {} business day(s), streak {} of {}, {} explained difference(s)",
            out.display(),
            json_path.display(),
            report.days.len(),
            report.streak,
            report.required_days,
            report.explained.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Leaves shadow mode once the bar is met, or forced with a reason (audited).
pub fn cutover(
    config_path: &Path,
    force: bool,
    reason: Option<&str>,
    json_out: bool,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let (store, standing) = standing(&config)?;
    let actor = operator_name();
    let done = parallel::cutover(&store, &standing, &actor, force, reason)
        .map_err(|error| anyhow::anyhow!(text(&error.to_string())))?;
    if json_out {
        print_json(&done)?;
    } else {
        say!(
            "cut over by {}{}: the engine writes from now on; {} shadowed event(s) are planned again and applied \
             (streak {} of {})",
            text(&done.by),
            if done.forced { ", forced" } else { "" },
            done.events_applied_afresh,
            done.streak,
            done.required_days
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

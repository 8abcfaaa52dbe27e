//! `hrsync contract preview NEW.toml --config FILE`: what replacing the contract
//! in force by NEW would do to the population, from a fresh pull of the HRIS.
//! Exits 3 when the deactivations it implies exceed `[safety]`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use serde_json::json;

use super::out::{print_json, say};
use crate::config::Config;
use crate::console::sanitise::on_stdout;
use crate::contract::impact::Impact;
use crate::engine::apply::safety;
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::operator::preview;
use crate::store::AuditKey;

/// The exit code of a preview whose deactivations trip the safety threshold.
pub const TRIPS_SAFETY: u8 = 3;

pub async fn preview(
    new_path: &Path,
    config_path: &Path,
    json_out: bool,
    examples: usize,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let old = super::run::load_contract(&config.contract_path)?;
    let text = std::fs::read_to_string(new_path)
        .with_context(|| format!("reading the new contract {}", new_path.display()))?;
    let new = match crate::contract::parse(&text) {
        Ok(new) => new,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{}:{}: {}", new_path.display(), problem.line, problem.message);
            }
            eprintln!(
                "{}: {} problem(s); nothing was previewed",
                new_path.display(),
                problems.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    let store = crate::engine::open_keyed(&config, key)?;
    // What the engine would let through before holding deactivations for an operator.
    let allowed = safety::allowed(&store, config.safety)?;
    let connections = crate::engine::connect::connect(&config, &store).await?;
    // Every field either contract reads, packed as a reconciliation packs them.
    let mut fields = hris_fields(&old);
    fields.extend(hris_fields(&new));
    let pulled = preview::pull(connections.employees.as_ref(), &fields)
        .await
        .map_err(|why| anyhow::anyhow!(why))?;
    let today = Timestamp::now().to_zoned(new.time_zone.clone()).date();
    let impact = tokio::task::spawn_blocking(move || {
        preview::impact_of(&pulled.employees, (&old, &new), today, examples, allowed)
    })
    .await
    .context("computing the preview")?;
    if json_out {
        let mut value = serde_json::to_value(&impact)?;
        value["contract_in_force"] = json!(config.contract_path.display().to_string());
        value["new_contract"] = json!(new_path.display().to_string());
        print_json(&value)?;
    } else {
        print_impact(&impact, &config.contract_path, new_path)?;
    }
    Ok(if impact.safety.trips_safety {
        ExitCode::from(TRIPS_SAFETY)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_impact(impact: &Impact, in_force: &Path, new: &Path) -> anyhow::Result<()> {
    say!(
        "{} in place of {}: {}",
        on_stdout(&new.display().to_string()),
        on_stdout(&in_force.display().to_string()),
        impact.summary()
    )?;
    say!()?;
    // The same tables the console's contract review shows.
    for line in impact.lines(on_stdout) {
        say!("{line}")?;
    }
    say!()?;
    if impact.safety.trips_safety {
        say!("{} (exit {TRIPS_SAFETY})", impact.safety_line())?;
    } else {
        say!("{}", impact.safety_line())?;
    }
    Ok(())
}

//! `hrsync trace EMPLOYEE_ID`: one employee through the pipeline, each step with
//! what decided it; `--apply` journals their record as it is now.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use super::out::{print_json, say};
use crate::config::Config;
use crate::console::sanitise::on_stdout;
use crate::engine::apply::trace::{Trace, Tracer, journal_traced};
use crate::engine::operator::operator_name;
use crate::store::AuditKey;

/// Traces the employee against the systems `config` names. With `apply`, the
/// record is journaled (`reason` required) and the event's id printed.
pub async fn trace(
    config_path: &Path,
    employee_id: &str,
    json_out: bool,
    apply: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let contract = super::run::load_contract(&config.contract_path)?;
    let key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    let store = crate::engine::open_keyed(&config, key)?;
    let tracer = Tracer::connect(&config, store.clone(), contract).await?;
    let traced = tracer.trace(employee_id).await;
    drop(tracer);
    let trace = traced.map_err(|failure| anyhow!("tracing employee {employee_id}: {}", failure.message))?;
    let journaled = match apply {
        Some(reason) => Some(
            journal_traced(&store, &operator_name(), &trace, reason)
                .with_context(|| format!("journaling employee {employee_id}'s record"))?,
        ),
        None => None,
    };
    if json_out {
        let mut value = serde_json::to_value(&trace)?;
        if let Some(id) = journaled {
            value["journaled_event"] = id.0.into();
        }
        print_json(&value)?;
    } else {
        print_trace(&trace)?;
        if let Some(id) = journaled {
            say!(
                "journaled as event {}: the engine applies it like any change",
                id.0
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_trace(trace: &Trace) -> anyhow::Result<()> {
    for line in trace.lines(|s| on_stdout(s).into_owned()) {
        say!("{line}")?;
    }
    Ok(())
}

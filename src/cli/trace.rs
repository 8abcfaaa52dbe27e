//! `hrsync trace EMPLOYEE_ID`: one employee through the pipeline, each step with
//! what decided it; `--apply` journals their record as it is now.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use tokio_util::sync::CancellationToken;

use super::out::{print_json, say};
use crate::config::Config;
use crate::console::sanitise::on_stdout;
use crate::engine::apply::Applier;
use crate::engine::apply::enrol::Enroller;
use crate::engine::apply::trace::{Trace, journal_traced};
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
    let store = crate::engine::open_keyed(&config.store_path, key)?;
    let connections = crate::engine::connect::connect(&config, &store).await?;
    // The applier's lookups are the trace's; it enrols no one, so its enroller idles.
    let cancel = CancellationToken::new();
    let (enroller, enrolling) = Enroller::spawn(connections.learners.clone(), false, cancel.child_token());
    let applier = Applier::new(
        store.clone(),
        Arc::new(parking_lot::RwLock::new(Arc::new(contract))),
        (connections.learners.clone(), connections.employees.clone()),
        config.retry,
        enroller,
    );
    let traced = applier.trace(employee_id).await;
    cancel.cancel();
    let _ = enrolling.await;
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
    let text = |s: &str| on_stdout(s).into_owned();
    say!("employee {}", text(&trace.employee_id))?;
    match &trace.hris {
        None => say!("  HRIS        no such employee now")?,
        Some(record) => say!("  HRIS        {} fields", record.len())?,
    }
    if let Some(lifecycle) = &trace.lifecycle {
        say!("  lifecycle   {}: {}", lifecycle.outcome, text(&lifecycle.by))?;
    }
    if let Some(scope) = &trace.scope {
        say!("  scope       {}: {}", scope.outcome, text(&scope.by))?;
    }
    if !trace.fields.is_empty() {
        say!("  fields")?;
        for field in &trace.fields {
            let lms = match &field.lms_value {
                Some(value) => value.to_string(),
                None => "(not written)".into(),
            };
            say!(
                "    {:<18} {:<24} {} → {}{}",
                text(&field.field),
                text(&field.rule),
                text(field.hris_value.as_deref().unwrap_or("(empty)")),
                text(&lms),
                field
                    .problem
                    .as_deref()
                    .map(|p| format!("  ✗ {}", text(p)))
                    .unwrap_or_default()
            )?;
        }
    }
    match &trace.learner {
        Some(learner) => say!(
            "  learner     {} ({}), {}, found by {}",
            text(&learner.id),
            text(learner.user_name.as_deref().unwrap_or("no userName")),
            if learner.active { "active" } else { "inactive" },
            learner.found_by.as_str()
        )?,
        None => say!("  learner     none found")?,
    }
    say!("  plan        {}: {}", trace.plan.outcome, text(&trace.plan.by))?;
    if let Some(changes) = &trace.changes {
        for (field, after) in changes["after"].as_object().into_iter().flatten() {
            say!(
                "    {:<18} {} → {}",
                text(field),
                text(
                    &changes["before"]
                        .get(field)
                        .map(|v| v.to_string())
                        .unwrap_or("(none)".into())
                ),
                text(&after.to_string())
            )?;
        }
    }
    if !trace.enrol.is_empty() {
        say!("  enrol       {}", text(&trace.enrol.join(", ")))?;
    }
    if !trace.leave.is_empty() {
        say!("  leave       {}", text(&trace.leave.join(", ")))?;
    }
    say!("  events      {} (newest first)", trace.events.len())?;
    for event in &trace.events {
        say!(
            "    {:>8} {} {:<12} {:<12} {}{}",
            event.id,
            event.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            text(&event.kind),
            event.status.as_str(),
            event.source,
            event
                .note
                .as_deref()
                .map(|n| format!("  {}", text(n)))
                .unwrap_or_default()
        )?;
    }
    if trace.drift.is_empty() {
        say!("  drift       none in the last reconciliation")?;
    }
    for item in &trace.drift {
        say!(
            "  drift       run {}: {} {} (HRIS {}, LMS {}) {}",
            item.run_id,
            item.category,
            text(&item.field),
            text(item.hris_value.as_deref().unwrap_or("-")),
            text(item.lms_value.as_deref().unwrap_or("-")),
            item.state
        )?;
    }
    say!("verdict: {}", text(&trace.verdict))?;
    Ok(())
}

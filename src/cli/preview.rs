//! `hrsync contract preview NEW.toml --config FILE`: what replacing the contract
//! in force by NEW would do to the population, from a fresh pull of the HRIS.
//! Exits 3 when the deactivations it implies exceed `[safety]`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::out::{print_json, say};
use crate::config::Config;
use crate::console::sanitise::on_stdout;
use crate::contract::impact::{Affected, Example, Impact, Preview};
use crate::engine::apply::safety;
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::reconcile::rows::{Employees, Record};
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
    let store = crate::engine::open_keyed(&config.store_path, key)?;
    // What the engine would let through before holding deactivations for an operator.
    let allowed = safety::allowed(&store, config.safety)?;
    let connections = crate::engine::connect::connect(&config, &store).await?;
    // Every field either contract reads, packed as a reconciliation packs them.
    let mut fields = hris_fields(&old);
    fields.extend(hris_fields(&new));
    let mut employees = Employees::new(&fields);
    let count = connections
        .employees
        .each_employee(&fields, &mut |record| employees.push(&record))
        .await
        .context("pulling the employees from the HRIS")?;
    if count == 0 {
        anyhow::bail!("the HRIS answered an empty employee list: there is nothing to preview against");
    }
    let today = Timestamp::now().to_zoned(new.time_zone.clone()).date();
    let impact = tokio::task::spawn_blocking(move || {
        let by_rule_old = employees.columns_of(&old);
        let by_rule_new = employees.columns_of(&new);
        // The two contracts number their fields apart: each reads through its own columns.
        let mut preview = Preview::new(&old, &new, today, examples);
        let (columns, mut cells) = (employees.rows.columns(), Vec::new());
        for row in 0..employees.rows.len() {
            employees.rows.row(row, &mut cells);
            let (old_view, new_view) = (
                Record {
                    columns,
                    cells: &cells,
                    by_rule: &by_rule_old,
                },
                Record {
                    columns,
                    cells: &cells,
                    by_rule: &by_rule_new,
                },
            );
            preview.add_each(&old_view, &new_view);
        }
        preview.finish(allowed)
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
        "{} in place of {}: {} HRIS employees, active learners {} → {}",
        on_stdout(&new.display().to_string()),
        on_stdout(&in_force.display().to_string()),
        impact.employees,
        impact.learners_before,
        impact.learners_after
    )?;
    say!()?;
    say!(
        "{:<22} {:>9}  examples (employee: before → after)",
        "learner field",
        "learners"
    )?;
    if impact.fields.is_empty() {
        say!("{:<22} {:>9}", "(none)", 0)?;
    }
    for field in &impact.fields {
        say!(
            "{:<22} {:>9}  {}",
            on_stdout(&field.field),
            field.learners,
            changes(&field.examples)
        )?;
    }
    say!()?;
    say!("{:<22} {:>9}  examples", "population", "employees")?;
    for (what, affected) in [
        ("enter scope", &impact.entering_scope),
        ("leave scope", &impact.leaving_scope),
        ("deactivated", &impact.deactivated),
        ("newly rejected", &impact.rejected),
    ] {
        say!("{what:<22} {:>9}  {}", affected.count, reasons(affected))?;
    }
    say!()?;
    say!("{:<22} {:>9}  examples", "enrolled in group", "learners")?;
    if impact.enrolments.is_empty() {
        say!("{:<22} {:>9}", "(none)", 0)?;
    }
    for enrolment in &impact.enrolments {
        say!(
            "{:<22} {:>9}  {}",
            on_stdout(&enrolment.group),
            enrolment.learners,
            ids(&enrolment.examples)
        )?;
    }
    if !impact.leaving_groups.is_empty() {
        say!()?;
        say!("{:<22} {:>9}  examples", "taken out of group", "learners")?;
    }
    for left in &impact.leaving_groups {
        say!(
            "{:<22} {:>9}  {}",
            on_stdout(&left.group),
            left.learners,
            ids(&left.examples)
        )?;
    }
    say!()?;
    let safety = &impact.safety;
    if safety.trips_safety {
        say!(
            "SAFETY: {} deactivations, more than the {} [safety] allows: the engine would hold \
             them for an operator (exit {TRIPS_SAFETY})",
            safety.deactivations,
            safety.allowed
        )?;
    } else {
        say!(
            "safety: {} deactivations, within the {} [safety] allows",
            safety.deactivations,
            safety.allowed
        )?;
    }
    Ok(())
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(text) => format!("\"{}\"", on_stdout(text)),
        other => other.to_string(),
    }
}

fn changes(examples: &[Example]) -> String {
    (examples.iter())
        .map(|e| {
            format!(
                "{}: {} → {}",
                on_stdout(&e.employee_id),
                shown(&e.before),
                shown(&e.after)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn reasons(affected: &Affected) -> String {
    (affected.examples.iter())
        .map(|e| match &e.after {
            Value::String(why) => format!("{} ({})", on_stdout(&e.employee_id), on_stdout(why)),
            _ => on_stdout(&e.employee_id).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn ids(examples: &[Example]) -> String {
    (examples.iter())
        .map(|e| on_stdout(&e.employee_id).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

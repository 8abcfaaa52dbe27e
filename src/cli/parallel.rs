//! `hrsync parallel compare|status|explain`: the parallel run against the legacy
//! process. The decisions are `engine::parallel`'s; this reads the files and the
//! lists, keeps the results and prints them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::json;

use super::out::{print_json, say};
use crate::config::Config;
use crate::connectors::csv_files::{ACTIVE, FeedSpec, GROUPS, read_feed};
use crate::console::sanitise::on_stdout;
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::operator::operator_name;
use crate::engine::parallel::{self, DayState};
use crate::model::parallel::LEARNER;
use crate::model::{AuditAction, NewAuditEntry};
use crate::store::{AuditKey, ParallelDay, Store};

fn open(config: &Config) -> anyhow::Result<Store> {
    let key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    Ok(crate::engine::open_keyed(&config.store_path, key)?)
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
    let columns = &config.parallel.columns;
    let key = contract.key_field().name.clone();
    if !columns.iter().any(|(_, field)| *field == key) {
        bail!("[parallel.columns] must map a legacy column to the contract's key field \"{key}\"");
    }
    for (header, field) in columns {
        if field != ACTIVE && field != GROUPS && !contract.fields.iter().any(|f| f.name == *field) {
            bail!(
                "[parallel.columns] \"{header}\" names \"{field}\", which is no contract field, `active` or `groups`"
            );
        }
    }
    let spec = FeedSpec {
        columns: columns.clone(),
        active_words: config.parallel.active_words.clone(),
        group_separator: config.parallel.group_separator.clone(),
    };
    let bytes =
        std::fs::read(legacy).with_context(|| format!("reading the legacy file {}", legacy.display()))?;
    let theirs =
        read_feed(&bytes, &spec).with_context(|| format!("reading the legacy file {}", legacy.display()))?;
    let store = open(&config)?;
    let mode = store.shadow_mode()?;
    let shadow = mode.is_on() || (config.shadow && mode.left.is_none());
    let connections = crate::engine::connect::connect(&config, &store).await?;
    let ours = if shadow {
        let fields = hris_fields(&contract);
        let employees = (connections.employees.all_employees(&fields).await)
            .context("pulling the employees from the HRIS")?;
        let wanted = parallel::desired(&contract, employees.iter(), date);
        // The engine holds suspected duplicates from sync, in shadow mode too:
        // they are not in the state it would write.
        store.transaction(|tx| {
            let mut kept = Vec::with_capacity(wanted.len());
            for row in wanted {
                let id = row.values.get(&key).cloned().unwrap_or_default();
                if tx.duplicate_held_events(std::slice::from_ref(&id))?.is_empty() {
                    kept.push(row);
                }
            }
            Ok(kept)
        })?
    } else {
        let users = (connections.learners.all_users().await).context("listing the LMS's learners")?;
        let mut groups_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for group in (connections.learners.all_groups().await).context("listing the LMS's groups")? {
            for member in group.members {
                groups_of
                    .entry(member)
                    .or_default()
                    .push(group.display_name.clone());
            }
        }
        parallel::written(
            &contract,
            users.iter().map(|u| (u.id.as_str(), &u.resource)),
            &groups_of,
        )
    };
    let fields: Vec<&str> = columns.iter().map(|(_, field)| field.as_str()).collect();
    let comparison = parallel::compare(&key, &fields, &config.parallel.group_separator, &theirs, &ours);
    let day = ParallelDay {
        day: date,
        file: legacy.display().to_string(),
        compared_at: Timestamp::now(),
        shadow,
        legacy_learners: comparison.legacy_learners,
        hrsync_learners: comparison.hrsync_learners,
        matching: comparison.matching,
        legacy_without_id: comparison.legacy_without_id,
        differences: comparison.differences.clone(),
    };
    store.transaction(|tx| tx.record_parallel_day(&day))?;
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

/// The business days, the streak and whether the cutover bar is reached.
pub fn status(config_path: &Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let contract = super::run::load_contract(&config.contract_path)?;
    let store = open(&config)?;
    let explanations = store.parallel_explanations()?;
    let compared: BTreeMap<Date, u64> = (store.parallel_days()?.iter())
        .map(|day| (day.day, parallel::unexplained(&day.differences, &explanations)))
        .collect();
    let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
    let status = parallel::status(
        &compared,
        &config.parallel.holidays,
        config.parallel.required_days,
        today,
    );
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
        bail!("--reason is required: say why the legacy process and hrsync differ here");
    }
    let config = Config::load(config_path)?;
    let store = open(&config)?;
    let days = store.parallel_days()?;
    let Some((day, difference)) = (days.iter().rev()).find_map(|day| {
        Some((
            day.day,
            day.differences
                .iter()
                .find(|d| d.employee_id == employee_id && d.field == field)?,
        ))
    }) else {
        bail!(
            "no compared day has a difference for employee {} in field {} (fields: a contract field, active, groups or {LEARNER})",
            text(employee_id),
            text(field)
        );
    };
    let actor = operator_name();
    let explanation = store.transaction(|tx| {
        let explanation = tx.add_parallel_explanation(difference, reason, &actor)?;
        tx.audit(NewAuditEntry {
            actor: actor.clone(),
            action: AuditAction::ParallelExplain,
            employee_id: Some(employee_id.to_string()),
            subject: format!("parallel run {day}, field {field}"),
            before: json!({ "legacy": difference.legacy, "hrsync": difference.hrsync, "explained": false }),
            after: json!({ "legacy": difference.legacy, "hrsync": difference.hrsync, "explained": true }),
            reason: Some(reason.to_string()),
        })?;
        Ok(explanation)
    })?;
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

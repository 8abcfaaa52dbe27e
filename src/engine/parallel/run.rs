//! The parallel run's effects, one way for the command line, the engine's
//! legacy inbox and the console: comparing one legacy file for one day and
//! keeping it, explaining a difference (audited), and how the days stand.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::json;

use super::compare::{Comparison, compare, desired, written};
use super::streak::{Status, status};
use crate::config::ParallelConfig;
use crate::connectors::ConnectorError;
use crate::connectors::csv_files::{ACTIVE, FeedSpec, GROUPS, read_feed};
use crate::contract::Contract;
use crate::engine::connect::Connections;
use crate::model::parallel::{Explanation, LEARNER};
use crate::model::{AuditAction, NewAuditEntry};
use crate::store::{ParallelDay, ParallelRun, Shadow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ParallelError {
    /// `[parallel.columns]` does not fit the contract, or the file cannot be read.
    #[error("{0}")]
    Legacy(String),
    #[error("{what}: {source}")]
    Connector {
        what: &'static str,
        source: ConnectorError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("--reason is required: say why the legacy process and hrsync differ here")]
    NoReason,
    #[error(
        "no compared day has a difference for employee {employee} in field {field} \
         (fields: a contract field, active, groups or {LEARNER})"
    )]
    NoSuchDifference { employee: String, field: String },
}

/// Checks `[parallel.columns]` against the contract: the key field is mapped,
/// and every target is a contract field, `active` or `groups`.
pub fn check_columns(parallel: &ParallelConfig, contract: &Contract) -> Result<(), ParallelError> {
    let key = &contract.key_field().name;
    if !parallel.columns.iter().any(|(_, field)| field == key) {
        return Err(ParallelError::Legacy(format!(
            "[parallel.columns] must map a legacy column to the contract's key field \"{key}\""
        )));
    }
    for (header, field) in &parallel.columns {
        if field != ACTIVE && field != GROUPS && !contract.fields.iter().any(|f| f.name == *field) {
            return Err(ParallelError::Legacy(format!(
                "[parallel.columns] \"{header}\" names \"{field}\", which is no contract field, `active` or `groups`"
            )));
        }
    }
    Ok(())
}

/// Whether hrsync's side of a comparison is the desired state (shadow mode) or
/// the LMS: the store's mode, or `[mode] shadow` before the engine first ran.
pub fn shadow_side(store: &Store, configured: bool) -> Result<bool, StoreError> {
    let mode = store.shadow_mode()?;
    Ok(mode.is_on() || (configured && mode.left.is_none()))
}

/// Compares the legacy file `bytes` (named `file`) for `date` with hrsync's
/// output and keeps the day, replacing an earlier comparison of that day.
#[allow(clippy::too_many_arguments)]
pub async fn compare_file(
    parallel: &ParallelConfig,
    shadow_configured: bool,
    contract: &Contract,
    store: &Store,
    connections: &Connections,
    bytes: &[u8],
    file: &str,
    date: Date,
) -> Result<(ParallelDay, Comparison), ParallelError> {
    check_columns(parallel, contract)?;
    let spec = FeedSpec {
        columns: parallel.columns.clone(),
        active_words: parallel.active_words.clone(),
        group_separator: parallel.group_separator.clone(),
    };
    let theirs = read_feed(bytes, &spec)
        .map_err(|error| ParallelError::Legacy(format!("reading the legacy file {file}: {error}")))?;
    let shadow = shadow_side(store, shadow_configured)?;
    let key = contract.key_field().name.clone();
    let ours = if shadow {
        let fields = crate::engine::intake::initial_load::hris_fields(contract);
        let employees = (connections.employees.all_employees(&fields).await).map_err(|source| {
            ParallelError::Connector {
                what: "pulling the employees from the HRIS",
                source,
            }
        })?;
        let wanted = desired(contract, employees.iter(), date);
        // The engine holds suspected duplicates from sync, in shadow mode too:
        // they are not in the state it would write.
        store.transaction_once(|tx| {
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
        let learners = &connections.learners;
        let users = (learners.all_users().await).map_err(|source| ParallelError::Connector {
            what: "listing the LMS's learners",
            source,
        })?;
        let mut groups_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let groups = (learners.all_groups().await).map_err(|source| ParallelError::Connector {
            what: "listing the LMS's groups",
            source,
        })?;
        for group in groups {
            for member in group.members {
                groups_of
                    .entry(member)
                    .or_default()
                    .push(group.display_name.clone());
            }
        }
        written(
            contract,
            users.iter().map(|u| (u.id.as_str(), &u.resource)),
            &groups_of,
        )
    };
    let fields: Vec<&str> = parallel.columns.iter().map(|(_, field)| field.as_str()).collect();
    let comparison = compare(&key, &fields, &parallel.group_separator, &theirs, &ours);
    let day = ParallelDay {
        day: date,
        file: file.to_string(),
        compared_at: Timestamp::now(),
        shadow,
        legacy_learners: comparison.legacy_learners,
        hrsync_learners: comparison.hrsync_learners,
        matching: comparison.matching,
        legacy_without_id: comparison.legacy_without_id,
        differences: comparison.differences.clone(),
    };
    store.transaction(|tx| tx.record_parallel_day(&day))?;
    Ok((day, comparison))
}

/// Marks the latest difference for this employee and field explained, by
/// `actor`, audited as `parallel.explain`; answers the day it was found on.
pub fn explain(
    store: &Store,
    actor: &str,
    employee_id: &str,
    field: &str,
    reason: &str,
) -> Result<(Date, Explanation), ParallelError> {
    if reason.trim().is_empty() {
        return Err(ParallelError::NoReason);
    }
    let days = store.parallel_days()?;
    let Some((day, difference)) = (days.iter().rev()).find_map(|day| {
        Some((
            day.day,
            day.differences
                .iter()
                .find(|d| d.employee_id == employee_id && d.field == field)?,
        ))
    }) else {
        return Err(ParallelError::NoSuchDifference {
            employee: employee_id.to_string(),
            field: field.to_string(),
        });
    };
    let explanation = store.transaction(|tx| {
        let explanation = tx.add_parallel_explanation(difference, reason, actor)?;
        tx.audit(NewAuditEntry {
            actor: actor.to_string(),
            action: AuditAction::ParallelExplain,
            employee_id: Some(employee_id.to_string()),
            subject: format!("parallel run {day}, field {field}"),
            before: json!({ "legacy": difference.legacy, "hrsync": difference.hrsync, "explained": false }),
            after: json!({ "legacy": difference.legacy, "hrsync": difference.hrsync, "explained": true }),
            reason: Some(reason.to_string()),
        })?;
        Ok(explanation)
    })?;
    Ok((day, explanation))
}

/// The parallel run as it stands: every compared day, every explanation, and
/// the business days with the streak and the bar.
#[derive(Debug, Clone)]
pub struct Standing {
    pub days: Vec<ParallelDay>,
    pub explanations: Vec<Explanation>,
    pub status: Status,
}

impl Standing {
    /// The compared day of `date`, if any.
    pub fn day(&self, date: Date) -> Option<&ParallelDay> {
        self.days.iter().find(|d| d.day == date)
    }

    /// The latest compared day.
    pub fn latest(&self) -> Option<&ParallelDay> {
        self.days.last()
    }

    /// The explanation covering `difference` (the latest one), if any.
    pub fn explanation_of(&self, difference: &crate::model::parallel::Difference) -> Option<&Explanation> {
        self.explanations
            .iter()
            .rev()
            .find(|e| difference.explained_by(e))
    }
}

/// How the parallel run stands in `store`, `today` being the date in the
/// contract's time zone (listed as missing when nothing is compared yet).
pub fn standing(store: &Store, parallel: &ParallelConfig, today: Date) -> Result<Standing, StoreError> {
    let days = store.parallel_days()?;
    let explanations = store.parallel_explanations()?;
    let compared: BTreeMap<Date, u64> = (days.iter())
        .map(|day| (day.day, super::unexplained(&day.differences, &explanations)))
        .collect();
    let status = status(&compared, &parallel.holidays, parallel.required_days, today);
    Ok(Standing {
        days,
        explanations,
        status,
    })
}

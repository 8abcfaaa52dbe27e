//! Reconciliation: pull the full lists from the HRIS, the LMS and the LRS, join
//! them on employee id, store the run with its counts and an item per finding,
//! and record the suspected duplicates it sees. A run that cannot finish (a side
//! down, an empty HRIS list) says so and reports nothing as drift.

pub mod compare;
pub mod rows;
pub mod schedule;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::connectors::Notifier;
use crate::connectors::roles::{CompletionSource, TrainingTarget, stored_at};
use crate::contract::Contract;
use crate::contract::identity::identity_keys;
use crate::contract::writeback::{Completion, StatementMapping, map_statement};
use crate::engine::connect::Connections;
use crate::engine::intake::duplicates::employee_groups;
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::operator::preview::PulledEmployees;
use crate::engine::operator::progress::Progress;
use crate::model::DriftCategory;
use crate::store::{Finding, ReconcileRun, ReconcileRuns, Store, StoreError};

/// A run whose heartbeat is older than this is taken for dead (its process stopped).
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);
/// Employees whose training records are read at once when checking completions.
const HRIS_READS_AT_ONCE: usize = 16;

/// What asking for a run came to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RunResult {
    Complete {
        run: ReconcileRun,
    },
    /// It could not finish; nothing was reported as drift.
    Failed {
        run: ReconcileRun,
    },
    /// Another run is under way; this one was not started.
    AlreadyRunning {
        run: ReconcileRun,
    },
}

impl RunResult {
    pub fn run(&self) -> &ReconcileRun {
        match self {
            RunResult::Complete { run } | RunResult::Failed { run } | RunResult::AlreadyRunning { run } => {
                run
            }
        }
    }
}

/// Everything a run reads from; shared by the schedule, the CLI and tests.
#[derive(Clone)]
pub struct Reconciler {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    /// The HRIS, LMS and LRS it reads.
    pub connections: Connections,
    pub notifier: Notifier,
    /// How far a run has come, for the status and a CLI progress bar.
    pub progress: Arc<Progress>,
}

impl Reconciler {
    /// One run now, unless one is under way.
    pub async fn run(&self, trigger: &str) -> Result<RunResult, StoreError> {
        self.run_until(trigger, &tokio_util::sync::CancellationToken::new())
            .await
    }

    /// One run, given up (and stored as failed) if `cancel` fires first.
    pub async fn run_until(
        &self,
        trigger: &str,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<RunResult, StoreError> {
        let store = self.store.clone();
        let trigger_name = trigger.to_string();
        let begun = tokio::task::spawn_blocking(move || store.begin_run(&trigger_name, STALE_AFTER))
            .await
            .expect("beginning a run does not panic")?;
        let id = match begun {
            Ok(id) => id,
            Err(run) => return Ok(RunResult::AlreadyRunning { run }),
        };
        tracing::info!(run = id, trigger, "reconciliation started");
        let outcome = tokio::select! {
            outcome = self.pull_and_compare(id) => outcome,
            _ = cancel.cancelled() => Err("stopped: the engine shut down during the run".to_string()),
        };
        self.progress.begin("reconciling: storing the findings", None);
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || match outcome {
            Ok(pulled) => {
                (store.transaction_once(|tx| pulled.store(tx, id))).map(|run| RunResult::Complete { run })
            }
            Err(why) => store.fail_run(id, &why).map(|run| RunResult::Failed { run }),
        })
        .await
        .expect("storing a run does not panic");
        self.progress.end();
        let result = result?;
        if let Some(text) = crate::engine::operator::alerts::run_told(&result)
            && let Err(error) = self.notifier.send(&text).await
        {
            tracing::warn!(%error, "cannot tell the ops channel about a reconciliation");
        }
        Ok(result)
    }

    /// Everything read and compared; `Err` says why the run cannot finish.
    async fn pull_and_compare(&self, id: i64) -> Result<Pulled, String> {
        let contract = self.contract.read().clone();
        let fields = hris_fields(&contract);
        // Each record is packed as it is read: neither list is ever whole as JSON.
        let mut packed = rows::Employees::new(&fields);
        let mut keys = Vec::new();
        let mut packed_learners = rows::Learners::new(&contract);
        let progress = &self.progress;
        // As many records as the last run read, as a guess at how many there are.
        let expected =
            (self.store.latest_complete_run().ok().flatten()).map(|run| run.employees + run.learners);
        progress.begin("reconciling: reading the HRIS and the LMS", expected);
        let reading = std::time::Instant::now();
        let (employee_count, _) = tokio::try_join!(
            async {
                let count = self
                    .connections
                    .employees
                    .each_employee(&fields, &mut |record| {
                        packed.push(&record);
                        keys.push(identity_keys(&contract, &record));
                        progress.add(1);
                    })
                    .await
                    .map_err(|e| format!("the HRIS could not be read: {e}"))?;
                tracing::info!(
                    run = id,
                    employees = count,
                    took_ms = reading.elapsed().as_millis() as u64,
                    "the HRIS was read"
                );
                Ok(count)
            },
            async {
                // A CSV-feed LMS is compared with its own export, never with the feed.
                if let Some(feed) = &self.connections.feed {
                    let export = match &feed.export {
                        Some(export) => export.read().await?,
                        None => {
                            return Err("the LMS is a CSV feed and [lms] inbox is not set: there is no \
                                        user export of the LMS to compare the desired learners with"
                                .to_string());
                        }
                    };
                    tracing::info!(file = %export.file, learners = export.users.len(), "reconciling against the LMS's export");
                    packed_learners.set_memberships(&export.groups);
                    for user in &export.users {
                        packed_learners.push(user);
                        progress.add(1);
                    }
                    return Ok(export.users.len());
                }
                // Membership first: many servers list it only on the group.
                let groups = (self.connections.learners.all_groups().await)
                    .map_err(|e| format!("the LMS's groups could not be read: {e}"))?;
                tracing::info!(
                    run = id,
                    groups = groups.len(),
                    took_ms = reading.elapsed().as_millis() as u64,
                    "the LMS's groups were read"
                );
                packed_learners.set_memberships(&groups);
                drop(groups);
                let count = self
                    .connections
                    .learners
                    .each_user(&mut |user| {
                        packed_learners.push(&user);
                        progress.add(1);
                    })
                    .await
                    .map_err(|e| format!("the LMS could not be read: {e}"))?;
                tracing::info!(
                    run = id,
                    learners = count,
                    took_ms = reading.elapsed().as_millis() as u64,
                    "the LMS was read"
                );
                Ok(count)
            },
        )?;
        if employee_count == 0 {
            return Err(
                "the HRIS answered an empty employee list; nothing is reported as drift \
                        (the safety threshold would hold what it implies)"
                    .into(),
            );
        }
        packed.rows.shrink_to_fit();
        packed_learners.rows.shrink_to_fit();
        let pulled_at = Timestamp::now();
        let _ = self.store.beat_run(id);
        let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
        let (employee_count, learner_count) = (employee_count as u64, packed_learners.rows.len() as u64);
        progress.begin("reconciling: comparing", None);
        let comparing = contract.clone();
        let (mut findings, learner_groups, packed) = tokio::task::spawn_blocking(move || {
            let findings = compare::compare(&comparing, &packed, &packed_learners, today);
            (
                findings,
                compare::learner_duplicates(&packed_learners, Timestamp::now()),
                packed,
            )
        })
        .await
        .map_err(|e| format!("the comparison failed: {e}"))?;
        // Kept packed, for the contract previews until the next run replaces it.
        (self.connections.latest_pull).keep(Arc::new(PulledEmployees {
            employees: packed,
            pulled_at,
        }));
        // An employee whose learner is held for an operator (a suspected duplicate)
        // is asked about in the Duplicates and Held panes, not reported as drift.
        let held = self
            .store
            .held_employees(crate::model::Direction::HrisToLms)
            .map_err(|e| format!("the journal could not be read: {e}"))?;
        findings.retain(|f| {
            f.category != DriftCategory::EmployeeWithoutLearner || !held.contains(&f.employee_id)
        });
        let connections = &self.connections;
        let completions = match (&connections.completions, &connections.training) {
            (Some(lrs), Some(training)) if contract.writeback.is_some() => {
                let known = keys.iter().map(|k| k.employee_id.as_str()).collect();
                let (count, missing) = self
                    .completions_not_written_back(&contract, (lrs.as_ref(), training.as_ref()), &known)
                    .await?;
                findings.extend(missing);
                count
            }
            _ => 0,
        };
        let _ = self.store.beat_run(id);
        Ok(Pulled {
            employees: employee_count,
            learners: learner_count,
            completions,
            findings,
            keys,
            learner_groups,
        })
    }

    /// Every completion in the LRS the HRIS has no training record of.
    async fn completions_not_written_back(
        &self,
        contract: &Contract,
        (lrs, training): (&dyn CompletionSource, &dyn TrainingTarget),
        known: &HashSet<&str>,
    ) -> Result<(u64, Vec<Finding>), String> {
        let writeback = contract.writeback.as_ref().expect("checked by the caller");
        // A completion stored after the completions source's cursor has not been
        // read yet: it is on its way, not drift.
        let read_up_to = self
            .store
            .cursor(crate::engine::intake::completions::LRS_CURSOR)
            .map_err(|e| format!("the journal could not be read: {e}"))?
            .and_then(|c| c.parse::<Timestamp>().ok());
        let mut by_employee: HashMap<String, Vec<(Box<Completion>, Value)>> = HashMap::new();
        let mut count = 0u64;
        lrs.each_stored(|statement| {
            let read = stored_at(&statement)
                .zip(read_up_to)
                .is_some_and(|(at, up_to)| at <= up_to);
            if !read {
                return;
            }
            if let Ok(StatementMapping::Completion(c)) = map_statement(contract, writeback, &statement) {
                count += 1;
                // An employee the HRIS does not know waits in the error queue already.
                if known.contains(c.employee_id.as_str()) {
                    by_employee
                        .entry(c.employee_id.clone())
                        .or_default()
                        .push((c, statement));
                }
            }
        })
        .await
        .map_err(|e| format!("the LRS could not be read: {e}"))?;
        self.progress.begin(
            "reconciling: checking completions in the HRIS",
            Some(by_employee.len() as u64),
        );
        let mut checks = futures::stream::iter(by_employee)
            .map(|(employee, completions)| async move {
                let records = training.training_records(&employee).await;
                (employee, completions, records)
            })
            .buffer_unordered(HRIS_READS_AT_ONCE);
        let mut findings = Vec::new();
        while let Some((employee, completions, records)) = checks.next().await {
            self.progress.add(1);
            let records = records
                .map_err(|e| format!("the HRIS training records of {employee} could not be read: {e}"))?
                .unwrap_or_default();
            for (c, statement) in completions {
                if c.recorded_in(&records) {
                    continue;
                }
                findings.push(Finding {
                    category: DriftCategory::CompletionNotWrittenBack,
                    employee_id: employee.clone(),
                    learner_id: None,
                    field: c.statement_id.clone(),
                    hris_value: None,
                    lms_value: Some(format!(
                        "{} {} on {}",
                        c.verb,
                        c.course_name.as_deref().unwrap_or(&c.course_iri),
                        c.completed
                    )),
                    detail: json!({ "statement": statement, "verb": c.verb }),
                });
            }
        }
        findings.sort_by(|a, b| (&a.employee_id, &a.field).cmp(&(&b.employee_id, &b.field)));
        Ok((count, findings))
    }
}

/// A finished pull, ready to be stored in one transaction.
struct Pulled {
    employees: u64,
    learners: u64,
    completions: u64,
    findings: Vec<Finding>,
    keys: Vec<crate::model::IdentityKeys>,
    learner_groups: Vec<crate::store::SuspectedGroup>,
}

impl Pulled {
    fn store(self, tx: &crate::store::StoreTx<'_>, id: i64) -> Result<ReconcileRun, StoreError> {
        let mut people = Vec::with_capacity(self.keys.len());
        for keys in self.keys.into_iter().filter(|k| !k.employee_id.is_empty()) {
            let first_seen = tx.upsert_person(&keys)?;
            people.push((keys, first_seen));
        }
        for group in employee_groups(&people).iter().chain(&self.learner_groups) {
            crate::engine::intake::duplicates::record_suspected(tx, group)?;
        }
        tx.finish_run(
            id,
            (self.employees, self.learners, self.completions),
            &self.findings,
        )
    }
}

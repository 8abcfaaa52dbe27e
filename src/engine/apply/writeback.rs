//! Applies one completion (flow 2) to the HRIS: read what it holds first, then
//! write only what is missing — the training record (score in its notes), and
//! the credential's row with its expiry. A completion for an employee the HRIS
//! does not know is refused (the error queue), never dropped. One employee's
//! queued completions go as a run: the HRIS is read once for all of them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::connectors::roles::TrainingTarget;
use crate::contract::Contract;
use crate::contract::writeback::{Completion, StatementMapping, map_statement};
use crate::engine::apply::outcome::{Failure, Outcome};
use crate::model::{AuditAction, Event, FieldReason, WriteRecord};

pub struct WriteBack {
    pub training: Arc<dyn TrainingTarget>,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    /// While on, what would be written is recorded (the event `shadowed`), not written.
    pub shadow: crate::engine::apply::shadow::Shadow,
}

/// What the HRIS holds for the employee of a run, read once when first needed
/// and kept up to date with the run's own writes.
#[derive(Default)]
struct HeldByHris {
    /// `None` until read.
    records: Option<Vec<Value>>,
    /// The credential table's rows; `None` until read.
    rows: Option<Vec<Value>>,
}

impl WriteBack {
    /// Applies one LMS → HRIS event; never panics, never loses the event.
    pub async fn apply(&self, event: &Event) -> Outcome {
        self.apply_run(std::slice::from_ref(event))
            .await
            .pop()
            .expect("a run of one event has one outcome")
    }

    /// Applies a run of one employee's events, oldest first: what the HRIS holds
    /// is read once, and only what is missing is written. Answers one outcome
    /// per event tried, in order; it stops after the first event left open (a
    /// failure, a refusal), since the employee's later events must wait for it.
    pub async fn apply_run(&self, events: &[Event]) -> Vec<Outcome> {
        let contract = self.contract.read().clone();
        let mut held = HeldByHris::default();
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            let outcome = match self.try_apply(&contract, event, &mut held).await {
                Ok(outcome) => outcome,
                Err(failure) => Outcome::failed(failure),
            };
            let finished = matches!(
                outcome,
                Outcome::Applied { .. } | Outcome::Unchanged { .. } | Outcome::Shadowed { .. }
            );
            outcomes.push(outcome);
            if !finished {
                break;
            }
        }
        outcomes
    }

    async fn try_apply(
        &self,
        contract: &Contract,
        event: &Event,
        held: &mut HeldByHris,
    ) -> Result<Outcome, Failure> {
        let Some(writeback) = contract.writeback.as_ref() else {
            return Ok(Outcome::Rejected(vec![FieldReason {
                field: "writeback".into(),
                reason: "the contract in force has no [writeback] section".into(),
            }]));
        };
        let completion = match map_statement(contract, writeback, &event.payload) {
            Ok(StatementMapping::Completion(completion)) => completion,
            Ok(StatementMapping::Ignored(_)) => {
                return Ok(Outcome::Unchanged {
                    enrolled: Vec::new(),
                    mapped: None,
                    held: false,
                    why: "the contract in force does not write this statement back",
                    awaits_manager: None,
                });
            }
            Err(reasons) => return Ok(Outcome::Rejected(reasons)),
        };
        let employee = &completion.employee_id;
        if held.records.is_none() {
            held.records = self.training.training_records(employee).await?;
        }
        let Some(records) = held.records.as_mut() else {
            return Ok(Outcome::Rejected(vec![FieldReason {
                field: "actor.account.name".into(),
                reason: format!("the HRIS has no employee {employee}"),
            }]));
        };
        let mapped = Some(mapped_json(&completion));
        let mut after = Map::new();
        let mut target = Vec::new();
        let shadow = self.shadow.is_on();
        if !completion.recorded_in(records) && shadow {
            target.push("training record".to_string());
            after.insert("training_record".into(), completion.training_record());
        } else if !completion.recorded_in(records) {
            let record = completion.training_record();
            let written = self.training.add_training_record(employee, &record).await?;
            target.push(format!("training record {}", written["id"]));
            records.push(written);
            after.insert("training_record".into(), record);
        }
        if let Some(row) = completion.certification_row() {
            let table = &writeback.credential_table;
            if held.rows.is_none() {
                held.rows = Some(
                    self.training
                        .table_rows(employee, table)
                        .await?
                        .unwrap_or_default(),
                );
            }
            let rows = held.rows.as_mut().expect("read just above");
            if !completion.credential_in(rows) && shadow {
                target.push(format!("{table} row"));
                after.insert(table.clone(), row);
            } else if !completion.credential_in(rows) {
                let written = self.training.add_table_row(employee, table, &row).await?;
                target.push(format!("{table} row {}", written["id"]));
                rows.push(written);
                after.insert(table.clone(), row);
            }
        }
        if after.is_empty() {
            return Ok(Outcome::Unchanged {
                enrolled: Vec::new(),
                mapped,
                held: true,
                why: "the HRIS already holds this completion",
                awaits_manager: None,
            });
        }
        if shadow {
            let planned = crate::engine::apply::shadow::PlannedWrite::new(
                "training record",
                Some(target.join(", ")),
                &Map::new(),
                &after,
                Vec::new(),
            );
            return Ok(Outcome::Shadowed { planned, mapped });
        }
        Ok(Outcome::Applied {
            write: WriteRecord {
                sent_from: "lms".into(),
                sent_to: "hris".into(),
                target_id: Some(target.join(", ")),
                before: Value::Null,
                after: Value::Object(after),
                http_status: Some(201),
            },
            audit_action: AuditAction::TrainingRecord,
            enrolled: Vec::new(),
            mapped,
            awaits_manager: None,
        })
    }
}

fn mapped_json(c: &Completion) -> Value {
    json!({
        "employee_id": c.employee_id,
        "verb": c.verb,
        "course": c.course_iri,
        "course_name": c.course_name,
        "completed": c.completed.to_string(),
        "training_type": c.training_type,
        "hours": c.hours,
        "credits": c.credits,
        "score_raw": c.score_raw,
        "score_max": c.score_max,
        "score_scaled": c.score_scaled,
        "success": c.success,
        "credential": c.credential.as_ref().map(|k| json!({
            "name": k.name,
            "number": k.number,
            "issued": k.issued.to_string(),
            "expires": k.expires.map(|e| e.to_string()),
        })),
    })
}

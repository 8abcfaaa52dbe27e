//! What the simulated HRIS knows: its employees, when each last changed, and
//! the training records and certifications written back to it.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::mpsc;

use super::employee::HrisEmployee;
use super::training::{CertificationRow, TrainingRecord};
use crate::sandbox::world::{EmailBook, Workforce};

/// BambooHR's change actions, as `changed?since` and webhooks name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ChangeAction {
    Inserted,
    Updated,
    Deleted,
}

/// One change, queued for webhook delivery with the record as it was then.
#[derive(Clone, Debug)]
pub struct EmployeeChange {
    pub employee_id: u32,
    pub action: ChangeAction,
    pub at: Timestamp,
    pub changed_fields: Vec<&'static str>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

pub struct HrisState {
    pub employees: Vec<HrisEmployee>,
    index: HashMap<u32, usize>,
    pub emails: EmailBook,
    next_id: u32,
    /// Set when `--webhook-url` is given: every change goes out on it.
    webhook_tx: Option<mpsc::UnboundedSender<EmployeeChange>>,
    /// Changes handed to the webhook sender and not yet delivered or given up:
    /// what a test waits to reach zero instead of sleeping.
    pub webhooks_queued: u64,
    /// Training records by employee id (write-back target).
    pub training_records: HashMap<u32, Vec<TrainingRecord>>,
    /// Rows of the `customCertifications` custom table by employee id.
    pub certifications: HashMap<u32, Vec<CertificationRow>>,
    pub next_record_id: u64,
}

impl HrisState {
    pub fn new(workforce: Workforce, webhook_tx: Option<mpsc::UnboundedSender<EmployeeChange>>) -> Self {
        let index = workforce
            .employees
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id, i))
            .collect();
        let next_id = workforce.employees.iter().map(|e| e.id).max().unwrap_or(0) + 1;
        Self {
            employees: workforce.employees,
            index,
            emails: workforce.emails,
            next_id,
            webhook_tx,
            webhooks_queued: 0,
            training_records: HashMap::new(),
            certifications: HashMap::new(),
            next_record_id: 1,
        }
    }

    pub fn get(&self, id: u32) -> Option<&HrisEmployee> {
        self.index.get(&id).map(|&i| &self.employees[i])
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut HrisEmployee> {
        self.index.get(&id).map(|&i| &mut self.employees[i])
    }

    /// Looks up an employee by the id as it appears in a URL.
    pub fn find(&self, id: &str) -> Option<&HrisEmployee> {
        id.parse().ok().and_then(|id| self.get(id))
    }

    pub fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn insert(&mut self, employee: HrisEmployee) {
        let at = employee.created_at;
        let id = employee.id;
        self.index.insert(id, self.employees.len());
        self.employees.push(employee);
        self.record_change(id, ChangeAction::Inserted, Vec::new(), at);
    }

    /// Marks an employee changed at `at`, so `changed?since` lists it and a
    /// webhook goes out.
    pub fn record_change(
        &mut self,
        id: u32,
        action: ChangeAction,
        changed_fields: Vec<&'static str>,
        at: Timestamp,
    ) {
        let Some(&position) = self.index.get(&id) else {
            return;
        };
        let employee = &mut self.employees[position];
        employee.last_changed = at;
        if let Some(tx) = &self.webhook_tx {
            let fields = employee.to_json();
            // The delivery task outlives the state only at shutdown; a closed
            // channel then simply means nobody is delivering any more.
            let sent = tx.send(EmployeeChange {
                employee_id: id,
                action,
                at,
                changed_fields,
                fields,
            });
            if sent.is_ok() {
                self.webhooks_queued += 1;
            }
        }
    }

    /// Employees changed strictly after `since`, with the action BambooHR
    /// reports: `Inserted` when created after `since`, else `Updated`.
    pub fn changed_since(&self, since: Timestamp) -> Vec<(&HrisEmployee, ChangeAction)> {
        self.employees
            .iter()
            .filter(|e| e.last_changed > since)
            .map(|e| {
                let action = if e.created_at > since {
                    ChangeAction::Inserted
                } else {
                    ChangeAction::Updated
                };
                (e, action)
            })
            .collect()
    }
}

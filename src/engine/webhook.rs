// TEMPORARY STUB
#![allow(unused, clippy::all)]
use std::sync::Arc;
pub struct WebhookConfig;
impl WebhookConfig { pub fn new(s: crate::model::Secret) -> Self { todo!() } }
pub fn router(c: WebhookConfig, j: super::journal_writer::JournalWriter, m: Arc<super::metrics::Metrics>, s: crate::store::Store) -> axum::Router { todo!() }
pub async fn serve(l: tokio::net::TcpListener, r: axum::Router, c: tokio_util::sync::CancellationToken) -> std::io::Result<()> { todo!() }

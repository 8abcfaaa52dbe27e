// TEMPORARY STUB
#![allow(unused, clippy::all)]
#[derive(Clone)] pub struct JournalWriter;
impl JournalWriter { pub fn spawn(s: crate::store::Store, w: std::sync::Arc<tokio::sync::Notify>, c: tokio_util::sync::CancellationToken) -> (JournalWriter, tokio::task::JoinHandle<()>) { todo!() } }

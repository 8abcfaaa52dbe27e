// TEMPORARY STUB
#![allow(unused, clippy::all)]
#[derive(Default)] pub struct Metrics;
pub struct Snapshot { pub p50: std::time::Duration, pub p99: std::time::Duration }
impl Metrics { pub fn event_finished(&self, s: crate::model::EventStatus, at: jiff::Timestamp) {} pub fn snapshot(&self) -> Snapshot { todo!() } }

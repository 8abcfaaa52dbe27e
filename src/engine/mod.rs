//! The engine: ingest (webhooks, poller, initial load), the journal's apply
//! worker with retries and dead letters, and the operator actions. It knows
//! nothing of the console; the console reaches it through `EngineHandle`.

pub mod plan;

//! When reconciliation runs: on the configured daily schedule (see
//! `config::ReconcileSchedule`, which handles daylight saving) and on an operator's
//! request, one run at a time across processes.

/// Set by an operator (console key, handle) to ask for a run now: a timestamp.
pub const REQUEST_CURSOR: &str = "reconcile.requested";
/// The last request the engine took up, so one request starts one run.
pub const TAKEN_CURSOR: &str = "reconcile.request_taken";
/// The scheduled instant the engine last handled (ran, or found a run under way).
pub const LAST_SCHEDULED_CURSOR: &str = "reconcile.last_scheduled";
/// When the schedule runs next, published for consoles and the metrics.
pub const NEXT_CURSOR: &str = "reconcile.next";

//! Intake: everything that brings a change in and journals it before anything
//! else happens: signed webhooks (behind the hardened listener, group-committed
//! by the journal writer), the poller, the initial load and full syncs, the LRS's
//! completions, and the suspected-duplicate check every change passes.

pub mod completions;
pub mod duplicates;
pub mod files;
pub mod initial_load;
pub mod journal_writer;
pub mod listener;
pub mod poll;
pub mod webhook;

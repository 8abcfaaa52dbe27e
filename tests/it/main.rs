//! hrsync's integration tests, one module per behaviour, in one test binary: one
//! link instead of one per file. Shared set-up is in `common` (a sandbox and an
//! engine on real HTTP) and `console_support` (the console on a `TestBackend`).
//! `tests/supervised_tasks.rs` stays a binary of its own: it installs the
//! process-wide apply fault hook, which would reach every other test here.

mod common;
mod console_support;

mod apply_partial_writes;
mod architecture;
mod audit_chain;
mod cli_output;
mod completions_csv;
mod connectors;
mod console_actions;
mod console_attach;
mod console_command_line;
mod console_cutover;
mod console_drift;
mod console_duplicates;
mod console_files;
mod console_filters;
mod console_follow;
mod console_hostile;
mod console_live;
mod console_marks;
mod console_paging;
mod console_preview;
mod console_queues;
mod console_screens;
mod console_shadow;
mod console_sizes;
mod console_trace;
mod contract_check;
mod contract_expressions;
mod contract_preview;
mod contract_reports;
mod contract_triggers;
mod demo_tmux;
mod doctor;
mod duplicates_held;
mod duty_leases;
mod flat_files;
mod inbox;
mod interop_lrs;
mod interop_scim;
mod listener_hardening;
mod lms_feed;
mod lms_feed_upload;
mod lms_outage;
mod lms_quirks;
mod one_engine_per_store;
mod parallel;
mod reconcile_drift;
mod retries_cli;
mod safe_files;
mod same_second_changes;
mod sandbox_admin;
mod sandbox_completions;
mod sandbox_export;
mod sandbox_hris;
mod sandbox_scim;
mod sandbox_scim_quirks;
mod sandbox_webhooks;
mod sandbox_xapi;
mod shadow;
mod store_conformance;
mod store_journal;
mod store_reconcile;
mod store_retention;
mod sync_churn;
mod sync_crash;
mod sync_faults;
mod sync_initial_load;
mod trace;
mod webhook_intake;
mod writeback;

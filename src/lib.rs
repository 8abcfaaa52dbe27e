//! hrsync keeps an HRIS and an LMS in step in both directions and gives the
//! people who run that link a terminal console. See the README for the map.
#![deny(unsafe_code)]

// First: its `named_enum!` is used across the crate.
#[macro_use]
pub mod model;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod console;
pub mod contract;
pub mod engine;
pub mod sandbox;
pub mod store;

/// The engine allocates and frees many small buffers from many threads (one
/// per store call, one per request); glibc's allocator spent about a seventh
/// of the initial load's CPU on it (docs/performance.md). Every binary that
/// links the library (the engine, its tests and benchmarks) uses this one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! The `hrsync` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> anyhow::Result<std::process::ExitCode> {
    hrsync::cli::run(hrsync::cli::Cli::parse())
}

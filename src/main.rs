//! The `hrsync` binary: parse the command line and hand over to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match hrsync::cli::run(hrsync::cli::Cli::parse()) {
        Ok(code) => code,
        // A reader that stopped reading (`| head`) ends the command, as it ends `cat`.
        Err(error) if hrsync::cli::out::is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:?}");
            ExitCode::FAILURE
        }
    }
}

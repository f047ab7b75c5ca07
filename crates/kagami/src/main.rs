//! The `kagami` command. Parses arguments, wires the scan to the terminal
//! (progress bars, output files) and maps outcomes to exit codes. The work
//! itself lives in the library crates.

mod cli;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit codes (documented in README.md and docs/cli.md).
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const FAILURE: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const INTERRUPTED: u8 = 3;
    pub(crate) const FINDINGS: u8 = 4;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kagami: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let code = match cli.command {
        Command::Scan(args) => runtime.block_on(cli::scan::run(args)),
        Command::Report(args) => cli::report::run(args),
        Command::Db(args) => runtime.block_on(cli::db::run(args)),
    };
    ExitCode::from(code)
}

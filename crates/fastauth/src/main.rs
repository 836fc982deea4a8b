//! `fastauth`: parse the command line, load the configuration, run the command.

use std::process::ExitCode;

use clap::Parser;
use fastauth::cli::{self, Cli, Command};
use fastauth::config::{Config, Env};

/// glibc's allocator kept about 4 KiB per sign-in across its per-thread arenas (RSS grew by
/// 3 MiB for each 700 sign-ins, without end); jemalloc reuses freed memory and levels off.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    if matches!(command, Command::Openapi) {
        return report(cli::print_openapi());
    }
    let config = match Env::from_process().and_then(|env| Config::from_env(&env)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("fastauth: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    fastauth::logging::init(config.log_format);
    let runtime = match fastauth::http_workers::runtime(&config) {
        Ok(rt) => rt,
        Err(e) => return report(Err(e.into())),
    };
    report(runtime.block_on(cli::run(command, config)))
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fastauth: {e:#}");
            cli::exit_code(&e)
        }
    }
}

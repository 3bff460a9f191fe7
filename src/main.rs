//! The `scorelab` command line: parses arguments and calls the library crates.

mod bench_cmd;
mod cli;
mod failure;
mod output;
mod plot;
mod sample_cmd;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sample(args) => sample_cmd::run(&args),
        Command::Bench(args) => bench_cmd::run(&args),
    };
    if let Err(failure) = result {
        eprintln!("error: {failure}");
        std::process::exit(failure.exit_code());
    }
}

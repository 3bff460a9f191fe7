//! The `scorelab` command line: parses arguments and calls the library crates.

mod analysis_io;
mod analyze_cmd;
mod backend;
mod bench_cmd;
mod cells_cmd;
mod classifier_cmd;
mod cli;
mod compare_cmd;
mod compute_pool;
mod config_file;
mod demo_cmd;
mod failure;
mod forward_cmd;
mod inspect_cmd;
mod output;
mod plot_cmd;
mod progress;
mod sample_cmd;
mod score_source;
mod train_cmd;

use clap::FromArgMatches;
use scorelab_core::options::{as_flag, spell_options};

use crate::cli::{Cli, Command};

/// mimalloc keeps freed blocks for reuse, where the system allocator returns the large tensor
/// buffers of every operation to the kernel and takes page faults to get them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc.h, v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Keep freed pages instead of returning them to the kernel after 10 ms: every training and
    // sampling step frees and reallocates the same large tensor buffers, and each page given
    // back costs a page fault and a zeroed page to get again (measured on two cores, back to
    // back: W5 1.70–1.85 → 2.03–2.20 steps/s, W1 100 → 109 steps/s, W2 unchanged). Peak
    // memory is held until exit.
    // MIMALLOC_PURGE_DELAY, when set, is the user's choice and wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc options may be set at any time; no other thread exists yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let result = config_file::parse_command_line(&argv).and_then(|matches| {
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let threads = match &cli.command {
            Command::Bench(args) => args.threads,
            _ => None,
        };
        compute_pool::run_on_pool(threads, || dispatch(cli, &matches))
    });
    if let Err(failure) = result {
        // the libraries name options as ⟨name⟩: here they are flags
        let message = spell_options(&failure.to_string(), as_flag);
        match failure {
            // not an error: the run stopped on request and saved its work
            failure::Failure::Interrupted(_) => eprintln!("{message}"),
            _ => eprintln!("error: {message}"),
        }
        std::process::exit(failure.exit_code());
    }
}

/// Settings of every subcommand: negative numbers are values (`--lr -1` reaches the value
/// check instead of being read as an unknown flag), and a flag given twice keeps its last
/// value (a --config file's entries come first, so the command line wins).
pub fn command_settings(command: clap::Command) -> clap::Command {
    analysis_io::with_default_out_help(common_settings(command))
}

fn common_settings(command: clap::Command) -> clap::Command {
    command
        .allow_negative_numbers(true)
        .args_override_self(true)
        .mut_subcommands(common_settings)
}

fn dispatch(cli: Cli, matches: &clap::ArgMatches) -> failure::CliResult<()> {
    match cli.command {
        Command::Train(args) => {
            let sub = matches.subcommand_matches("train").expect("train matches");
            train_cmd::run_command(&args, sub)
        }
        Command::Sample(args) => sample_cmd::run(&args),
        Command::Bench(args) => bench_cmd::run(&args),
        Command::TrainClassifier(args) => classifier_cmd::run(&args),
        Command::Analyze { what } => analyze_cmd::run(&what),
        Command::Demo(args) => demo_cmd::run(&args),
        Command::Plot(args) => plot_cmd::run(&args),
        Command::Forward(args) => forward_cmd::run(&args),
        Command::Inspect(args) => inspect_cmd::run(&args),
    }
}

//! What the analysis commands share: their device and their output folder (with the default
//! shown in --help).

use std::path::PathBuf;

use burn::tensor::Device;

use scorelab_core::BackendKind;

use crate::cli::OutputArgs;
use crate::failure::CliResult;
use crate::output::OutputDir;

/// The device of an analysis command (`--device`).
pub fn open(output: &OutputArgs) -> CliResult<Device> {
    crate::backend::open_backend(BackendKind::parse(&output.device)?)
}

/// The output folder of `analyze NAME` when --out is not given: `out/NAME` (the training
/// curves: `out/training-curves`).
pub fn default_out(name: &str) -> String {
    match name {
        "training" => "out/training-curves".into(),
        other => format!("out/{other}"),
    }
}

/// The output folder of `analyze NAME`: --out, else [`default_out`].
pub fn out_dir(output: &OutputArgs, name: &str) -> CliResult<OutputDir> {
    let path = output
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_out(name)));
    Ok(OutputDir::create(&path, output.force)?)
}

/// Shows each analysis command's default output folder in its --help.
pub fn with_default_out_help(command: clap::Command) -> clap::Command {
    command.mut_subcommand("analyze", |analyze| {
        analyze.mut_subcommands(|sub| {
            let folder = default_out(sub.get_name());
            sub.mut_arg("out", |arg| {
                arg.help(format!("Output folder [default: {folder}]"))
            })
        })
    })
}

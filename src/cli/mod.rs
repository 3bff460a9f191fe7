//! Command-line arguments.

use clap::{Parser, Subcommand};

mod analyze;
mod sample;
mod train;

pub use analyze::*;
pub use sample::*;
pub use train::*;
/// Score-based generative models: train, sample, and measure memorisation against the
/// empirical score.
#[derive(Debug, Parser)]
#[command(name = "scorelab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a score network and write checkpoints and a loss log into a run folder.
    Train(Box<TrainArgs>),
    /// Run reverse-time dynamics with a score and write samples, a summary and a picture.
    Sample(Box<SampleArgs>),
    /// Time performance workloads of the design (W1: dsm training, W2: sampling with the W1
    /// network, W3: empirical score on MNIST, W4: ssm and hyvarinen training) and print one
    /// JSON line per workload.
    Bench(BenchArgs),
    /// Train the MNIST classifier used to measure sample quality (features and class
    /// frequencies) and write it as model.bpk + meta.json.
    TrainClassifier(TrainClassifierArgs),
    /// Train a Swiss-roll score, sample it and the empirical score of its training set, and
    /// write a report comparing their memorisation, quality and reverse paths.
    Demo(DemoArgs),
    /// Draw columns of a CSV file against another as curves (PNG), e.g. an experiment's table.
    Plot(PlotArgs),
    /// Push a 2-D dataset through an SDE's forward marginals at chosen times and draw them
    /// side by side, with how far the state at T still is from the prior (sliced W2).
    Forward(Box<ForwardArgs>),
    /// Show what a checkpoint, a training run folder or a classifier folder holds: model, SDE,
    /// data, steps, last logged loss, EMA age, weights digests and the commands that made it.
    Inspect(InspectArgs),
    /// Measure memorisation and quality: of samples, along reverse paths, the imitation rate
    /// and early stopping.
    Analyze {
        #[command(subcommand)]
        what: AnalyzeCommand,
    },
}

/// The command line as typed, program name shortened to `scorelab` (recorded in metadata).
pub fn command_line() -> String {
    let mut words = vec!["scorelab".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

/// `scorelab inspect` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// A checkpoint folder (ckpt-STEP), a training run folder, or a classifier folder.
    pub path: std::path::PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's consistency checks (no two arguments of a command share an id or a long flag)
    /// run only in debug builds; this runs them in every build, so a flag that collides with a
    /// flattened one (as `analyze likelihood --points` once did with the diracs `--points`) is a
    /// test failure rather than a flag that silently feeds the other.
    #[test]
    fn no_command_has_two_arguments_with_one_name() {
        crate::command_settings(super::Cli::command()).debug_assert();
    }

    /// The flags' defaults are the library's: a command line without flags and a library
    /// caller that takes `Default::default()` run the same job.
    #[test]
    fn flag_defaults_are_the_library_defaults() {
        use super::{Cli, Command};
        use clap::Parser;
        let parse = |words: &[&str]| Cli::parse_from(["scorelab"].iter().chain(words)).command;
        let Command::Train(train) = parse(&["train"]) else {
            panic!("train")
        };
        assert_eq!(train.options, scorelab_jobs::TrainOptions::default());
        let Command::Sample(sample) = parse(&["sample"]) else {
            panic!("sample")
        };
        assert_eq!(sample.source, scorelab_jobs::ScoreOptions::default());
        assert_eq!(
            sample.integrator,
            scorelab_sample::SamplerOptions::default()
        );
        let Command::Bench(bench) = parse(&["bench", "w1"]) else {
            panic!("bench")
        };
        assert_eq!(bench.options, scorelab_jobs::bench::BenchOptions::default());
        let Command::Demo(demo) = parse(&["demo"]) else {
            panic!("demo")
        };
        assert_eq!(demo.options, scorelab_jobs::DemoOptions::default());
    }

    /// Every command that writes files shows where when --out is not given.
    #[test]
    fn every_output_folder_default_is_in_the_help() {
        let command = crate::command_settings(super::Cli::command());
        let mut checked = 0;
        let mut check = |sub: &clap::Command, path: &str| {
            // a required --out (plot's file) has no default to show
            if let Some(out) = sub
                .get_arguments()
                .find(|a| a.get_id() == "out" && !a.is_required_set())
            {
                let help = out.get_help().map(|h| h.to_string()).unwrap_or_default();
                let default = out.get_default_values();
                assert!(
                    help.contains("[default: out/")
                        || default
                            .iter()
                            .any(|d| d.to_string_lossy().starts_with("out/")),
                    "{path}: --out help {help:?}, default {default:?}"
                );
                checked += 1;
            }
        };
        for sub in command.get_subcommands() {
            check(sub, sub.get_name());
            for leaf in sub.get_subcommands() {
                check(leaf, &format!("{} {}", sub.get_name(), leaf.get_name()));
            }
        }
        assert!(checked >= 14, "{checked}");
    }
}

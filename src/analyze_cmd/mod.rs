//! `scorelab analyze`: memorisation of samples, path diagnostics, the imitation rate and the
//! early-stopping sweep (DESIGN §6). Every command writes JSON, CSV and PNG files into its
//! output folder and prints the key numbers.

use std::path::PathBuf;

use indicatif::ProgressBar;

use scorelab_jobs::likelihood_job::LikelihoodObserver;
use scorelab_jobs::score_jobs::{AgreementJob, AgreementPair};
use scorelab_sample::SamplerOptions;

use crate::analysis_io::{open, out_dir};
use crate::cli::{
    AgreementArgs, AnalyzeCommand, FisherArgs, LikelihoodArgs, MemorizationArgs, PathsArgs,
    RateArgs, TminArgs, TrainingCurvesArgs,
};
use crate::failure::{CliResult, Failure};
use crate::output::table_from_flags;
use crate::sample_cmd::progress_bar;
use crate::score_source::{open_source, warn};

mod memorization;
mod paths;
mod scores;

use memorization::memorization;
use paths::{paths, rate, tmin};
use scores::{agreement_cmd, fisher, likelihood, training_curves};

pub fn run(what: &AnalyzeCommand) -> CliResult<()> {
    match what {
        AnalyzeCommand::Memorization(args) => memorization(args),
        AnalyzeCommand::Paths(args) => paths(args),
        AnalyzeCommand::Rate(args) => rate(args),
        AnalyzeCommand::Tmin(args) => tmin(args),
        AnalyzeCommand::Likelihood(args) => likelihood(args),
        AnalyzeCommand::Fisher(args) => fisher(args),
        AnalyzeCommand::Agreement(args) => agreement_cmd(args),
        AnalyzeCommand::Training(args) => training_curves(args),
        AnalyzeCommand::Cells(args) => crate::cells_cmd::run(args),
        AnalyzeCommand::Compare(args) => crate::compare_cmd::run(args),
    }
}

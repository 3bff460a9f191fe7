//! `scorelab analyze`: memorisation of samples, path diagnostics, the imitation rate and the
//! early-stopping sweep (DESIGN §6). Every command writes JSON, CSV and PNG files into its
//! output folder and prints the key numbers.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use indicatif::ProgressBar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use scorelab_analysis::agreement::agreement;
use scorelab_analysis::fisher::{fisher_divergence, write_fisher_files};
use scorelab_analysis::memorization::validate_threshold;
use scorelab_analysis::paths::{path_diagnostics, PathConfig};
use scorelab_analysis::rate::{imitation_rate, RateConfig};
use scorelab_analysis::tmin::tmin_sweep;
use scorelab_analysis::training_eval::{read_eval_file, RunCurve, TrainingCurves};
use scorelab_analysis::AnalysisError;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;
use scorelab_core::CoreError;
use scorelab_core::{DatasetSpec, EmpiricalScore, GmmScore, PerturbedScore, ScoreFn, Sde};
use scorelab_jobs::likelihood_job::{LikelihoodJob, LikelihoodObserver};
use scorelab_sample::SamplerConfig;
use scorelab_train::checkpoint::{read_meta, resolve};
use scorelab_train::Normalisation;

use crate::analysis_io::{file_names, open, out_dir};
use crate::cli::{
    AgreementArgs, AnalyzeCommand, FisherArgs, LikelihoodArgs, MemorizationArgs, PathsArgs,
    RateArgs, TminArgs, TrainingCurvesArgs,
};
use crate::failure::{CliResult, Failure};
use crate::output::table_from_flags;
use crate::sample_cmd::{progress_bar, sampler_config};
use crate::score_source::{
    checkpoint_training_set, data_options, dataset_spec, open_source, parse_list,
    parse_perturbation, warn,
};

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

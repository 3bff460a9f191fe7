//! `scorelab analyze`: memorisation of samples, path diagnostics, the imitation rate and the
//! early-stopping sweep (DESIGN §6). Every command writes JSON, CSV and PNG files into its
//! output folder and prints the key numbers.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde_json::{json, Value};

use scorelab_analysis::agreement::agreement;
use scorelab_analysis::fisher::{fisher_divergence, write_fisher_files};
use scorelab_analysis::frechet::{class_histogram, frechet_distance};
use scorelab_analysis::likelihood::{
    bits_per_dim, dequantise, nll_per_dim, LikelihoodOptions, SetLikelihoods,
};
use scorelab_analysis::memorization::{
    d1_histogram, memorisation_report, validate_threshold, Baselines, Neighbours,
};
use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::plot::image_grid_png;
use scorelab_analysis::quality::{QualityMetric, SlicedW2To, SLICED_W2_MAX_DIM};
use scorelab_analysis::rate::{imitation_rate, RateConfig};
use scorelab_analysis::stats::summarise;
use scorelab_analysis::tmin::tmin_sweep;
use scorelab_analysis::training_eval::{read_eval_file, RunCurve, TrainingCurves};
use scorelab_analysis::AnalysisError;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::CoreError;
use scorelab_core::{Dataset, DatasetSpec, EmpiricalScore, GmmScore, PerturbedScore, ScoreFn, Sde};
use scorelab_sample::SamplerConfig;
use scorelab_train::checkpoint::{read_meta, resolve};
use scorelab_train::classifier::{CLASSES, FEATURES, PIXELS as FEATURE_INPUT};
use scorelab_train::training_set::{training_set_of_checkpoint, training_set_of_samples};
use scorelab_train::{Classifier, Normalisation};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::analysis_io::{file_names, open, open_classifier, out_dir, read_samples, source_json};
use crate::cli::{
    AgreementArgs, AnalyzeCommand, FisherArgs, LikelihoodArgs, MemorizationArgs, PathsArgs,
    RateArgs, TminArgs, TrainingCurvesArgs,
};
use crate::failure::{CliResult, Failure};
use crate::output::table_from_flags;
use crate::sample_cmd::{progress_bar, sampler_config};
use crate::score_source::{
    checkpoint_training_set, dataset_spec, parse_list, parse_perturbation, ScoreSource,
};
use crate::train_cmd::EXACT_DIVERGENCE_MAX_DIM;

mod memorization;
mod paths;
mod scores;

pub use memorization::memorisation_section;
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

//! The data, SDE and score flags as the jobs library's options (`scorelab_jobs`), and the
//! warnings of a score's choice on stderr.

use burn::tensor::Device;

use scorelab_core::options::{as_flag, spell_options};
use scorelab_core::SdeParams;
pub use scorelab_jobs::ScoreSource;
use scorelab_jobs::{DataOptions, ScoreOptions, SdeOptions};
pub use scorelab_train::training_set::shipped_path;

use crate::cli::{DataArgs, ScoreArgs, SdeArgs};
use crate::failure::CliResult;

/// Prints a warning on stderr (options named by a library spelled as flags).
pub fn warn(line: &str) {
    eprintln!("warning: {}", spell_options(line, as_flag));
}

/// The data flags as options.
pub fn data_options(args: &DataArgs) -> DataOptions {
    DataOptions {
        dataset: args.dataset.clone(),
        n_train: args.n_train,
        noise: args.noise,
        points: args.points.clone(),
        data_file: args.data_file.clone(),
        mnist_dir: args.mnist_dir.clone(),
        split: args.split.clone(),
        part: args.part.clone(),
        data_seed: args.data_seed,
    }
}

/// The SDE flags as options.
pub fn sde_options(args: &SdeArgs) -> SdeOptions {
    SdeOptions {
        sde: args.sde.clone(),
        params: SdeParams {
            sigma_min: args.sigma_min,
            sigma_max: args.sigma_max,
            beta_min: args.beta_min,
            beta_max: args.beta_max,
            theta: args.theta,
            sigma: args.sigma,
            mu: args.mu,
            c: args.c,
            t_end: args.t_end,
        },
    }
}

/// The data and SDE flags given with values other than their defaults (a checkpoint
/// overrides them all).
fn overridden_flags(args: &ScoreArgs) -> Vec<String> {
    let (d, e) = (&args.data, &args.sde);
    let given = [
        ("--dataset", d.dataset != "swissroll"),
        ("--n-train", d.n_train.is_some()),
        ("--noise", d.noise != 0.0),
        ("--data-file", d.data_file.is_some()),
        ("--split", d.split != "train"),
        ("--part", d.part.is_some()),
        ("--data-seed", d.data_seed.is_some()),
        ("--sde", e.sde != "vp"),
        ("--sigma-min", e.sigma_min.is_some()),
        ("--sigma-max", e.sigma_max.is_some()),
        ("--beta-min", e.beta_min.is_some()),
        ("--beta-max", e.beta_max.is_some()),
        ("--theta", e.theta.is_some()),
        ("--sigma", e.sigma.is_some()),
        ("--mu", e.mu.is_some()),
        ("--c", e.c.is_some()),
        ("--t-end", e.t_end.is_some()),
    ];
    given
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(flag, _)| flag.to_string())
        .collect()
}

/// The score flags as options.
pub fn score_options(args: &ScoreArgs) -> ScoreOptions {
    ScoreOptions {
        score: args.score.clone(),
        checkpoint: args.checkpoint.clone(),
        weights: args.weights.clone(),
        step: args.step,
        perturb: args.perturb.clone(),
        data: data_options(&args.data),
        sde: sde_options(&args.sde),
        data_chunk: args.data_chunk,
        query_chunk: args.query_chunk,
        overridden: overridden_flags(args),
    }
}

/// The score the flags name (`seed`: the default seed of the training-set draw).
pub fn open_source(args: &ScoreArgs, seed: u64, device: &Device) -> CliResult<ScoreSource> {
    Ok(ScoreSource::open(
        &score_options(args),
        seed,
        device,
        &mut warn,
    )?)
}

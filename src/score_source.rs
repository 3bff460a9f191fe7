//! Where a command's score comes from: the empirical or exact score of a dataset described by
//! flags, or a trained network from a checkpoint, together with its training set and SDE.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use scorelab_core::datasets::{MnistSplit, DATASET_NAMES};
use scorelab_core::{
    Dataset, DatasetSpec, EmpiricalScore, Gmm, GmmScore, PerturbedScore, ScoreFn, Sde, SdeParams,
};
use scorelab_sample::{Prior, PriorKind, PRIOR_NAMES};
use scorelab_train::checkpoint::{resolve_checkpoint, EMA_FILE, WEIGHTS_FILE};
pub use scorelab_train::training_set::shipped_path;
use scorelab_train::{load_score_weights, Meta, Normalisation};

use crate::cli::{DataArgs, ScoreArgs, SdeArgs};
use crate::failure::{CliResult, Failure};

/// Parses a constant perturbation e (comma-separated) given with `flag` and checks that it has
/// `dim` entries.
pub fn parse_perturbation(text: &str, flag: &str, dim: usize) -> CliResult<Vec<f64>> {
    let e = parse_list(text, flag)?;
    if e.len() != dim {
        return Err(Failure::usage(format!(
            "{flag} has {} entries but the data dimension is {dim}",
            e.len()
        )));
    }
    Ok(e)
}

/// Parses "i/k" (part i of k).
fn parse_part(text: &str) -> CliResult<(usize, usize)> {
    let bad = || Failure::usage(format!("--part: expected i/k such as 1/2, got '{text}'"));
    let (i, k) = text.split_once('/').ok_or_else(bad)?;
    Ok((
        i.trim().parse().map_err(|_| bad())?,
        k.trim().parse().map_err(|_| bad())?,
    ))
}

/// Parses "a,b;c,d" into points.
fn parse_points(text: &str) -> CliResult<Vec<Vec<f64>>> {
    text.split(';')
        .map(|point| parse_list(point, "--points"))
        .collect()
}

/// Parses a comma-separated list of numbers.
pub fn parse_list(text: &str, flag: &str) -> CliResult<Vec<f64>> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| Failure::usage(format!("{flag}: '{}' is not a number", v.trim())))
        })
        .collect()
}

/// The training set a checkpoint was trained on, with its located spec.
pub fn checkpoint_training_set(meta: &Meta) -> CliResult<(DatasetSpec, Dataset)> {
    Ok(scorelab_train::training_set::checkpoint_training_set(meta)?)
}

/// The dataset described by the flags.
/// `drawn_default` is the size of drawn 2-D datasets when --n-train is not given.
pub fn dataset_spec(args: &DataArgs, drawn_default: usize) -> CliResult<DatasetSpec> {
    let n = |default: usize| args.n_train.unwrap_or(default);
    Ok(match args.dataset.as_str() {
        "swissroll" => DatasetSpec::Swissroll {
            n: n(drawn_default),
            noise: args.noise,
        },
        "lemniscate" => DatasetSpec::Lemniscate {
            n: n(drawn_default),
            noise: args.noise,
        },
        "circle" => DatasetSpec::Circle { k: n(9) },
        "diracs" => DatasetSpec::Diracs {
            points: parse_points(&args.points)?,
        },
        "gmm" => DatasetSpec::Gmm {
            n: n(drawn_default),
            gmm: Gmm::default_ring(),
        },
        "mnist" => DatasetSpec::Mnist {
            dir: shipped_path(&args.mnist_dir),
            split: MnistSplit::parse(&args.split)?,
            n: args.n_train,
            part: args.part.as_deref().map(parse_part).transpose()?,
        },
        "csv" => DatasetSpec::Csv {
            path: args
                .data_file
                .clone()
                .ok_or_else(|| Failure::usage("--dataset csv needs --data-file PATH"))?,
        },
        other => {
            return Err(Failure::usage(format!(
                "unknown dataset '{other}' (expected one of: {})",
                DATASET_NAMES.join(", ")
            )))
        }
    })
}

/// Points on which ve's default σ_max (the largest pairwise distance) is measured.
pub const SIGMA_MAX_POINTS: usize = 2000;

/// The SDE described by the flags; `ve` without --sigma-max takes the data's largest pairwise distance.
pub fn build_sde(args: &SdeArgs, data: &Dataset) -> CliResult<Sde> {
    let params = SdeParams {
        sigma_min: args.sigma_min,
        sigma_max: args.sigma_max,
        beta_min: args.beta_min,
        beta_max: args.beta_max,
        theta: args.theta,
        sigma: args.sigma,
        mu: args.mu,
        c: args.c,
        t_end: args.t_end,
    };
    let data_sigma_max = (args.sde == "ve" && args.sigma_max.is_none())
        .then(|| data.max_pairwise_distance(SIGMA_MAX_POINTS));
    Ok(params.build(&args.sde, data_sigma_max)?)
}

/// The score to sample with and the training set it is compared against.
pub struct ScoreSource {
    pub score: Box<dyn ScoreFn>,
    pub sde: Sde,
    pub spec: DatasetSpec,
    /// The training set, in data space.
    pub data: Dataset,
    pub data_seed: u64,
    /// Samples live in model space; this maps them back to data space.
    pub normalisation: Normalisation,
    /// The checkpoint folder the score was loaded from (a run folder resolved to one of its
    /// `ckpt-STEP` folders).
    pub checkpoint_dir: Option<PathBuf>,
}

/// The checkpoint folder `path` names (at `step` in a run folder, else the newest valid one),
/// with a warning for each newer checkpoint that was passed over.
pub fn resolve_reporting(path: &Path, step: Option<u64>) -> CliResult<PathBuf> {
    let resolved = resolve_checkpoint(path, step)?;
    for (dir, reason) in &resolved.skipped {
        eprintln!(
            "warning: passing over {} ({reason}); using {}",
            dir.display(),
            resolved.dir.display()
        );
    }
    Ok(resolved.dir)
}

/// The data and SDE flags given with values other than their defaults (a checkpoint
/// overrides them all).
fn overridden_flags(args: &ScoreArgs) -> Vec<&'static str> {
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
        .map(|(flag, _)| flag)
        .collect()
}

/// A trained network from `--checkpoint`, with its SDE and rebuilt training set.
fn checkpoint_source(args: &ScoreArgs, device: &Device) -> CliResult<ScoreSource> {
    let path = args
        .checkpoint
        .as_ref()
        .ok_or_else(|| Failure::usage("--score checkpoint needs --checkpoint DIR"))?;
    let file = match args.weights.as_str() {
        "ema" => EMA_FILE,
        "raw" => WEIGHTS_FILE,
        other => {
            return Err(Failure::usage(format!(
                "unknown weights '{other}' (expected one of: ema, raw)"
            )))
        }
    };
    let dir = resolve_reporting(path, args.step)?;
    let (score, meta) = load_score_weights(&dir, file, device)?;
    let ignored = overridden_flags(args);
    if !ignored.is_empty() {
        eprintln!(
            "warning: {} ignored: the checkpoint fixes its data and SDE",
            ignored.join(", ")
        );
    }
    let horizon = 1.0 / (1.0 - meta.train.ema_decay);
    if file == EMA_FILE && (meta.step as f64) < 3.0 * horizon {
        eprintln!(
            "warning: the moving average is young ({} steps, decay {}: under 3/(1 − decay) = {:.0}) \
             and still remembers the initialisation; --weights raw uses the last step's weights",
            meta.step, meta.train.ema_decay, 3.0 * horizon
        );
    }
    let (spec, data) = checkpoint_training_set(&meta)?;
    Ok(ScoreSource {
        checkpoint_dir: Some(dir),
        score,
        sde: meta.sde,
        spec,
        data,
        data_seed: meta.data.seed,
        normalisation: meta.data.normalisation,
    })
}

/// The empirical or exact score of the training set described by the flags.
fn analytic_source(args: &ScoreArgs, seed: u64, device: &Device) -> CliResult<ScoreSource> {
    if args.checkpoint.is_some() {
        return Err(Failure::usage("--checkpoint needs --score checkpoint"));
    }
    let spec = dataset_spec(&args.data, 100)?;
    let data_seed = args.data.data_seed.unwrap_or(seed);
    let data = spec.load(data_seed)?;
    let sde = build_sde(&args.sde, &data)?;
    let score: Box<dyn ScoreFn> = match args.score_name() {
        "empirical" => Box::new(EmpiricalScore::from_points(
            &data.points,
            data.dim,
            sde.clone(),
            (0.0, 1.0),
            args.query_chunk,
            args.data_chunk,
            device,
        )?),
        "exact" => match &spec {
            DatasetSpec::Gmm { gmm, .. } => {
                Box::new(GmmScore::new(gmm.clone(), sde.clone(), device))
            }
            _ => {
                return Err(Failure::usage(
                    "--score exact needs --dataset gmm (the only dataset with a known density)",
                ))
            }
        },
        other => {
            return Err(Failure::usage(format!(
                "unknown score '{other}' (expected one of: empirical, exact, checkpoint)"
            )))
        }
    };
    if args.step.is_some() {
        return Err(Failure::usage(
            "--step chooses a checkpoint: it needs --score checkpoint",
        ));
    }
    Ok(ScoreSource {
        checkpoint_dir: None,
        score,
        sde,
        spec,
        data,
        data_seed,
        normalisation: Normalisation::IDENTITY,
    })
}

impl ScoreSource {
    /// The score named by `args`, perturbed when --perturb is given; `seed` is the default
    /// seed of the training-set draw.
    pub fn open(args: &ScoreArgs, seed: u64, device: &Device) -> CliResult<Self> {
        let source = if args.score_name() == "checkpoint" {
            checkpoint_source(args, device)?
        } else {
            analytic_source(args, seed, device)?
        };
        let score: Box<dyn ScoreFn> = match &args.perturb {
            Some(text) => {
                let e = parse_perturbation(text, "--perturb", source.score.dim())?;
                Box::new(PerturbedScore::new(source.score, &e, device)?)
            }
            None => source.score,
        };
        let source = ScoreSource { score, ..source };
        if source.score.dim() != source.data.dim {
            return Err(Failure::runtime(format!(
                "the score has dimension {} but the training set has dimension {}",
                source.score.dim(),
                source.data.dim
            )));
        }
        Ok(source)
    }

    /// The law of X_T named by `--prior`: the SDE's nominal prior, p_T's moment-matched
    /// Gaussian, or (empirical score only) p_T of the training set itself.
    pub fn prior(&self, name: &str, args: &ScoreArgs, device: &Device) -> CliResult<Prior> {
        let kind = PriorKind::parse(name).ok_or_else(|| {
            Failure::usage(format!(
                "unknown prior '{name}' (expected one of: {})",
                PRIOR_NAMES.join(", ")
            ))
        })?;
        Ok(match kind {
            PriorKind::Nominal => Prior::Nominal,
            PriorKind::Moment => Prior::moment(&self.sde, &self.training_in_model_space(device))?,
            PriorKind::Exact if args.score_name() != "empirical" => {
                return Err(Failure::usage(format!(
                "--prior exact starts from the training points (x_T = α y_i + c + σ z), the law \
                     p_T of the empirical score only; --score {} would start next to its training \
                     set: use --prior moment",
                args.score_name()
            )))
            }
            PriorKind::Exact => Prior::exact(self.training_in_model_space(device))?,
        })
    }

    /// The training set in the space the score lives in (normalised for images).
    pub fn training_in_model_space(&self, device: &Device) -> Tensor<2> {
        self.normalisation.to_model_tensor(&self.data, device)
    }

    /// The empirical score of the training set in model space, under the score's SDE.
    pub fn empirical_twin(&self, args: &ScoreArgs, device: &Device) -> CliResult<EmpiricalScore> {
        let Normalisation { shift, scale } = self.normalisation;
        Ok(EmpiricalScore::from_points(
            &self.data.points,
            self.data.dim,
            self.sde.clone(),
            (shift as f32, scale as f32),
            args.query_chunk,
            args.data_chunk,
            device,
        )?)
    }
}

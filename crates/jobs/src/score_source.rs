//! Which score a set of options means: the empirical or exact score of a dataset, or a trained
//! network from a checkpoint, together with its training set, SDE and normalisation.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use scorelab_core::empirical::{DEFAULT_DATA_CHUNK, DEFAULT_QUERY_CHUNK};
use scorelab_core::{Dataset, DatasetSpec, EmpiricalScore, GmmScore, PerturbedScore, ScoreFn, Sde};
use scorelab_sample::{Prior, PriorKind};
use scorelab_train::checkpoint::{resolve_checkpoint, EMA_FILE, WEIGHTS_FILE};
use scorelab_train::training_set::checkpoint_training_set;
use scorelab_train::{load_score_weights, Normalisation};

use crate::error::{JobError, Result};
use crate::options::{parse_perturbation, DataOptions, SdeOptions};

/// Size of a drawn 2-D training set for a closed-form score and the analyses when `n_train`
/// is not given (small: the empirical score is then quick to evaluate and to memorise).
pub const POINTS_FOR_SCORES: usize = 100;

/// Which score: by name, or a checkpoint (which then fixes data and SDE). With the `clap`
/// feature: the score, data and SDE flags of the command line.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct ScoreOptions {
    /// Score: empirical (exact score of the smoothed training set), exact (analytic; gmm only)
    /// or checkpoint (a trained network; see --checkpoint) [default: checkpoint when
    /// --checkpoint is given, else empirical].
    #[cfg_attr(feature = "clap", arg(long))]
    pub score: Option<String>,
    /// Checkpoint folder, or a run folder (its newest valid checkpoint); implies --score
    /// checkpoint. The SDE and the training set come from the checkpoint; data and SDE flags
    /// given with it are ignored, with a warning.
    #[cfg_attr(feature = "clap", arg(long))]
    pub checkpoint: Option<PathBuf>,
    /// Which weights of the checkpoint: ema (the moving average) or raw (the last step's).
    #[cfg_attr(feature = "clap", arg(long, default_value = "ema"))]
    pub weights: String,
    /// With a run folder as --checkpoint: its checkpoint at this step [default: the newest one
    /// that is complete and undamaged, saying which newer ones were passed over].
    #[cfg_attr(feature = "clap", arg(long))]
    pub step: Option<u64>,
    /// Add a constant vector e to the score (comma-separated, length d): a perturbed score.
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub perturb: Option<String>,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataOptions,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sde: SdeOptions,
    /// Empirical score: training points per chunk of the streaming softmax.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_DATA_CHUNK))]
    pub data_chunk: usize,
    /// Empirical score: query rows per block.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = DEFAULT_QUERY_CHUNK))]
    pub query_chunk: usize,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            score: None,
            checkpoint: None,
            weights: "ema".into(),
            step: None,
            perturb: None,
            data: DataOptions::default(),
            sde: SdeOptions::default(),
            data_chunk: DEFAULT_DATA_CHUNK,
            query_chunk: DEFAULT_QUERY_CHUNK,
        }
    }
}

impl ScoreOptions {
    /// The score named by `score`, or implied by `checkpoint`.
    pub fn score_name(&self) -> &str {
        match (&self.score, &self.checkpoint) {
            (Some(name), _) => name,
            (None, Some(_)) => "checkpoint",
            (None, None) => "empirical",
        }
    }

    /// The data and SDE options set to values other than their defaults, as `⟨name⟩`s (a
    /// checkpoint fixes them all, and says which it ignores).
    pub fn overridden(&self) -> Vec<&'static str> {
        let (d, e) = (&self.data, &self.sde.params);
        let default = DataOptions::default();
        let given = [
            ("⟨dataset⟩", d.dataset != default.dataset),
            ("⟨n-train⟩", d.n_train.is_some()),
            ("⟨noise⟩", d.noise != default.noise),
            ("⟨data-file⟩", d.data_file.is_some()),
            ("⟨split⟩", d.split != default.split),
            ("⟨part⟩", d.part.is_some()),
            ("⟨data-seed⟩", d.data_seed.is_some()),
            ("⟨sde⟩", self.sde.sde != SdeOptions::default().sde),
            ("⟨sigma-min⟩", e.sigma_min.is_some()),
            ("⟨sigma-max⟩", e.sigma_max.is_some()),
            ("⟨beta-min⟩", e.beta_min.is_some()),
            ("⟨beta-max⟩", e.beta_max.is_some()),
            ("⟨theta⟩", e.theta.is_some()),
            ("⟨sigma⟩", e.sigma.is_some()),
            ("⟨mu⟩", e.mu.is_some()),
            ("⟨c⟩", e.c.is_some()),
            ("⟨t-end⟩", e.t_end.is_some()),
        ];
        given
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
            .collect()
    }
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
    /// The options it was opened with.
    pub options: ScoreOptions,
}

/// Receives what the user should know about a choice made for them (checkpoints passed over,
/// ignored options, a young moving average) as it is made.
pub type Warn<'a> = &'a mut dyn FnMut(&str);

/// The checkpoint folder `path` names (at `step` in a run folder, else the newest valid one),
/// with a warning for each newer checkpoint that was passed over.
pub fn resolve_warning(path: &Path, step: Option<u64>, warn: Warn) -> Result<PathBuf> {
    let resolved = resolve_checkpoint(path, step)?;
    for (dir, reason) in &resolved.skipped {
        warn(&format!(
            "passing over {} ({reason}); using {}",
            dir.display(),
            resolved.dir.display()
        ));
    }
    Ok(resolved.dir)
}

/// A trained network from the checkpoint, with its SDE and rebuilt training set.
fn checkpoint_source(options: &ScoreOptions, device: &Device, warn: Warn) -> Result<ScoreSource> {
    let path = options
        .checkpoint
        .as_ref()
        .ok_or_else(|| JobError::options("⟨score⟩ checkpoint needs ⟨checkpoint⟩ DIR"))?;
    let file = match options.weights.as_str() {
        "ema" => EMA_FILE,
        "raw" => WEIGHTS_FILE,
        other => {
            return Err(JobError::options(format!(
                "unknown weights '{other}' (expected one of: ema, raw)"
            )))
        }
    };
    let dir = resolve_warning(path, options.step, warn)?;
    let (score, meta) = load_score_weights(&dir, file, device)?;
    let overridden = options.overridden();
    if !overridden.is_empty() {
        warn(&format!(
            "{} ignored: the checkpoint fixes its data and SDE",
            overridden.join(", ")
        ));
    }
    if file == EMA_FILE && meta.train.ema_is_young(meta.step) {
        warn(&format!(
            "the moving average is young ({} steps, decay {}: under 3/(1 − decay) = {:.0}) \
             and still remembers the initialisation; ⟨weights⟩ raw uses the last step's weights",
            meta.step,
            meta.train.ema_decay,
            meta.train.ema_grown_steps()
        ));
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
        options: options.clone(),
    })
}

/// The empirical or exact score of the training set the options describe.
fn analytic_source(options: &ScoreOptions, seed: u64, device: &Device) -> Result<ScoreSource> {
    if options.checkpoint.is_some() {
        return Err(JobError::options("⟨checkpoint⟩ needs ⟨score⟩ checkpoint"));
    }
    let spec = options.data.spec(POINTS_FOR_SCORES)?;
    let data_seed = options.data.data_seed.unwrap_or(seed);
    let data = spec.load(data_seed)?;
    let sde = options.sde.build(&data)?;
    let score: Box<dyn ScoreFn> = match options.score_name() {
        "empirical" => Box::new(EmpiricalScore::from_points(
            &data.points,
            data.dim,
            sde.clone(),
            (0.0, 1.0),
            options.query_chunk,
            options.data_chunk,
            device,
        )?),
        "exact" => match &spec {
            DatasetSpec::Gmm { gmm, .. } => {
                Box::new(GmmScore::new(gmm.clone(), sde.clone(), device))
            }
            _ => {
                return Err(JobError::options(
                    "⟨score⟩ exact needs ⟨dataset⟩ gmm (the only dataset with a known density)",
                ))
            }
        },
        other => {
            return Err(JobError::options(format!(
                "unknown score '{other}' (expected one of: empirical, exact, checkpoint)"
            )))
        }
    };
    if options.step.is_some() {
        return Err(JobError::options(
            "⟨step⟩ chooses a checkpoint: it needs ⟨score⟩ checkpoint",
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
        options: options.clone(),
    })
}

impl ScoreSource {
    /// The score the options name, perturbed when `perturb` is given; `seed` is the default
    /// seed of the training-set draw.
    pub fn open(options: &ScoreOptions, seed: u64, device: &Device, warn: Warn) -> Result<Self> {
        let source = if options.score_name() == "checkpoint" {
            checkpoint_source(options, device, warn)?
        } else {
            analytic_source(options, seed, device)?
        };
        let score: Box<dyn ScoreFn> = match &options.perturb {
            Some(text) => {
                let e = parse_perturbation(text, "⟨perturb⟩", source.score.dim())?;
                Box::new(PerturbedScore::new(source.score, &e, device)?)
            }
            None => source.score,
        };
        let source = ScoreSource { score, ..source };
        if source.score.dim() != source.data.dim {
            return Err(JobError::failed(format!(
                "the score has dimension {} but the training set has dimension {}",
                source.score.dim(),
                source.data.dim
            )));
        }
        Ok(source)
    }

    /// The law of X_T named `name`: the SDE's nominal prior, p_T's moment-matched Gaussian, or
    /// (empirical score only) p_T of the training set itself.
    pub fn prior(&self, name: &str, device: &Device) -> Result<Prior> {
        let options = &self.options;
        let kind: PriorKind = name.parse()?;
        Ok(match kind {
            PriorKind::Nominal => Prior::Nominal,
            PriorKind::Moment => Prior::moment(&self.sde, &self.training_in_model_space(device))?,
            PriorKind::Exact if options.score_name() != "empirical" => {
                return Err(JobError::options(format!(
                    "⟨prior⟩ exact starts from the training points (x_T = α y_i + c + σ z), the law \
                     p_T of the empirical score only; ⟨score⟩ {} would start next to its training \
                     set: use ⟨prior⟩ moment",
                    options.score_name()
                )))
            }
            PriorKind::Exact => Prior::exact(self.training_in_model_space(device))?,
        })
    }

    /// The head of a report on this score: the command, the score, its SDE and training set,
    /// and the files written.
    pub fn report_head(&self, command: &str, written: &[PathBuf]) -> serde_json::Value {
        let files = scorelab_core::output::file_names(written);
        serde_json::json!({
            "command": command,
            "score": self.options.score_name(),
            "checkpoint": self.options.checkpoint,
            "perturbation": self.options.perturb,
            "sde": self.sde,
            "training_set": { "spec": self.spec, "seed": self.data_seed, "n": self.data.n },
            "files": files,
        })
    }

    /// The training set in the space the score lives in (normalised for images).
    pub fn training_in_model_space(&self, device: &Device) -> Tensor<2> {
        self.normalisation.to_model_tensor(&self.data, device)
    }

    /// The empirical score of the training set in model space, under the score's SDE.
    pub fn empirical_twin(&self, device: &Device) -> Result<EmpiricalScore> {
        let Normalisation { shift, scale } = self.normalisation;
        let options = &self.options;
        Ok(EmpiricalScore::from_points(
            &self.data.points,
            self.data.dim,
            self.sde.clone(),
            (shift as f32, scale as f32),
            options.query_chunk,
            options.data_chunk,
            device,
        )?)
    }
}

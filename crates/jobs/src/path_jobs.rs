//! The analyses that run reverse paths, as library calls: `analyze paths` (a score against the
//! empirical score along the same paths: d1, score gap, Novikov exponent, Li–Yau bound),
//! `analyze tmin` (memorisation and quality against the early-stopping time) and `analyze
//! rate` (the imitation rate of the empirical heat-equation ODE, Liu–Zuazua Thm 3.11).

use burn::tensor::{Device, Tensor};
use serde_json::json;

use scorelab_analysis::memorization::validate_threshold;
use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::quality::QualityMetric;
use scorelab_analysis::rate::{imitation_rate, RateConfig, RateReport};
use scorelab_analysis::tmin::{tmin_sweep, TminReport};
use scorelab_core::output::{file_names, OutputDir};
use scorelab_core::score::EXACT_DIVERGENCE_MAX_DIM;
use scorelab_core::{Dataset, DatasetSpec, EmpiricalScore, PerturbedScore, ScoreFn, Sde};
use scorelab_sample::{Prior, SamplerConfig, SamplerOptions};

use crate::error::{JobError, Result};
use crate::options::{parse_list, parse_perturbation, DataOptions};
use crate::quality::fresh_quality_metric;
use crate::score_source::{ScoreOptions, ScoreSource, Warn, POINTS_FOR_SCORES};

/// Whether the divergence is evaluated along paths: on, off, or auto (exactly, up to
/// `EXACT_DIVERGENCE_MAX_DIM` dimensions).
fn divergence_choice(text: &str, dim: usize) -> Result<bool> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        "auto" => Ok(dim <= EXACT_DIVERGENCE_MAX_DIM),
        other => Err(JobError::options(format!(
            "unknown divergence '{other}' (expected one of: auto, on, off)"
        ))),
    }
}

/// `analyze paths`: which score, sampler and paths.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct PathsJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub score: ScoreOptions,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sampler: SamplerOptions,
    /// Also run a perturbed empirical score s_emp + e (comma-separated e, length d).
    #[cfg_attr(feature = "clap", arg(long, allow_hyphen_values = true))]
    pub compare_perturb: Option<String>,
    /// Number of paths.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 500))]
    pub n: usize,
    /// Grid times at which the paths are measured.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 60))]
    pub evaluations: usize,
    /// Divergence against the Li–Yau bound: on, off or auto (on for d <= 64).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub divergence: String,
}

/// A paths job with its scores, prior and configuration ready.
pub struct PreparedPaths {
    pub config: PathConfig,
    source: ScoreSource,
    empirical: EmpiricalScore,
    perturbed: Option<PerturbedScore<EmpiricalScore>>,
    prior: Prior,
}

impl PathsJob {
    pub fn prepare(&self, device: &Device, warn: Warn) -> Result<PreparedPaths> {
        let sampler = self.sampler.resolve()?;
        let source = ScoreSource::open(&self.score, self.sampler.seed, device, warn)?;
        let divergence = divergence_choice(&self.divergence, source.data.dim)?;
        let empirical = source.empirical_twin(device)?;
        let perturbed = match &self.compare_perturb {
            Some(text) => {
                let e = parse_perturbation(text, "⟨compare-perturb⟩", source.data.dim)?;
                let twin = source.empirical_twin(device)?;
                Some(PerturbedScore::new(twin, &e, device)?)
            }
            None => None,
        };
        let config = PathConfig {
            sampler,
            n: self.n,
            evaluations: self.evaluations,
            divergence,
            distance_scale: source.normalisation.scale,
        };
        config.validate(&source.sde)?;
        let prior = source.prior(&self.sampler.prior, device)?;
        Ok(PreparedPaths {
            config,
            source,
            empirical,
            perturbed,
            prior,
        })
    }
}

impl PreparedPaths {
    /// Sampler steps over all the runs (the score, the empirical score, the perturbed one).
    pub fn total_steps(&self) -> usize {
        (2 + usize::from(self.perturbed.is_some())) * self.config.sampler.steps
    }

    /// Runs the paths and writes the curves, paths.csv and paths.json.
    pub fn run(
        &self,
        out: &OutputDir,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<PathReport> {
        let source = &self.source;
        let report = path_diagnostics(
            source.score.as_ref(),
            &self.empirical,
            self.perturbed.as_ref().map(|p| p as &dyn ScoreFn),
            &source.training_in_model_space(device),
            &self.config,
            &self.prior,
            device,
            progress,
        )?;
        let written = report.write(out)?;
        let mut record = source.report_head("analyze paths", &written);
        record["config"] = json!(self.config);
        record["score_evaluations_per_sample"] = json!(self.config.sampler.evaluations());
        record["prior"] = json!(self.prior.kind());
        record["report"] = json!(report);
        out.write_json("paths.json", &record)?;
        Ok(report)
    }
}

/// `analyze tmin`: which score, samplers, early-stopping times and samples.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct TminJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub score: ScoreOptions,
    /// The sampler options; `samplers` (comma-separated names) compares several samplers with
    /// the same options.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sampler: SamplerOptions,
    /// Early-stopping times (comma-separated).
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value = "0.1,0.03,0.01,0.003,0.001")
    )]
    pub t_mins: String,
    /// Compare these samplers side by side (comma-separated, e.g. em,edm,dpm2m) instead of
    /// --sampler alone; with --nfe each spends the same score evaluations per sample.
    #[cfg_attr(feature = "clap", arg(long))]
    pub samplers: Option<String>,
    /// Samples per t_min.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub n: usize,
    /// A sample is memorised when d1/d2 is below this.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0 / 3.0))]
    pub threshold: f64,
    /// Classifier checkpoint (from `scorelab train-classifier`) for the quality of MNIST
    /// samples [default: the reference classifier shipped in checkpoints/mnist-classifier].
    #[cfg_attr(feature = "clap", arg(long))]
    pub classifier: Option<std::path::PathBuf>,
}

/// A t_min sweep with its score, samplers, times, prior and quality metric ready.
pub struct PreparedTmin<'a> {
    job: &'a TminJob,
    pub samplers: Vec<SamplerConfig>,
    t_mins: Vec<f64>,
    source: ScoreSource,
    prior: Prior,
    training: Tensor<2>,
    metric: Option<Box<dyn QualityMetric>>,
}

impl TminJob {
    /// The sampler configurations, one per name of `samplers` (or the one of `sampler`).
    fn sampler_configs(&self) -> Result<Vec<SamplerConfig>> {
        let samplers: Vec<SamplerConfig> = match &self.samplers {
            None => vec![self.sampler.resolve()?],
            Some(list) => list
                .split(',')
                .map(|name| {
                    let options = SamplerOptions {
                        sampler: name.trim().to_string(),
                        ..self.sampler.clone()
                    };
                    options.resolve().map_err(JobError::from)
                })
                .collect::<Result<_>>()?,
        };
        if samplers.is_empty() {
            return Err(JobError::options("⟨samplers⟩: give at least one sampler"));
        }
        Ok(samplers)
    }

    /// Resolves the samplers and times and checks every pair against the score's SDE; the
    /// output folder is made between this and [`PreparedTmin::with_quality`] (whose classifier
    /// warning comes after it).
    pub fn prepare(&self, device: &Device, warn: Warn) -> Result<PreparedTmin<'_>> {
        let samplers = self.sampler_configs()?;
        let t_mins = parse_list(&self.t_mins, "⟨t-mins⟩")?;
        let source = ScoreSource::open(&self.score, self.sampler.seed, device, warn)?;
        if t_mins.is_empty() {
            return Err(JobError::options("⟨t-mins⟩: give at least one time"));
        }
        validate_threshold(self.threshold)?;
        for sampler in &samplers {
            for &t in &t_mins {
                let mut check = sampler.clone();
                check.t_min = t;
                check.validate(&source.sde)?;
            }
        }
        if self.n == 0 {
            return Err(JobError::options("invalid parameter n: must be >= 1"));
        }
        let prior = source.prior(&self.sampler.prior, device)?;
        let training = source.training_in_model_space(device);
        Ok(PreparedTmin {
            job: self,
            samplers,
            t_mins,
            source,
            prior,
            training,
            metric: None,
        })
    }
}

impl PreparedTmin<'_> {
    /// Picks the quality metric against fresh data (in model space like the samples).
    pub fn with_quality(mut self, device: &Device, warn: Warn) -> Result<Self> {
        let classifier = self.job.classifier.as_ref();
        self.metric = fresh_quality_metric(&self.source, self.job.n, classifier, device, warn)?;
        Ok(self)
    }

    /// Sampler steps over the whole sweep.
    pub fn total_steps(&self) -> usize {
        self.t_mins.len() * self.samplers.iter().map(|s| s.steps).sum::<usize>()
    }

    /// Runs the sweep and writes its curves, table and tmin.json.
    pub fn run(
        &self,
        out: &OutputDir,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<TminReport> {
        let source = &self.source;
        let report = tmin_sweep(
            source.score.as_ref(),
            &self.training,
            &self.samplers,
            &self.prior,
            &self.t_mins,
            self.job.n,
            self.job.threshold,
            source.normalisation.scale,
            self.metric.as_deref(),
            device,
            progress,
        )?;
        let written = report.write(out)?;
        let mut record = source.report_head("analyze tmin", &written);
        record["samplers"] = json!(self.samplers);
        record["prior"] = json!(self.prior.kind());
        record["report"] = json!(report);
        out.write_json("tmin.json", &record)?;
        Ok(report)
    }
}

/// `analyze rate`: the empirical heat-equation ODE on a drawn training set.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct RateJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataOptions,
    /// Heat SDE diffusion c (σ² = c²τ).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = std::f64::consts::SQRT_2))]
    pub c: f64,
    /// Final time T.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0))]
    pub t_end: f64,
    /// Number of paths.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
    pub n: usize,
    /// RK4 steps on a log τ grid.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
    pub steps: usize,
    /// Smallest τ.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-6))]
    pub t_min: f64,
    /// Recorded times (log-spaced).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 61))]
    pub records: usize,
    /// τ window of the fit, "lo,hi" [default: from t-min up to σ(τ) = a tenth of the median
    /// training-point spacing].
    #[cfg_attr(feature = "clap", arg(long))]
    pub fit_window: Option<String>,
    /// Seed of the starting points (and default seed of the training set).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
}

/// A rate job with its data, SDE and plan checked.
pub struct PreparedRate {
    spec: DatasetSpec,
    seed: u64,
    data: Dataset,
    sde: Sde,
    pub config: RateConfig,
    training: Tensor<2>,
    score: EmpiricalScore,
}

impl RateJob {
    pub fn prepare(&self, device: &Device) -> Result<PreparedRate> {
        let spec = self.data.spec(POINTS_FOR_SCORES)?;
        let seed = self.data.data_seed.unwrap_or(self.seed);
        let data = spec.load(seed)?;
        let sde = Sde::heat(self.c, self.t_end)?;
        let fit_window = match &self.fit_window {
            Some(text) => match parse_list(text, "⟨fit-window⟩")?[..] {
                [lo, hi] => Some((lo, hi)),
                _ => return Err(JobError::options("⟨fit-window⟩ takes two numbers: lo,hi")),
            },
            None => None,
        };
        let config = RateConfig {
            n: self.n,
            steps: self.steps,
            t_min: self.t_min,
            records: self.records,
            fit_window,
            seed: self.seed,
        };
        let training = data.to_tensor(device);
        let score = EmpiricalScore::new(training.clone(), sde.clone())?;
        config.plan(&sde, &training)?;
        Ok(PreparedRate {
            spec,
            seed,
            data,
            sde,
            config,
            training,
            score,
        })
    }
}

impl PreparedRate {
    /// Runs the ODE and writes the curve, its table and rate.json.
    pub fn run(
        &self,
        out: &OutputDir,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<RateReport> {
        let report = imitation_rate(&self.score, &self.training, &self.config, device, progress)?;
        let written = file_names(&report.write(out)?);
        out.write_json(
            "rate.json",
            &json!({
                "command": "analyze rate",
                "training_set": { "spec": self.spec, "seed": self.seed, "n": self.data.n },
                "sde": self.sde,
                "config": self.config,
                "report": report,
                "files": written,
            }),
        )?;
        Ok(report)
    }
}

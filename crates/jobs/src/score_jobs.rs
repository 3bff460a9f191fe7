//! The analyses that compare scores, as library calls: `analyze fisher` (the Fisher
//! divergence of a score to the exact score of the Gaussian mixture) and `analyze agreement`
//! (two scores — two checkpoints, or the empirical scores of two training sets — sampled
//! from the same noise), and `analyze training` (the evaluation curves of training runs).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use scorelab_analysis::agreement::{agreement, AgreementReport};
use scorelab_analysis::fisher::{fisher_divergence, write_fisher_files};
use scorelab_analysis::training_eval::{read_eval_file, RunCurve, TrainingCurves};
use scorelab_analysis::AnalysisError;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::output::OutputDir;
use scorelab_core::{CoreError, DatasetSpec, EmpiricalScore, GmmScore, ScoreFn};
use scorelab_sample::{SamplerConfig, SamplerOptions};
use scorelab_train::checkpoint::{read_meta, resolve};
use scorelab_train::training_set::checkpoint_training_set;
use scorelab_train::Normalisation;

use crate::error::{JobError, Result};
use crate::options::{parse_list, DataOptions, SdeOptions};
use crate::score_source::{ScoreOptions, ScoreSource, Warn, POINTS_FOR_SCORES};

/// `analyze fisher`: a score against the exact score of the Gaussian mixture it was made for.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct FisherJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub score: ScoreOptions,
    /// Times t (comma-separated).
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value = "0.001,0.003,0.01,0.03,0.1,0.3,1")
    )]
    pub times: String,
    /// Monte Carlo points per time (fresh draws of the mixture).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 2000))]
    pub n: usize,
    /// Seed of the draws.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
}

/// A Fisher job with its score, exact score, times and points ready.
pub struct PreparedFisher<'a> {
    job: &'a FisherJob,
    source: ScoreSource,
    exact: GmmScore,
    times: Vec<f64>,
    x0: Tensor<2>,
}

impl FisherJob {
    /// Opens the score, checks that its data has a known density, and draws the points.
    pub fn prepare(&self, device: &Device, warn: Warn) -> Result<PreparedFisher<'_>> {
        let source = ScoreSource::open(&self.score, self.seed, device, warn)?;
        let DatasetSpec::Gmm { gmm, .. } = &source.spec else {
            return Err(JobError::options(
                "the Fisher divergence needs a known density: use ⟨dataset⟩ gmm (or a checkpoint trained on it)",
            ));
        };
        let times = parse_list(&self.times, "⟨times⟩")?;
        if self.n < 2 {
            return Err(JobError::options("invalid parameter n: must be >= 2"));
        }
        let t_end = source.sde.t_end();
        if let Some(t) = times.iter().find(|&&t| !(t > 0.0 && t <= t_end)) {
            return Err(JobError::options(format!(
                "⟨times⟩: {t} is outside (0, T = {t_end}]"
            )));
        }
        let exact = GmmScore::new(gmm.clone(), source.sde.clone(), device);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_add(1));
        let (points, _) = gmm.sample(self.n, &mut rng);
        let x0 = tensor_from_rows(&points, self.n, gmm.dim(), device);
        Ok(PreparedFisher {
            job: self,
            source,
            exact,
            times,
            x0,
        })
    }
}

impl PreparedFisher<'_> {
    /// Measures E‖s − ∇log p_t‖² at every time with its standard error, writes the curve, its
    /// table and fisher.json, and returns a line per time.
    pub fn run(&self, out: &OutputDir) -> Result<Vec<String>> {
        let (source, seed) = (&self.source, self.job.seed);
        let rows = fisher_divergence(
            source.score.as_ref(),
            &self.exact,
            &self.x0,
            &self.times,
            seed,
        )?;
        let lines = rows
            .iter()
            .map(|r| {
                format!(
                    "t {:.3e}: {:.4e} ± {:.1e} (relative {:.3e})",
                    r.t, r.divergence, r.std_error, r.relative
                )
            })
            .collect();
        let written = write_fisher_files(&rows, out)?;
        let mut record = source.report_head("analyze fisher", &written);
        record["n"] = json!(self.job.n);
        record["rows"] = json!(rows);
        out.write_json("fisher.json", &record)?;
        Ok(lines)
    }
}

/// Which two scores `analyze agreement` compares.
#[derive(Clone, Debug)]
pub enum AgreementPair {
    /// Two checkpoints (their SDEs must agree).
    Checkpoints(PathBuf, PathBuf),
    /// The empirical scores of two draws of the same data (seeds s and s + 1).
    Empirical {
        data: Box<DataOptions>,
        sde: Box<SdeOptions>,
    },
}

/// `analyze agreement`: two scores sampled from the same noise.
#[derive(Clone, Debug)]
pub struct AgreementJob {
    pub pair: AgreementPair,
    pub sampler: SamplerOptions,
    pub n: usize,
}

/// One side of an agreement run: a score and its training set in model space.
struct Side {
    score: Box<dyn ScoreFn>,
    training: Tensor<2>,
    origin: String,
}

fn checkpoint_side(dir: &Path, device: &Device) -> Result<(Side, Normalisation)> {
    let (score, meta) = scorelab_train::load_score(dir, device)?;
    let (_, data) = checkpoint_training_set(&meta)?;
    let normalisation = meta.data.normalisation;
    let side = Side {
        score,
        training: normalisation.to_model_tensor(&data, device),
        origin: dir.display().to_string(),
    };
    Ok((side, normalisation))
}

fn empirical_side(
    data: &DataOptions,
    sde: &SdeOptions,
    seed: u64,
    device: &Device,
) -> Result<Side> {
    let spec = data.spec(POINTS_FOR_SCORES)?;
    let data = spec.load(seed)?;
    let sde = sde.build(&data)?;
    let training = data.to_tensor(device);
    Ok(Side {
        score: Box::new(EmpiricalScore::new(training.clone(), sde)?),
        training,
        origin: format!("empirical score of {} (data seed {seed})", data.name),
    })
}

/// An agreement job with both scores open.
pub struct PreparedAgreement {
    pub sampler: SamplerConfig,
    a: Side,
    b: Side,
    scale: f64,
    n: usize,
}

impl AgreementJob {
    pub fn prepare(&self, device: &Device) -> Result<PreparedAgreement> {
        let sampler = self.sampler.resolve()?;
        let (a, b, scale) = match &self.pair {
            AgreementPair::Checkpoints(a, b) => {
                let (a, norm_a) = checkpoint_side(a, device)?;
                let (b, _) = checkpoint_side(b, device)?;
                (a, b, norm_a.scale)
            }
            AgreementPair::Empirical { data, sde } => {
                let seed = data.data_seed.unwrap_or(self.sampler.seed);
                let a = empirical_side(data, sde, seed, device)?;
                let b = empirical_side(data, sde, seed.wrapping_add(1), device)?;
                (a, b, 1.0)
            }
        };
        sampler.validate(a.score.sde())?;
        if self.n == 0 {
            return Err(JobError::options("invalid parameter n: must be >= 1"));
        }
        Ok(PreparedAgreement {
            sampler,
            a,
            b,
            scale,
            n: self.n,
        })
    }
}

impl PreparedAgreement {
    /// Samples both scores from the same noise, writes the histograms and agreement.json.
    pub fn run(
        &self,
        out: &OutputDir,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<AgreementReport> {
        let (a, b) = (&self.a, &self.b);
        let mut report = agreement(
            a.score.as_ref(),
            b.score.as_ref(),
            &a.training,
            &b.training,
            &self.sampler,
            self.n,
            device,
            progress,
        )?;
        report.scale_summaries(self.scale);
        report.write_histograms(out, self.scale)?;
        out.write_json(
            "agreement.json",
            &json!({
                "command": "analyze agreement",
                "a": a.origin,
                "b": b.origin,
                "sampler": self.sampler,
                "score_evaluations_per_sample": report.evaluations,
                "report": report,
            }),
        )?;
        Ok(report)
    }
}

/// The evaluation curves of training runs (their eval.csv, from `train --eval-every`).
pub fn training_curves(runs: &[PathBuf]) -> Result<TrainingCurves> {
    let mut curves = Vec::new();
    for run in runs {
        let meta = read_meta(&resolve(run)?)?;
        let rows = read_eval_file(run).map_err(|e| match e {
            AnalysisError::Core(CoreError::Io { .. }) => {
                JobError::failed(format!("{e} (train the run with ⟨eval-every⟩)"))
            }
            other => other.into(),
        })?;
        curves.push(RunCurve {
            run: run.clone(),
            n_train: meta.data.n,
            rows,
        });
    }
    Ok(TrainingCurves::new(curves))
}

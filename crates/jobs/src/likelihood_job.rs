//! `analyze likelihood` as a library call: the point sets (a file, or the training set beside
//! fresh data), the probability-flow NLL of each point in nats per dimension (Song et al.
//! 2021, App. D; with uniform dequantisation and bits per dimension for 8-bit images), the
//! fresh − training gap, and the files.

use std::path::PathBuf;

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use scorelab_analysis::likelihood::{
    bits_per_dim, dequantise, nll_per_dim, LikelihoodConfig, LikelihoodOptions, SetLikelihoods,
};
use scorelab_analysis::stats::summarise;
use scorelab_core::datasets::load_points_file;
use scorelab_core::output::OutputDir;
use scorelab_core::Dataset;
use scorelab_sample::Prior;
use scorelab_train::Normalisation;

use crate::error::{JobError, Result};
use crate::score_source::ScoreSource;

/// What to evaluate and how, by name where the user names it (with the `clap` feature: the
/// flags of `analyze likelihood` after the score's).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct LikelihoodJob {
    /// Points to evaluate (.npy or CSV) [default: the training set and a fresh draw of the same
    /// size, whose difference is the train–test gap].
    #[cfg_attr(feature = "clap", arg(long))]
    pub eval_file: Option<PathBuf>,
    /// At most this many points of each set.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1000))]
    pub max_points: usize,
    /// ODE solver: rk4 (fixed geometric grid of --steps) or rk45 (adaptive Dormand–Prince with
    /// --rtol/--atol, score_sde's choice).
    #[cfg_attr(feature = "clap", arg(long, default_value = "rk4"))]
    pub solver: String,
    /// RK4 steps on a geometric time grid (rk45: its first trial step is (T − t0)/steps).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
    pub steps: usize,
    /// rk45: relative tolerance of the local error estimate.
    #[cfg_attr(feature = "clap", arg(long))]
    pub rtol: Option<f64>,
    /// rk45: absolute tolerance of the local error estimate.
    #[cfg_attr(feature = "clap", arg(long))]
    pub atol: Option<f64>,
    /// The time whose density is evaluated (p_{t0}).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1e-3))]
    pub t0: f64,
    /// ∇·s along the flow: exact, hutchinson, or auto (exact up to 64 dimensions).
    #[cfg_attr(feature = "clap", arg(long, default_value = "auto"))]
    pub divergence: String,
    /// Hutchinson: probe vectors per point (fixed for the whole integration).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1))]
    pub probes: usize,
    /// Hutchinson: gaussian or rademacher probes.
    #[cfg_attr(feature = "clap", arg(long, default_value = "rademacher"))]
    pub probe: String,
    /// Law at T whose log density ends the integral: nominal (the SDE's prior), moment (the
    /// Gaussian with p_T's mean and covariance) or exact (p_T itself; empirical score only).
    #[cfg_attr(feature = "clap", arg(long, default_value = "nominal"))]
    pub prior: String,
    /// Seed of the training-set draw and the fresh draw.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
}

/// A job checked against its score: sets drawn, configuration resolved.
pub struct PreparedLikelihood<'a> {
    job: &'a LikelihoodJob,
    source: &'a ScoreSource,
    pub config: LikelihoodConfig,
    pub sets: Vec<(String, Dataset)>,
    prior: Prior,
}

/// Where the evaluation of each set reports how it goes.
pub trait LikelihoodObserver {
    /// The evaluation of set `name` begins.
    fn set_started(&mut self, name: &str);
    /// `done` RK steps of the current set.
    fn progress(&mut self, done: usize);
    /// The set is done; a line of its result.
    fn set_done(&mut self, line: &str);
}

/// The NLL of every set.
pub struct Likelihoods {
    entries: Vec<Value>,
    per_point: SetLikelihoods,
    pub gap: Option<f64>,
    config: LikelihoodConfig,
    prior: Value,
}

impl LikelihoodJob {
    /// Resolves the configuration for `source`, draws the sets and opens the prior.
    pub fn prepare<'a>(
        &'a self,
        source: &'a ScoreSource,
        device: &Device,
    ) -> Result<PreparedLikelihood<'a>> {
        if self.solver == "rk4" && (self.rtol.is_some() || self.atol.is_some()) {
            return Err(JobError::options(
                "⟨rtol⟩ and ⟨atol⟩ set the tolerances of ⟨solver⟩ rk45",
            ));
        }
        let config = LikelihoodOptions {
            solver: &self.solver,
            rtol: self.rtol,
            atol: self.atol,
            divergence: &self.divergence,
            probe: &self.probe,
            probes: self.probes,
            steps: self.steps,
            t0: self.t0,
            seed: self.seed,
        }
        .resolve(source.data.dim)?;
        if self.max_points == 0 {
            return Err(JobError::options(
                "invalid parameter max-points: must be >= 1",
            ));
        }
        let sets = self.sets(source)?;
        config.validate(source.sde.t_end())?;
        let prior = source.prior(&self.prior, device)?;
        Ok(PreparedLikelihood {
            job: self,
            source,
            config,
            sets,
            prior,
        })
    }

    /// The point sets: the file, else the training set and a fresh draw of the same size,
    /// each at most `max_points` (a seeded subset).
    fn sets(&self, source: &ScoreSource) -> Result<Vec<(String, Dataset)>> {
        let mut sets: Vec<(String, Dataset)> = Vec::new();
        match &self.eval_file {
            Some(path) => {
                let points = load_points_file(path)?;
                if points.dim != source.data.dim {
                    return Err(JobError::failed(format!(
                        "{}: points have dimension {} but the score has dimension {}",
                        path.display(),
                        points.dim,
                        source.data.dim
                    )));
                }
                let (values, dim) = (points.points.into_vec(), points.dim);
                let points = Dataset::from_points("points", values, dim);
                sets.push((path.display().to_string(), points));
            }
            None => {
                sets.push(("training set".into(), source.data.clone()));
                if let Some(spec) = source.spec.fresh(source.data.n.min(self.max_points)) {
                    let fresh = spec.load(source.data_seed.wrapping_add(1))?;
                    sets.push(("fresh data".into(), fresh));
                }
            }
        }
        Ok(sets
            .into_iter()
            .map(|(name, data)| match data.n > self.max_points {
                true => (name, data.subset(self.max_points, self.seed)),
                false => (name, data),
            })
            .collect())
    }
}

impl PreparedLikelihood<'_> {
    /// Integrates the flow for every point of every set.
    pub fn run(
        self,
        device: &Device,
        observer: &mut dyn LikelihoodObserver,
    ) -> Result<Likelihoods> {
        let source = self.source;
        let mut entries = Vec::new();
        let mut means = Vec::new();
        let mut per_point = SetLikelihoods { sets: Vec::new() };
        // 8-bit images are dequantised (one uniform draw per value; reported in bits per dimension)
        let dequantised = source.data.image_shape.is_some();
        let mut noise = ChaCha8Rng::seed_from_u64(self.job.seed.wrapping_add(2));
        let Normalisation { shift, scale } = source.normalisation;
        for (name, data) in &self.sets {
            observer.set_started(name);
            let evaluated = match dequantised {
                true => dequantise(data, &mut noise),
                false => data.clone(),
            };
            let (nll, evaluations) = nll_per_dim(
                source.score.as_ref(),
                &evaluated,
                (shift, scale),
                &self.config,
                &self.prior,
                &mut |k| observer.progress(k),
                device,
            )?;
            let summary = summarise(nll.iter().copied());
            let mut line = format!(
                "{name}: {} points, NLL {:.4} ± {:.4} nats/dim ({evaluations} evaluations of the score and its divergence)",
                data.n,
                summary.mean,
                summary.std / (data.n as f64).sqrt()
            );
            let mut entry = json!({
                "set": name,
                "n": data.n,
                "nll_nats_per_dim": summary,
                "score_evaluations_per_point": evaluations,
            });
            if dequantised {
                let bits = bits_per_dim(summary.mean);
                line.push_str(&format!(
                    "\n{name}: {bits:.4} bits/dim (uniform dequantisation)"
                ));
                entry["bits_per_dim"] = json!(bits);
            }
            observer.set_done(&line);
            entries.push(entry);
            means.push(summary.mean);
            per_point.sets.push((name.clone(), nll));
        }
        Ok(Likelihoods {
            gap: (means.len() == 2).then(|| means[1] - means[0]),
            entries,
            per_point,
            config: self.config,
            prior: json!(self.prior.kind()),
        })
    }
}

impl Likelihoods {
    /// Writes the per-point NLL files and likelihood.json (after `head`, the report's head).
    pub fn write(&self, out: &OutputDir, source: &ScoreSource) -> Result<()> {
        let written = self.per_point.write(out)?;
        let mut record = source.report_head("analyze likelihood", &written);
        record["config"] = json!(self.config);
        record["prior"] = self.prior.clone();
        record["sets"] = json!(self.entries);
        record["gap_fresh_minus_training_nats_per_dim"] = json!(self.gap);
        out.write_json("likelihood.json", &record)?;
        Ok(())
    }
}

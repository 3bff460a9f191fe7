//! The sampling job: a score from its options, reverse-time dynamics from a prior, and the
//! samples file, pictures and summary of `scorelab sample` (the d1/d2 memorisation criterion
//! and the distance to the nearest training point beside them).

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use serde_json::{json, Value};

use scorelab_analysis::memorization::{memorisation_stats, neighbours_in, DEFAULT_THRESHOLD};
use scorelab_analysis::plot::{image_grid_png, scatter_png, trajectories_png};
use scorelab_core::datasets::clip_to_range;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::nearest::nearest_neighbours_in;
use scorelab_core::output::{file_names, OutputDir};
use scorelab_sample::{
    sample_with_prior, without_rows, Prior, SampleOutput, SamplerConfig, SamplerOptions,
};

use crate::error::{JobError, Result};
use crate::options::parse_list;
use crate::score_source::{ScoreOptions, ScoreSource, Warn};

/// Trajectories drawn in paths.png when a 2-D batch is recorded.
const SHOWN_PATHS: usize = 10;

/// Samples within this distance of a training point count as "on a training point".
const ON_TRAINING_POINT: f32 = 1e-2;

/// What to sample and how.
#[derive(Clone, Debug)]
pub struct SampleJob {
    pub score: ScoreOptions,
    /// The integrator, its grid, seed and the final denoising step.
    pub sampler: SamplerOptions,
    /// Times τ at which the whole batch is recorded, comma-separated.
    pub record: Option<String>,
    /// Number of samples.
    pub n: usize,
    /// Keep the finite samples when some diverge (otherwise an error).
    pub keep_finite: bool,
    /// Images: keep raw values instead of clipping them to the pixel range.
    pub no_clip: bool,
    /// The backend's name, for the summary.
    pub device_name: String,
    /// The command that asked for the job, for the summary.
    pub command_line: String,
}

/// A job whose options, score and prior are checked: ready to run.
pub struct PreparedSample<'a> {
    job: &'a SampleJob,
    pub config: SamplerConfig,
    pub source: ScoreSource,
    prior: Prior,
    device: Device,
}

/// The samples of a finished run, in data space, with what was measured of them.
pub struct SampleRun<'a> {
    prepared: PreparedSample<'a>,
    output: SampleOutput,
    /// Rows of `dim` values, non-finite rows dropped when the job keeps the finite ones.
    pub samples: Vec<f32>,
    pub kept: usize,
    pub sampling_seconds: f64,
    out_of_range: Option<f64>,
    pub mean_d1: f64,
    pub on_point: f64,
    pub memorised: Option<f64>,
}

impl SampleJob {
    /// The sampler configuration, with the recorded times; checks the sample count.
    pub fn resolve(&self) -> Result<SamplerConfig> {
        let mut config = self.sampler.resolve()?;
        if let Some(record) = &self.record {
            config.record_at = parse_list(record, "⟨record⟩")?;
        }
        if self.n == 0 {
            return Err(JobError::options("invalid parameter n: must be >= 1"));
        }
        Ok(config)
    }

    /// Opens the score and the prior on `device` and checks the configuration against the SDE.
    pub fn prepare(
        &self,
        config: SamplerConfig,
        device: &Device,
        warn: Warn,
    ) -> Result<PreparedSample<'_>> {
        let source = ScoreSource::open(&self.score, self.sampler.seed, device, warn)?;
        config.validate(&source.sde)?;
        let prior = source.prior(&self.sampler.prior, device)?;
        Ok(PreparedSample {
            job: self,
            config,
            source,
            prior,
            device: device.clone(),
        })
    }
}

impl<'a> PreparedSample<'a> {
    /// Runs the reverse dynamics (`progress` gets each finished step), drops or refuses
    /// diverged samples, clips images to their range unless asked not to, and measures the
    /// distance of every sample to the training set. `warn` hears of dropped samples.
    pub fn run(self, progress: &mut dyn FnMut(usize), warn: Warn) -> Result<SampleRun<'a>> {
        let job = self.job;
        let started = Instant::now();
        let output = sample_with_prior(
            self.source.score.as_ref(),
            &self.config,
            &self.prior,
            job.n,
            &self.device,
            progress,
        )?;
        let sampling_seconds = started.elapsed().as_secs_f64();
        let data = &self.source.data;
        let dim = data.dim;
        let mut samples = self
            .source
            .normalisation
            .to_data(&to_vec(output.samples.clone()));
        let mut kept = job.n;
        if let Some(report) = output.nonfinite_report() {
            if !job.keep_finite {
                return Err(JobError::failed(format!(
                    "{report}; try more steps or a larger t-min, or pass ⟨keep-finite⟩ to keep the finite ones"
                )));
            }
            warn(&format!(
                "{report}; keeping the finite ones (⟨keep-finite⟩)"
            ));
            samples = without_rows(&samples, dim, &output.nonfinite_rows);
            kept = samples.len() / dim;
            if kept == 0 {
                return Err(JobError::failed(format!(
                    "{report}: no finite sample is left to write"
                )));
            }
        }
        // images leave the pixel range by a little (the network's error near t_min): report
        // how much, and clip unless asked not to
        let out_of_range = data
            .value_range()
            .map(|range| clip_to_range(&mut samples, range, !job.no_clip));
        let sample_tensor = tensor_from_rows(&samples, kept, dim, &self.device);
        // the d1/d2 criterion of `analyze memorization`: free of the data's scale, so it means
        // the same for 2-D points and for 784-pixel images (it needs two training points)
        let (d1, memorised) = if data.n >= 2 {
            let nearest = neighbours_in(&sample_tensor, data)?;
            let memorised = memorisation_stats(&nearest, DEFAULT_THRESHOLD)?.memorised_fraction;
            (nearest.nearest.d1, Some(memorised))
        } else {
            (nearest_neighbours_in(&sample_tensor, &data.points).0, None)
        };
        let on_point =
            d1.iter().filter(|&&d| d <= ON_TRAINING_POINT).count() as f64 / kept.max(1) as f64;
        let mean_d1 = d1.iter().map(|&d| d as f64).sum::<f64>() / kept.max(1) as f64;
        Ok(SampleRun {
            prepared: self,
            output,
            samples,
            kept,
            sampling_seconds,
            out_of_range,
            mean_d1,
            on_point,
            memorised,
        })
    }
}

impl SampleRun<'_> {
    /// A picture's caption: the sample count, score, SDE, sampler (with its η where it takes
    /// one), evaluations per sample and t_min.
    fn caption(&self, count: String) -> String {
        let p = &self.prepared;
        let eta = if p.config.kind.takes_eta() {
            format!(" η = {}", p.config.eta)
        } else {
            String::new()
        };
        let nfe = p
            .config
            .evaluations()
            .map(|n| format!(", {n} NFE"))
            .unwrap_or_default();
        format!(
            "{count} samples, {} score, {} {}{eta}{nfe}, t_min = {}",
            p.job.score.score_name(),
            p.source.sde.name(),
            p.job.sampler.sampler,
            p.config.t_min
        )
    }

    /// Writes samples.npy (and samples.csv for 2-D data), samples.png, the recorded path
    /// (path.npy, path_times.json, paths.png for 2-D data) and summary.json.
    pub fn write(&self, out: &OutputDir) -> Result<()> {
        let p = &self.prepared;
        let data = &p.source.data;
        let (dim, kept) = (data.dim, self.kept);
        let shape: Vec<u64> = match data.image_shape {
            Some([c, h, w]) => vec![kept as u64, c as u64, h as u64, w as u64],
            None => vec![kept as u64, dim as u64],
        };
        let samples = &self.samples;
        let mut written = vec![out.write_npy("samples.npy", &shape, samples)?];
        if dim == 2 {
            written.push(out.write_csv("samples.csv", samples, dim)?);
            let title = self.caption(kept.to_string());
            written.push(out.write("samples.png", &scatter_png(&title, samples, &data.points)?)?);
        } else if let Some([1, h, w]) = data.image_shape {
            let shown = kept.min(64);
            let caption = self.caption(format!("{shown} of {kept}"));
            let picture = image_grid_png(&caption, &samples[..shown * h * w], (h, w), 8, 2, 1)?;
            written.push(out.write("samples.png", &picture)?);
        }
        if !self.output.path.is_empty() {
            written.extend(self.write_path(out)?);
        }
        out.write_json("summary.json", &self.summary(&written))?;
        Ok(())
    }

    /// path.npy, path_times.json and, for 2-D data, paths.png of the recorded times.
    fn write_path(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let p = &self.prepared;
        let (n, dim) = (p.job.n, p.source.data.dim);
        let path = &self.output.path;
        let taus: Vec<f64> = path.iter().map(|s| s.tau).collect();
        let values: Vec<f32> = path
            .iter()
            .flat_map(|s| p.source.normalisation.to_data(&to_vec(s.points.clone())))
            .collect();
        let shape = [taus.len() as u64, n as u64, dim as u64];
        let mut written = vec![
            out.write_npy("path.npy", &shape, &values)?,
            out.write_json("path_times.json", &taus)?,
        ];
        if dim == 2 {
            let title = format!(
                "{} of {n} paths, {} score, {} recorded times",
                SHOWN_PATHS.min(n),
                p.job.score.score_name(),
                taus.len()
            );
            let training = &p.source.data.points;
            let picture = trajectories_png(&title, &values, n, SHOWN_PATHS, training)?;
            written.push(out.write("paths.png", &picture)?);
        }
        Ok(written)
    }

    /// summary.json: the score, data, SDE, sampler, prior and what was measured.
    fn summary(&self, written: &[PathBuf]) -> Value {
        let p = &self.prepared;
        let (job, source) = (p.job, &p.source);
        let data = &source.data;
        let value_range = data.value_range();
        json!({
            "command": "sample",
            "score": job.score.score_name(),
            "checkpoint": job.score.checkpoint,
            "checkpoint_resolved": source.checkpoint_dir,
            "weights": source.checkpoint_dir.as_ref().map(|_| &job.score.weights),
            "command_line": job.command_line,
            "perturbation": job.score.perturb,
            "dataset": {
                "spec": source.spec,
                "name": data.name,
                "n_train": data.n,
                "dim": data.dim,
                "seed": source.data_seed,
            },
            "sde": source.sde,
            "sampler": p.config,
            "prior": p.prior.kind(),
            "n": job.n,
            "device": job.device_name,
            "results": {
                "samples_kept": self.kept,
                "nonfinite_samples": self.output.nonfinite_rows.len(),
                "value_range": value_range,
                "out_of_range_fraction": self.out_of_range,
                "clipped_to_range": self.out_of_range.is_some() && !job.no_clip,
                "first_nonfinite_tau": self.output.first_nonfinite_tau(),
                "mean_distance_to_nearest_training_point": self.mean_d1,
                "fraction_within_1e-2_of_a_training_point": self.on_point,
                "memorised_fraction": self.memorised,
                "memorisation_criterion": "d1/d2 < 1/3",
                "sampling_seconds": self.sampling_seconds,
                "score_evaluations_per_sample": self.output.evaluations,
                "sigma_at_t_min": source.sde.sigma2(p.config.t_min).sqrt(),
            },
            "files": file_names(written),
        })
    }

    /// One line of what was done and measured.
    pub fn headline(&self) -> String {
        format!(
            "{} samples in {:.2} s ({} score evaluations each); {}{:.1}% within 1e-2 of a training point, mean nearest distance {:.4}",
            self.kept,
            self.sampling_seconds,
            self.output.evaluations,
            self.memorised
                .map_or(String::new(), |m| format!("memorised fraction {m:.3} (d1/d2 < 1/3), ")),
            100.0 * self.on_point,
            self.mean_d1,
        )
    }
}

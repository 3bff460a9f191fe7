//! Memorisation measured during training (`train --eval-every K`): every K steps the EMA
//! network samples a fixed batch from fixed noise, and the memorised fraction, d1 and (for 2-D
//! data) sliced W2 to fresh data are appended to `eval.csv` in the run folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use scorelab_core::device::tensor_from_rows;
use scorelab_core::output::{keep_rows_up_to, OutputDir};
use scorelab_core::{CoreError, Dataset, DatasetSpec, ScoreFn};
use scorelab_sample::{sample, SamplerConfig, SamplerKind, TauGrid};

use crate::error::{AnalysisError, Result};
use crate::memorization::{memorisation_stats, neighbours, DEFAULT_THRESHOLD};
use crate::plot::{curves_png, Axes, Series};
use crate::quality::{QualityMetric, SlicedW2To, SLICED_W2_MAX_DIM};

/// Data space → model space: the network sees (x − shift)/scale.
fn to_model(data: &Dataset, (shift, scale): (f32, f32), device: &Device) -> Tensor<2> {
    let values: Vec<f32> = data.points.iter().map(|v| (v - shift) / scale).collect();
    tensor_from_rows(&values, data.n, data.dim, device)
}

/// The file in the run folder.
pub const EVAL_FILE: &str = "eval.csv";
const HEADER: &str = "step,memorised_fraction,mean_d1,median_d1,sliced_w2_to_fresh";

/// What is measured, and where it goes.
pub struct TrainingEvaluation {
    pub every: u64,
    samples: usize,
    sampler: SamplerConfig,
    training: Tensor<2>,
    distance_scale: f64,
    quality: Option<SlicedW2To>,
    file: PathBuf,
}

impl TrainingEvaluation {
    /// Measures every `every` steps with `samples` samples (Euler–Maruyama, 200 steps,
    /// quadratic grid, t_min 1e-4, Tweedie step: 201 score evaluations per sample; seed fixed
    /// across evaluations) of a network that sees the data as (x − shift)/scale (`model_map`).
    /// `eval.csv` is
    /// created with its header, or keeps only its rows up to `start_step` (dropping those of a
    /// run that went past its last checkpoint).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        every: u64,
        samples: usize,
        data: &Dataset,
        spec: &DatasetSpec,
        data_seed: u64,
        model_map: (f32, f32),
        run_dir: &Path,
        start_step: u64,
        device: &Device,
    ) -> Result<Self> {
        if samples == 0 {
            return Err(AnalysisError::invalid("eval-samples", "must be >= 1"));
        }
        let mut sampler = SamplerConfig::new(SamplerKind::EulerMaruyama, 200, 1e-4);
        sampler.grid = TauGrid::Quadratic;
        sampler.denoise = true;
        let training = to_model(data, model_map, device);
        let quality = match spec.fresh(samples) {
            Some(fresh) if data.dim <= SLICED_W2_MAX_DIM => {
                let fresh = fresh.load(data_seed.wrapping_add(1))?;
                Some(SlicedW2To {
                    reference: to_model(&fresh, model_map, device),
                    seed: 0,
                })
            }
            _ => None,
        };
        let file = run_dir.join(EVAL_FILE);
        keep_rows_up_to(&file, HEADER, start_step)?;
        Ok(TrainingEvaluation {
            every,
            samples,
            sampler,
            training,
            distance_scale: model_map.1 as f64,
            quality,
            file,
        })
    }

    /// Whether `step` is an evaluation step.
    pub fn due(&self, step: u64) -> bool {
        self.every > 0 && step.is_multiple_of(self.every)
    }

    /// Samples with `score`, measures, appends a row and returns it as a one-line summary.
    /// Errors name the step: `AnalysisError::Evaluation`.
    pub fn run(&self, step: u64, score: &dyn ScoreFn) -> Result<String> {
        let fail = |reason: String| AnalysisError::Evaluation { step, reason };
        let device = self.training.device();
        let out = sample(score, &self.sampler, self.samples, &device, &mut |_| {})
            .map_err(|e| fail(e.to_string()))?;
        let stats = neighbours(&out.samples, &self.training)
            .and_then(|n| memorisation_stats(&n, DEFAULT_THRESHOLD))
            .map_err(|e| fail(e.to_string()))?;
        let quality = match &self.quality {
            Some(metric) => Some(
                metric
                    .evaluate(&out.samples)
                    .map_err(|e| fail(e.to_string()))?,
            ),
            None => None,
        };
        let (mean, median) = (
            stats.d1.mean * self.distance_scale,
            stats.d1.median * self.distance_scale,
        );
        let quality_text = quality.map(|q| q.to_string()).unwrap_or_default();
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&self.file)
            .map_err(|e| fail(format!("{}: {e}", self.file.display())))?;
        let text = format!(
            "{step},{},{mean},{median},{quality_text}\n",
            stats.memorised_fraction
        );
        file.write_all(text.as_bytes())
            .map_err(|e| fail(format!("{}: {e}", self.file.display())))?;
        Ok(format!(
            "step {step}: memorised fraction {:.3}, mean d1 {mean:.4}{}",
            stats.memorised_fraction,
            quality
                .map(|q| format!(", sliced W2 {q:.4}"))
                .unwrap_or_default()
        ))
    }
}

/// The rows of a run's `eval.csv`: step, memorised fraction and mean d1 of each evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalRows {
    pub steps: Vec<f64>,
    pub memorised: Vec<f64>,
    pub mean_d1: Vec<f64>,
}

/// Reads `run_dir/eval.csv` as written by [`TrainingEvaluation`]; errors name the file and line.
pub fn read_eval_file(run_dir: &Path) -> Result<EvalRows> {
    let path = run_dir.join(EVAL_FILE);
    let text = fs::read_to_string(&path).map_err(|e| CoreError::io(&path, e))?;
    let mut rows = EvalRows::default();
    for (k, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<f64> = line
            .split(',')
            .take(3)
            .map(|f| f.parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| CoreError::bad_file(&path, format!("line {}: not a number", k + 1)))?;
        if fields.len() < 3 {
            return Err(
                CoreError::bad_file(&path, format!("line {}: expected 3 columns", k + 1)).into(),
            );
        }
        rows.steps.push(fields[0]);
        rows.memorised.push(fields[1]);
        rows.mean_d1.push(fields[2]);
    }
    Ok(rows)
}

/// The evaluations of one run with its training-set size.
pub struct RunCurve {
    pub run: PathBuf,
    pub n_train: usize,
    pub rows: EvalRows,
}

/// Memorisation against the training step for several runs, on one shared abscissa: the
/// union of their evaluation steps (a run without a step leaves a gap, NaN).
pub struct TrainingCurves {
    pub steps: Vec<f64>,
    pub runs: Vec<RunCurve>,
}

impl TrainingCurves {
    pub fn new(runs: Vec<RunCurve>) -> Self {
        let mut steps: Vec<f64> = runs
            .iter()
            .flat_map(|c| c.rows.steps.iter().copied())
            .collect();
        steps.sort_by(f64::total_cmp);
        steps.dedup();
        TrainingCurves { steps, runs }
    }

    /// `values` of a run at every shared step.
    fn aligned(&self, run: &RunCurve, values: &[f64]) -> Vec<f64> {
        self.steps
            .iter()
            .map(|s| {
                run.rows
                    .steps
                    .iter()
                    .position(|t| t == s)
                    .map(|i| values[i])
                    .unwrap_or(f64::NAN)
            })
            .collect()
    }

    /// Writes `memorised_fraction.png`, `mean_d1.png` (one curve per run, labelled by its
    /// training-set size) and `training_curves.csv` into `out`; returns the paths written.
    pub fn write(&self, out: &OutputDir) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for (file, title, label, log_y, memorised) in [
            (
                "memorised_fraction.png",
                "memorised fraction during training",
                "memorised fraction",
                false,
                true,
            ),
            (
                "mean_d1.png",
                "mean distance to the nearest training point during training",
                "mean d1",
                true,
                false,
            ),
        ] {
            let curves: Vec<(String, Vec<f64>)> = self
                .runs
                .iter()
                .map(|r| {
                    let values = if memorised {
                        &r.rows.memorised
                    } else {
                        &r.rows.mean_d1
                    };
                    (format!("n = {}", r.n_train), self.aligned(r, values))
                })
                .collect();
            let series: Vec<Series> = curves
                .iter()
                .map(|(l, v)| Series {
                    label: l,
                    values: v,
                })
                .collect();
            let png = curves_png(
                title,
                "training step",
                label,
                &self.steps,
                &series,
                Axes {
                    log_x: false,
                    log_y,
                },
            )?;
            written.push(out.write(file, &png)?);
        }
        let mut csv = String::from("run,n_train,step,memorised_fraction,mean_d1\n");
        for r in &self.runs {
            for k in 0..r.rows.steps.len() {
                csv.push_str(&format!(
                    "{},{},{},{},{}\n",
                    r.run.display(),
                    r.n_train,
                    r.rows.steps[k],
                    r.rows.memorised[k],
                    r.rows.mean_d1[k]
                ));
            }
        }
        written.push(out.write("training_curves.csv", csv.as_bytes())?);
        Ok(written)
    }
}

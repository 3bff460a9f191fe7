//! `analyze cells` as a library call: Voronoi-cell trapping of reverse paths (Cao et al.,
//! Fig. 10) — when each path enters the cell of the training point it ends at, and its files.

use burn::tensor::Device;
use serde_json::json;

use scorelab_analysis::cells::{cell_trapping, CellReport};
use scorelab_analysis::paths::evaluation_indices;
use scorelab_analysis::plot::{curves_png, grouped_scatter_png, trajectories_png, Axes, Series};
use scorelab_core::device::to_vec;
use scorelab_core::output::OutputDir;
use scorelab_sample::{sample_with_prior, Prior, SamplerConfig, SamplerOptions};

use crate::error::{JobError, Result};
use crate::score_source::{ScoreOptions, ScoreSource, Warn};

/// Trajectories drawn in paths.png for 2-D data.
const SHOWN_PATHS: usize = 12;

/// Which score, which sampler, how many paths and recorded times (with the `clap` feature:
/// the flags of `analyze cells`).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct CellsJob {
    #[cfg_attr(feature = "clap", command(flatten))]
    pub score: ScoreOptions,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub sampler: SamplerOptions,
    /// Number of paths.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 500))]
    pub n: usize,
    /// Recorded states along the run, evenly spaced in step index (first and last included).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 100))]
    pub records: usize,
}

/// A job with its score, prior and recording times ready.
pub struct PreparedCells<'a> {
    job: &'a CellsJob,
    pub config: SamplerConfig,
    source: ScoreSource,
    prior: Prior,
}

impl CellsJob {
    /// Checks the sizes.
    pub fn check(&self) -> Result<()> {
        if self.n == 0 {
            return Err(JobError::options("invalid parameter n: must be >= 1"));
        }
        if self.records < 2 {
            return Err(JobError::options(
                "invalid parameter records: must be >= 2 (the start and the end of the run)",
            ));
        }
        Ok(())
    }

    /// Checks the sampler, opens the score and sets the recorded times.
    pub fn prepare(&self, device: &Device, warn: Warn) -> Result<PreparedCells<'_>> {
        self.check()?;
        let mut config = self.sampler.resolve()?;
        let source = ScoreSource::open(&self.score, self.sampler.seed, device, warn)?;
        config.validate(&source.sde)?;
        let prior = source.prior(&self.sampler.prior, device)?;
        let times = config.times(&source.sde);
        config.record_at = evaluation_indices(config.steps, self.records)
            .into_iter()
            .map(|i| times[i])
            .collect();
        Ok(PreparedCells {
            job: self,
            config,
            source,
            prior,
        })
    }
}

impl PreparedCells<'_> {
    /// Runs the paths (`progress` gets each finished step), measures the trapping and writes
    /// cells.csv, cells.png, for 2-D data start_cells.png and paths.png, and cells.json;
    /// returns a line of the result.
    pub fn run(
        &self,
        out: &OutputDir,
        device: &Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<String> {
        let (source, config, n) = (&self.source, &self.config, self.job.n);
        let run = sample_with_prior(
            source.score.as_ref(),
            config,
            &self.prior,
            n,
            device,
            progress,
        )?;
        let evaluations = run.evaluations;
        let path = run.path;
        let training = source.training_in_model_space(device);
        let report = cell_trapping(&path, &training, &source.sde, source.normalisation.scale)?;
        let mut written = write_cell_report(out, &report)?;
        if source.data.dim == 2 {
            let to_data = |t| source.normalisation.to_data(&to_vec(t));
            let start = to_data(path[0].points.clone());
            written.push(out.write(
                "start_cells.png",
                &grouped_scatter_png(
                    "starting points, coloured by the training point they end at",
                    &start,
                    &report.end_cells,
                    &source.data.points,
                )?,
            )?);
            let values: Vec<f32> = path
                .iter()
                .flat_map(|s| to_data(s.points.clone()))
                .collect();
            written.push(out.write(
                "paths.png",
                &trajectories_png(
                    &format!("{} of {n} reverse paths", SHOWN_PATHS.min(n)),
                    &values,
                    n,
                    SHOWN_PATHS,
                    &source.data.points,
                )?,
            )?);
        }
        let mut record = source.report_head("analyze cells", &written);
        record["config"] = json!(config);
        record["score_evaluations_per_sample"] = json!(evaluations);
        record["prior"] = json!(self.prior.kind());
        record["report"] = json!(report);
        out.write_json("cells.json", &record)?;
        Ok(format!(
            "trapped in the final cell from median τ {:.3e} (10%–90%: {:.3e}–{:.3e}); start cell = end cell for {:.3} of paths (chance {:.3}); end points {:.2e} (median) from their training point, {} cells reached",
            report.trapping_tau.median,
            report.trapping_tau.q10,
            report.trapping_tau.q90,
            report.start_cell_is_final,
            report.start_cell_is_final_by_chance,
            report.end_distance.median,
            report.cells_reached,
        ))
    }
}

/// Writes the occupancy curves (PNG) and their table (CSV).
fn write_cell_report(out: &OutputDir, report: &CellReport) -> Result<Vec<std::path::PathBuf>> {
    let mut csv = String::from("tau,in_final_cell,in_final_cell_unscaled\n");
    for (k, tau) in report.tau.iter().enumerate() {
        csv.push_str(&format!(
            "{tau},{},{}\n",
            report.in_final_cell[k], report.in_final_cell_unscaled[k]
        ));
    }
    // τ = 0 cannot sit on a log axis; the run ends at t_min > 0, so every τ is positive.
    let picture = curves_png(
        "fraction of paths already in the Voronoi cell they end in",
        "τ",
        "fraction of paths",
        &report.tau,
        &[
            Series {
                label: "cell of (x − c(τ))/α(τ) (largest posterior weight)",
                values: &report.in_final_cell,
            },
            Series {
                label: "cell of x",
                values: &report.in_final_cell_unscaled,
            },
        ],
        Axes {
            log_x: true,
            log_y: false,
        },
    )?;
    Ok(vec![
        out.write("cells.csv", csv.as_bytes())?,
        out.write("cells.png", &picture)?,
    ])
}

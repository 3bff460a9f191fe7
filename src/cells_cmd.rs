//! `scorelab analyze cells`: Voronoi-cell trapping of reverse paths (Cao et al., Fig. 10).

use serde_json::json;

use scorelab_analysis::cells::{cell_trapping, CellReport};
use scorelab_analysis::paths::evaluation_indices;
use scorelab_analysis::plot::{curves_png, grouped_scatter_png, trajectories_png, Axes, Series};
use scorelab_core::device::to_vec;
use scorelab_sample::sample_with_prior;

use crate::analysis_io::{open, out_dir};
use crate::cli::CellsArgs;
use crate::failure::{CliResult, Failure};
use crate::output::OutputDir;
use crate::sample_cmd::{progress_bar, sampler_config};
use crate::score_source::open_source;

/// Trajectories drawn in paths.png for 2-D data.
const SHOWN_PATHS: usize = 12;

pub fn run(args: &CellsArgs) -> CliResult<()> {
    if args.n == 0 {
        return Err(Failure::usage("invalid parameter n: must be >= 1"));
    }
    if args.records < 2 {
        return Err(Failure::usage(
            "invalid parameter records: must be >= 2 (the start and the end of the run)",
        ));
    }
    let device = open(&args.output)?;
    let mut config = sampler_config(&args.integrator, false)?;
    let source = open_source(&args.source, args.integrator.seed, &device)?;
    config.validate(&source.sde)?;
    let prior = source.prior(&args.integrator.prior, &device)?;
    let times = config.times(&source.sde);
    config.record_at = evaluation_indices(config.steps, args.records)
        .into_iter()
        .map(|i| times[i])
        .collect();
    let out = out_dir(&args.output, "cells")?;
    let bar = progress_bar(config.steps);
    let run = sample_with_prior(
        source.score.as_ref(),
        &config,
        &prior,
        args.n,
        &device,
        &mut |k| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    let evaluations = run.evaluations;
    let path = run.path;
    let training = source.training_in_model_space(&device);
    let report = cell_trapping(&path, &training, &source.sde, source.normalisation.scale)?;
    let mut written = write_cell_report(&out, &report)?;
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
                &format!("{} of {} reverse paths", SHOWN_PATHS.min(args.n), args.n),
                &values,
                args.n,
                SHOWN_PATHS,
                &source.data.points,
            )?,
        )?);
    }
    let mut record = source.report_head("analyze cells", &written);
    record["config"] = json!(config);
    record["score_evaluations_per_sample"] = json!(evaluations);
    record["prior"] = json!(prior.kind());
    record["report"] = json!(report);
    out.write_json("cells.json", &record)?;
    println!(
        "trapped in the final cell from median τ {:.3e} (10%–90%: {:.3e}–{:.3e}); start cell = end cell for {:.3} of paths (chance {:.3}); end points {:.2e} (median) from their training point, {} cells reached; wrote {}",
        report.trapping_tau.median,
        report.trapping_tau.q10,
        report.trapping_tau.q90,
        report.start_cell_is_final,
        report.start_cell_is_final_by_chance,
        report.end_distance.median,
        report.cells_reached,
        out.file("").display()
    );
    Ok(())
}

/// Writes the occupancy curves (PNG) and their table (CSV).
fn write_cell_report(out: &OutputDir, report: &CellReport) -> CliResult<Vec<std::path::PathBuf>> {
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

//! `scorelab sample`: reverse-time sampling with the empirical (or an exact) score.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use scorelab_analysis::memorization::{memorisation_stats, neighbours_in, DEFAULT_THRESHOLD};
use scorelab_analysis::plot::{image_grid_png, scatter_png, trajectories_png};
use scorelab_core::datasets::clip_to_range;
use scorelab_core::device::to_vec;
use scorelab_core::nearest::nearest_neighbours_in;
use scorelab_core::BackendKind;
use scorelab_sample::{sample_with_prior, without_rows, SamplerConfig, SamplerOptions};

use crate::backend::open_backend;
use crate::cli::{SampleArgs, SamplerArgs};
use crate::failure::{CliResult, Failure};
use crate::output::OutputDir;
use crate::score_source::{parse_list, ScoreSource};

/// Trajectories drawn in paths.png when a 2-D batch is recorded.
const SHOWN_PATHS: usize = 10;

/// Samples within this distance of a training point count as "on a training point" in the summary.
const ON_TRAINING_POINT: f32 = 1e-2;

/// The sampler configuration described by the integrator flags, with the Tweedie step when
/// `denoise` (it counts towards --nfe).
pub fn sampler_config(args: &SamplerArgs, denoise: bool) -> CliResult<SamplerConfig> {
    let options = SamplerOptions {
        sampler: args.sampler.clone(),
        steps: args.steps,
        nfe: args.nfe,
        t_min: args.t_min,
        grid: args.grid.clone(),
        eps: args.eps,
        eta: args.eta,
        rtol: args.rtol,
        atol: args.atol,
        rho: args.rho,
        churn: args.churn,
        churn_sigma_min: args.churn_sigma_min,
        churn_sigma_max: args.churn_sigma_max,
        churn_noise: args.churn_noise,
        snr: args.snr,
        corrector_steps: args.corrector_steps,
        seed: args.seed,
        denoise,
    };
    Ok(options.resolve()?)
}

pub fn progress_bar(steps: usize) -> ProgressBar {
    let bar = crate::progress::plain_when_not_a_terminal(ProgressBar::new(steps as u64));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("sampling");
    bar
}

pub fn run(args: &SampleArgs) -> CliResult<()> {
    let mut config = sampler_config(&args.integrator, args.denoise)?;
    if let Some(record) = &args.record {
        config.record_at = parse_list(record, "--record")?;
    }
    if args.n == 0 {
        return Err(Failure::usage("invalid parameter n: must be >= 1"));
    }
    let backend = BackendKind::parse(&args.device)?;
    let device = open_backend(backend)?;
    let source = ScoreSource::open(&args.source, args.integrator.seed, &device)?;
    config.validate(&source.sde)?;
    let prior = source.prior(&args.integrator.prior, &args.source, &device)?;
    let ScoreSource {
        score,
        sde,
        spec,
        data,
        data_seed,
        normalisation,
        checkpoint_dir,
    } = source;
    // Every argument is checked by now. The folder itself is created once the samples exist,
    // so an interrupted or failed run leaves no empty folder behind.
    OutputDir::check(&args.out, args.force)?;

    let bar = progress_bar(config.steps);
    let started = Instant::now();
    let result = sample_with_prior(
        score.as_ref(),
        &config,
        &prior,
        args.n,
        &device,
        &mut |step| bar.set_position(step as u64),
    )?;
    bar.finish_and_clear();
    let sampling_seconds = started.elapsed().as_secs_f64();

    let mut samples = normalisation.to_data(&to_vec(result.samples.clone()));
    let dim = data.dim;
    let mut kept = args.n;
    if let Some(report) = result.nonfinite_report() {
        if !args.keep_finite {
            return Err(Failure::runtime(format!(
                "{report}; try more steps or a larger t-min, or pass --keep-finite to keep the finite ones"
            )));
        }
        eprintln!("warning: {report}; keeping the finite ones (--keep-finite)");
        samples = without_rows(&samples, dim, &result.nonfinite_rows);
        kept = samples.len() / dim;
        if kept == 0 {
            return Err(Failure::runtime(format!(
                "{report}: no finite sample is left to write"
            )));
        }
    }

    // images leave the pixel range by a little (the network's error near t_min): report how
    // much, and clip unless --no-clip
    let value_range = data.value_range();
    let out_of_range = value_range.map(|range| clip_to_range(&mut samples, range, !args.no_clip));
    let clipped = out_of_range.is_some() && !args.no_clip;
    let sample_tensor = scorelab_core::device::tensor_from_rows(&samples, kept, dim, &device);
    // the d1/d2 criterion of `analyze memorization`: free of the data's scale, so it means the
    // same for 2-D points and for 784-pixel images (it needs two training points)
    let (d1, memorised) = if data.n >= 2 {
        let nearest = neighbours_in(&sample_tensor, &data)?;
        let memorised = memorisation_stats(&nearest, DEFAULT_THRESHOLD)?.memorised_fraction;
        (nearest.nearest.d1, Some(memorised))
    } else {
        (nearest_neighbours_in(&sample_tensor, &data.points).0, None)
    };
    let on_point =
        d1.iter().filter(|&&d| d <= ON_TRAINING_POINT).count() as f64 / kept.max(1) as f64;
    let mean_d1 = d1.iter().map(|&d| d as f64).sum::<f64>() / kept.max(1) as f64;

    let out = OutputDir::create(&args.out, args.force)?;
    let shape: Vec<u64> = match data.image_shape {
        Some([c, h, w]) => vec![kept as u64, c as u64, h as u64, w as u64],
        None => vec![kept as u64, dim as u64],
    };
    let mut written = vec![out.write_npy("samples.npy", &shape, &samples)?];
    let describe = |count: String| {
        format!(
            "{count} samples, {} score, {} {}, t_min = {}",
            args.source.score_name(),
            sde.name(),
            args.integrator.sampler,
            config.t_min
        )
    };
    if dim == 2 {
        written.push(out.write_csv("samples.csv", &samples, dim)?);
        let title = describe(kept.to_string());
        written.push(out.write("samples.png", &scatter_png(&title, &samples, &data.points)?)?);
    } else if let Some([1, h, w]) = data.image_shape {
        let shown = kept.min(64);
        let caption = describe(format!("{shown} of {kept}"));
        let picture = image_grid_png(&caption, &samples[..shown * h * w], (h, w), 8, 2, 1)?;
        written.push(out.write("samples.png", &picture)?);
    }
    if !result.path.is_empty() {
        let taus: Vec<f64> = result.path.iter().map(|p| p.tau).collect();
        let values: Vec<f32> = result
            .path
            .iter()
            .flat_map(|p| normalisation.to_data(&to_vec(p.points.clone())))
            .collect();
        written.push(out.write_npy(
            "path.npy",
            &[taus.len() as u64, args.n as u64, dim as u64],
            &values,
        )?);
        written.push(out.write_json("path_times.json", &taus)?);
        if dim == 2 {
            let title = format!(
                "{} of {} paths, {} score, {} recorded times",
                SHOWN_PATHS.min(args.n),
                args.n,
                args.source.score_name(),
                taus.len()
            );
            let picture = trajectories_png(&title, &values, args.n, SHOWN_PATHS, &data.points)?;
            written.push(out.write("paths.png", &picture)?);
        }
    }

    let summary = json!({
        "command": "sample",
        "score": args.source.score_name(),
        "checkpoint": args.source.checkpoint,
        "checkpoint_resolved": checkpoint_dir,
        "weights": checkpoint_dir.as_ref().map(|_| &args.source.weights),
        "command_line": crate::cli::command_line(),
        "perturbation": args.source.perturb,
        "dataset": {
            "spec": spec,
            "name": data.name,
            "n_train": data.n,
            "dim": dim,
            "seed": data_seed,
        },
        "sde": sde,
        "sampler": config,
        "prior": prior.kind(),
        "n": args.n,
        "device": backend.name(),
        "results": {
            "samples_kept": kept,
            "nonfinite_samples": result.nonfinite_rows.len(),
            "value_range": value_range,
            "out_of_range_fraction": out_of_range,
            "clipped_to_range": clipped,
            "first_nonfinite_tau": result.first_nonfinite_tau(),
            "mean_distance_to_nearest_training_point": mean_d1,
            "fraction_within_1e-2_of_a_training_point": on_point,
            "memorised_fraction": memorised,
            "memorisation_criterion": "d1/d2 < 1/3",
            "sampling_seconds": sampling_seconds,
            "score_evaluations_per_sample": result.evaluations,
            "sigma_at_t_min": sde.sigma2(config.t_min).sqrt(),
        },
        "files": written.iter().map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect::<Vec<_>>(),
    });
    out.write_json("summary.json", &summary)?;
    println!(
        "{kept} samples in {sampling_seconds:.2} s ({} score evaluations each); {}{:.1}% within 1e-2 of a training point, mean nearest distance {mean_d1:.4}; wrote {}",
        result.evaluations,
        memorised.map_or(String::new(), |m| format!("memorised fraction {m:.3} (d1/d2 < 1/3), ")),
        100.0 * on_point,
        args.out.display()
    );
    Ok(())
}

//! `scorelab sample`: reverse-time sampling with the empirical (or an exact) score.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use scorelab_core::datasets::{MnistSplit, DATASET_NAMES};
use scorelab_core::device::to_vec;
use scorelab_core::nearest::nearest_neighbours;
use scorelab_core::{
    open_device, BackendKind, Dataset, DatasetSpec, EmpiricalScore, Gmm, GmmScore, PerturbedScore,
    ScoreFn, Sde, SdeParams,
};
use scorelab_sample::{sample, SamplerConfig, SamplerKind, TauGrid, GRID_NAMES, SAMPLER_NAMES};
use scorelab_train::checkpoint::{EMA_FILE, WEIGHTS_FILE};
use scorelab_train::{load_score_weights, Normalisation};

use crate::cli::{DataArgs, SampleArgs, SdeArgs};
use crate::failure::{CliResult, Failure};
use crate::output::OutputDir;
use scorelab_analysis::plot::{image_grid_png, scatter_png};

/// Samples within this distance of a training point count as "on a training point" in the summary.
const ON_TRAINING_POINT: f32 = 1e-2;

/// Parses "a,b;c,d" into points.
fn parse_points(text: &str) -> CliResult<Vec<Vec<f64>>> {
    text.split(';')
        .map(|point| parse_list(point, "--points"))
        .collect()
}

/// Parses a comma-separated list of numbers.
fn parse_list(text: &str, flag: &str) -> CliResult<Vec<f64>> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| Failure::usage(format!("{flag}: '{}' is not a number", v.trim())))
        })
        .collect()
}

/// Where the MNIST files are: the given folder, or the copy shipped with the sources.
pub fn mnist_dir(dir: &Path) -> PathBuf {
    if dir.exists() || dir.is_absolute() {
        dir.to_path_buf()
    } else {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        if shipped.exists() {
            shipped
        } else {
            dir.to_path_buf()
        }
    }
}

/// A dataset spec read from a checkpoint, with a relative MNIST folder resolved like the flag's
/// (so that a run started in the repository can be sampled from elsewhere).
pub fn locate(spec: &DatasetSpec) -> DatasetSpec {
    match spec {
        DatasetSpec::Mnist { dir, split, n } => DatasetSpec::Mnist {
            dir: mnist_dir(dir),
            split: *split,
            n: *n,
        },
        other => other.clone(),
    }
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
            dir: mnist_dir(&args.mnist_dir),
            split: MnistSplit::parse(&args.split)?,
            n: args.n_train,
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
    let data_sigma_max =
        (args.sde == "ve" && args.sigma_max.is_none()).then(|| data.max_pairwise_distance(2000));
    Ok(params.build(&args.sde, data_sigma_max)?)
}

fn sampler_config(args: &SampleArgs) -> CliResult<SamplerConfig> {
    let kind = SamplerKind::parse(&args.sampler).ok_or_else(|| {
        Failure::usage(format!(
            "unknown sampler '{}' (expected one of: {})",
            args.sampler,
            SAMPLER_NAMES.join(", ")
        ))
    })?;
    let grid = TauGrid::parse(&args.grid).ok_or_else(|| {
        Failure::usage(format!(
            "unknown grid '{}' (expected one of: {})",
            args.grid,
            GRID_NAMES.join(", ")
        ))
    })?;
    let mut config = SamplerConfig::new(kind, args.steps, args.t_min);
    config.grid = grid;
    config.eps = args.eps.unwrap_or(kind.default_eps());
    config.snr = args.snr;
    config.corrector_steps = args.corrector_steps;
    config.denoise = args.denoise;
    config.seed = args.seed;
    if let Some(record) = &args.record {
        config.record_at = parse_list(record, "--record")?;
    }
    Ok(config)
}

fn progress_bar(steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("sampling");
    bar
}

/// The score to sample with and the training set it is compared against.
struct ScoreSource {
    score: Box<dyn ScoreFn>,
    sde: Sde,
    spec: DatasetSpec,
    data: Dataset,
    data_seed: u64,
    /// Samples live in model space; this maps them back to data space.
    normalisation: Normalisation,
}

/// A trained network from `--checkpoint`, with its SDE and rebuilt training set.
fn checkpoint_source(args: &SampleArgs, device: &Device) -> CliResult<ScoreSource> {
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
    let (score, meta) = load_score_weights(path, file, device)?;
    let data = locate(&meta.data.spec).load(meta.data.seed)?;
    Ok(ScoreSource {
        score,
        sde: meta.sde,
        spec: meta.data.spec,
        data,
        data_seed: meta.data.seed,
        normalisation: meta.data.normalisation,
    })
}

/// The empirical or exact score of the training set described by the flags.
fn analytic_source(args: &SampleArgs, device: &Device) -> CliResult<ScoreSource> {
    if args.checkpoint.is_some() {
        return Err(Failure::usage("--checkpoint needs --score checkpoint"));
    }
    let spec = dataset_spec(&args.data, 100)?;
    let data_seed = args.data.data_seed.unwrap_or(args.seed);
    let data = spec.load(data_seed)?;
    let sde = build_sde(&args.sde, &data)?;
    let score: Box<dyn ScoreFn> = match args.score.as_str() {
        "empirical" => Box::new(EmpiricalScore::with_chunks(
            data.to_tensor(device),
            sde.clone(),
            args.query_chunk,
            args.data_chunk,
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
    Ok(ScoreSource {
        score,
        sde,
        spec,
        data,
        data_seed,
        normalisation: Normalisation::IDENTITY,
    })
}

pub fn run(args: &SampleArgs) -> CliResult<()> {
    let config = sampler_config(args)?;
    if args.n == 0 {
        return Err(Failure::usage("invalid parameter n: must be >= 1"));
    }
    let backend = BackendKind::parse(&args.device)?;
    let device = open_device(backend)?;
    let source = if args.score == "checkpoint" {
        checkpoint_source(args, &device)?
    } else {
        analytic_source(args, &device)?
    };
    let ScoreSource {
        score: base,
        sde,
        spec,
        data,
        data_seed,
        normalisation,
    } = source;
    config.validate(&sde)?;
    let train_tensor = data.to_tensor(&device);
    let score: Box<dyn ScoreFn> = match &args.perturb {
        Some(text) => {
            let e = parse_list(text, "--perturb")?;
            if e.len() != base.dim() {
                return Err(Failure::usage(format!(
                    "--perturb has {} entries but the data dimension is {}",
                    e.len(),
                    base.dim()
                )));
            }
            Box::new(PerturbedScore::new(base, &e, &device)?)
        }
        None => base,
    };
    if score.dim() != data.dim {
        return Err(Failure::runtime(format!(
            "the score has dimension {} but the training set has dimension {}",
            score.dim(),
            data.dim
        )));
    }
    // Every argument is checked by now: only a valid run creates the output folder.
    let out = OutputDir::create(&args.out, args.force)?;

    let bar = progress_bar(config.steps);
    let started = Instant::now();
    let result = sample(score.as_ref(), &config, args.n, &device, &mut |step| {
        bar.set_position(step as u64)
    })?;
    bar.finish_and_clear();
    let sampling_seconds = started.elapsed().as_secs_f64();

    let mut samples = normalisation.to_data(&to_vec(result.samples.clone()));
    let dim = data.dim;
    let mut kept = args.n;
    // τ decreases during sampling: the earliest divergence has the largest τ
    let first_divergence = result.nonfinite_since.iter().copied().reduce(f64::max);
    if let Some(first) = first_divergence {
        let last = result.nonfinite_since.iter().copied().fold(first, f64::min);
        let report = format!(
            "{} of {} samples became non-finite, the first at τ = {first:.4e}, the last at τ = {last:.4e}",
            result.nonfinite_rows.len(),
            args.n,
        );
        if !args.keep_finite {
            return Err(Failure::runtime(format!(
                "{report}; try more steps or a larger t-min, or pass --keep-finite to keep the finite ones"
            )));
        }
        eprintln!("warning: {report}; keeping the finite ones (--keep-finite)");
        samples = samples
            .chunks(dim)
            .enumerate()
            .filter(|(i, _)| !result.nonfinite_rows.contains(i))
            .flat_map(|(_, row)| row.iter().copied())
            .collect();
        kept = samples.len() / dim;
        if kept == 0 {
            return Err(Failure::runtime(format!(
                "{report}: no finite sample is left to write"
            )));
        }
    }

    let sample_tensor = scorelab_core::device::tensor_from_rows(&samples, kept, dim, &device);
    let (d1, _) = nearest_neighbours(&sample_tensor, &train_tensor);
    let on_point =
        d1.iter().filter(|&&d| d <= ON_TRAINING_POINT).count() as f64 / kept.max(1) as f64;
    let mean_d1 = d1.iter().map(|&d| d as f64).sum::<f64>() / kept.max(1) as f64;

    let shape: Vec<u64> = match data.image_shape {
        Some([c, h, w]) => vec![kept as u64, c as u64, h as u64, w as u64],
        None => vec![kept as u64, dim as u64],
    };
    let mut written = vec![out.write_npy("samples.npy", &shape, &samples)?];
    if dim == 2 {
        written.push(out.write_csv("samples.csv", &samples, dim)?);
        let title = format!(
            "{} samples, {} score, {} {}, t_min = {}",
            kept,
            args.score,
            sde.name(),
            args.sampler,
            config.t_min
        );
        written.push(out.write("samples.png", &scatter_png(&title, &samples, &data.points)?)?);
    } else if let Some([1, h, w]) = data.image_shape {
        let shown = &samples[..samples.len().min(64 * h * w)];
        written.push(out.write("samples.png", &image_grid_png(shown, h, w, 8, 2)?)?);
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
    }

    let summary = json!({
        "command": "sample",
        "score": args.score,
        "checkpoint": args.checkpoint,
        "perturbation": args.perturb,
        "dataset": {
            "spec": spec,
            "name": data.name,
            "n_train": data.n,
            "dim": dim,
            "seed": data_seed,
        },
        "sde": sde,
        "sampler": config,
        "n": args.n,
        "device": backend.name(),
        "results": {
            "samples_kept": kept,
            "nonfinite_samples": result.nonfinite_rows.len(),
            "first_nonfinite_tau": first_divergence,
            "mean_distance_to_nearest_training_point": mean_d1,
            "fraction_within_1e-2_of_a_training_point": on_point,
            "sampling_seconds": sampling_seconds,
            "sigma_at_t_min": sde.sigma2(config.t_min).sqrt(),
        },
        "files": written.iter().map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect::<Vec<_>>(),
    });
    out.write_json("summary.json", &summary)?;
    println!(
        "{kept} samples in {sampling_seconds:.2} s; {:.1}% within 1e-2 of a training point (mean nearest distance {mean_d1:.4}); wrote {}",
        100.0 * on_point,
        args.out.display()
    );
    Ok(())
}

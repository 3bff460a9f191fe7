//! `scorelab analyze`: memorisation of samples, path diagnostics, the imitation rate and the
//! early-stopping sweep (DESIGN §6). Every command writes JSON, CSV and PNG files into its
//! output folder and prints the key numbers.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde_json::{json, Value};

use scorelab_analysis::agreement::agreement;
use scorelab_analysis::fisher::{fisher_divergence, write_fisher_files};
use scorelab_analysis::frechet::{class_histogram, frechet_distance};
use scorelab_analysis::likelihood::{
    bits_per_dim, dequantise, nll_per_dim, LikelihoodOptions, SetLikelihoods,
};
use scorelab_analysis::memorization::{
    d1_histogram, memorisation_report, validate_threshold, Baselines, Neighbours,
};
use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::plot::image_grid_png;
use scorelab_analysis::quality::{QualityMetric, SlicedW2To, SLICED_W2_MAX_DIM};
use scorelab_analysis::rate::{imitation_rate, RateConfig};
use scorelab_analysis::stats::summarise;
use scorelab_analysis::tmin::tmin_sweep;
use scorelab_analysis::training_eval::{read_eval_file, RunCurve, TrainingCurves};
use scorelab_analysis::AnalysisError;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::CoreError;
use scorelab_core::{Dataset, DatasetSpec, EmpiricalScore, GmmScore, PerturbedScore, ScoreFn, Sde};
use scorelab_sample::SamplerConfig;
use scorelab_train::checkpoint::{read_meta, resolve};
use scorelab_train::classifier::{CLASSES, FEATURES, PIXELS as FEATURE_INPUT};
use scorelab_train::training_set::{training_set_of_checkpoint, training_set_of_samples};
use scorelab_train::{Classifier, Normalisation};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::analysis_io::{file_names, open, open_classifier, out_dir, read_samples, source_json};
use crate::cli::{
    AgreementArgs, AnalyzeCommand, FisherArgs, LikelihoodArgs, MemorizationArgs, PathsArgs,
    RateArgs, TminArgs, TrainingCurvesArgs,
};
use crate::failure::{CliResult, Failure};
use crate::output::table_from_flags;
use crate::sample_cmd::{progress_bar, sampler_config};
use crate::score_source::{
    checkpoint_training_set, dataset_spec, parse_list, parse_perturbation, ScoreSource,
};
use crate::train_cmd::EXACT_DIVERGENCE_MAX_DIM;

pub fn run(what: &AnalyzeCommand) -> CliResult<()> {
    match what {
        AnalyzeCommand::Memorization(args) => memorization(args),
        AnalyzeCommand::Paths(args) => paths(args),
        AnalyzeCommand::Rate(args) => rate(args),
        AnalyzeCommand::Tmin(args) => tmin(args),
        AnalyzeCommand::Likelihood(args) => likelihood(args),
        AnalyzeCommand::Fisher(args) => fisher(args),
        AnalyzeCommand::Agreement(args) => agreement_cmd(args),
        AnalyzeCommand::Training(args) => training_curves(args),
        AnalyzeCommand::Cells(args) => crate::cells_cmd::run(args),
        AnalyzeCommand::Compare(args) => crate::compare_cmd::run(args),
    }
}

/// The training set of `memorization`: a checkpoint's, the summary's beside the samples, or
/// the flags'. Returns the dataset, its spec and seed, and where it came from.
fn training_set(args: &MemorizationArgs) -> CliResult<(Dataset, DatasetSpec, u64, String)> {
    let found = match &args.checkpoint {
        Some(dir) => Some(training_set_of_checkpoint(dir)?),
        None if args.ignore_summary => None,
        None => training_set_of_samples(&args.samples)?,
    };
    if let Some(f) = found {
        return Ok((f.data, f.spec, f.seed, f.origin));
    }
    let spec = dataset_spec(&args.data, 100)?;
    let seed = args.data.data_seed.unwrap_or(args.seed);
    let data = spec.load(seed)?;
    Ok((data, spec, seed, "the data flags".into()))
}

/// Memorisation, on-manifold distance and quality of `samples` (data space) against
/// `training`, next to the same numbers for fresh data (`memorisation_report`). Returns the
/// JSON section and the per-sample neighbours (and the fresh points' ones).
pub fn memorisation_section(
    samples: &Tensor<2>,
    training: &Dataset,
    spec: &DatasetSpec,
    baselines: &Baselines,
    threshold: f64,
) -> CliResult<(Value, Neighbours, Option<Neighbours>)> {
    let report = memorisation_report(samples, training, spec, baselines, threshold)?;
    Ok((json!(report), report.neighbours, report.fresh_neighbours))
}

/// The Fréchet distance in a classifier's penultimate features to a fixed reference set of
/// images; samples are mapped from model space to pixels in [0, 1] first.
pub struct FrechetTo {
    classifier: Classifier,
    reference: Vec<f32>,
    normalisation: Normalisation,
}

impl FrechetTo {
    pub fn new(
        classifier: Classifier,
        reference: &Tensor<2>,
        normalisation: Normalisation,
    ) -> Self {
        let reference = to_vec(classifier.features(reference.clone()));
        FrechetTo {
            classifier,
            reference,
            normalisation,
        }
    }

    fn features(&self, images: &Tensor<2>) -> Vec<f32> {
        to_vec(self.classifier.features(images.clone()))
    }
}

impl QualityMetric for FrechetTo {
    fn name(&self) -> &str {
        "classifier Fréchet distance"
    }

    fn evaluate(&self, samples: &Tensor<2>) -> scorelab_analysis::Result<f64> {
        let [n, d] = samples.dims();
        let pixels = self.normalisation.to_data(&to_vec(samples.clone()));
        let pixels = tensor_from_rows(&pixels, n, d, &samples.device());
        frechet_distance(&self.features(&pixels), &self.reference, FEATURES)
    }
}

/// Fréchet distance of image samples (pixels in [0, 1]) to the whole MNIST test split, the
/// same for a test subset of the same size (the noise floor: the estimate is biased upwards at
/// small n), and the predicted-class frequencies of both.
fn image_quality(
    classifier: Classifier,
    samples: &Tensor<2>,
    spec: &DatasetSpec,
    baselines: &Baselines,
    device: &Device,
) -> CliResult<Value> {
    let (Some(test), Some(floor)) = (spec.fresh(10_000), &baselines.floor) else {
        return Ok(Value::Null);
    };
    let test = test.load(0)?.to_tensor(device);
    let classes = |x: &Tensor<2>| class_histogram(&classifier.predict(x), CLASSES);
    let (sample_classes, test_classes) = (classes(samples), classes(&test));
    let metric = FrechetTo::new(classifier, &test, Normalisation::IDENTITY);
    Ok(json!({
        "frechet_distance_to_test_split": metric.evaluate(samples)?,
        "noise_floor_test_subset_of_the_same_size": metric.evaluate(floor)?,
        "feature_dim": FEATURES,
        "predicted_class_frequencies": sample_classes,
        "test_class_frequencies": test_classes,
    }))
}

/// Columns of `analyze memorization --table`.
const TABLE_COLUMNS: [&str; 15] = [
    "label",
    "samples",
    "memorised_fraction",
    "mean_d1",
    "median_d1",
    "fresh_memorised_fraction",
    "fresh_mean_d1",
    "mean_distance_to_curve",
    "fresh_mean_distance_to_curve",
    "sliced_w2_to_fresh",
    "sliced_w2_floor",
    "energy_distance_to_fresh",
    "energy_distance_floor",
    "frechet_distance",
    "frechet_floor",
];

/// One row of `--table` from a memorisation section; absent numbers are empty cells.
fn table_row(label: &str, n: usize, section: &Value) -> Vec<String> {
    let cell = |v: &Value| v.as_f64().map(|x| format!("{x}")).unwrap_or_default();
    let q = &section["quality"];
    vec![
        label.to_string(),
        n.to_string(),
        cell(&section["samples"]["memorised_fraction"]),
        cell(&section["samples"]["d1"]["mean"]),
        cell(&section["samples"]["d1"]["median"]),
        cell(&section["fresh"]["memorised_fraction"]),
        cell(&section["fresh"]["d1"]["mean"]),
        cell(&section["on_manifold"]["samples"]["mean"]),
        cell(&section["on_manifold"]["fresh"]["mean"]),
        cell(&q["samples_vs_fresh"]["sliced_w2"]),
        cell(&q["noise_floor_fresh_vs_fresh"]["sliced_w2"]),
        cell(&q["samples_vs_fresh"]["energy_distance"]),
        cell(&q["noise_floor_fresh_vs_fresh"]["energy_distance"]),
        cell(&q["frechet_distance_to_test_split"]),
        cell(&q["noise_floor_test_subset_of_the_same_size"]),
    ]
}

fn memorization(args: &MemorizationArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let (values, dim) = read_samples(&args.samples)?;
    let (data, spec, seed, origin) = training_set(args)?;
    if dim != data.dim {
        return Err(Failure::runtime(format!(
            "{}: samples have dimension {dim} but the training set ({origin}) has dimension {}",
            args.samples.display(),
            data.dim
        )));
    }
    validate_threshold(args.threshold)?;
    let n = values.len() / dim;
    if data.n < 2 {
        return Err(Failure::usage(
            "the training set needs at least two points for d1/d2",
        ));
    }
    let out = out_dir(&args.output, "memorization")?;
    let samples = tensor_from_rows(&values, n, dim, &device);
    let baselines = Baselines::draw(&spec, seed, args.fresh.unwrap_or(n), &device)?;
    let (mut section, own, fresh) =
        memorisation_section(&samples, &data, &spec, &baselines, args.threshold)?;
    if data.image_shape.is_some() && dim == FEATURE_INPUT {
        if let Some(classifier) = open_classifier(&args.classifier, &device)? {
            section["quality"] = image_quality(classifier, &samples, &spec, &baselines, &device)?;
        }
    }

    let mut written = Vec::new();
    let mut csv = String::from("sample,d1,d2,ratio,nearest,second_nearest\n");
    for i in 0..n {
        let t = &own.nearest;
        csv.push_str(&format!(
            "{i},{},{},{},{},{}\n",
            t.d1[i], t.d2[i], own.ratio[i], t.i1[i], t.i2[i]
        ));
    }
    written.push(out.write("neighbours.csv", csv.as_bytes())?);
    if let Some(counts) = section["copies"]["counts"].as_array() {
        let mut text = String::from("training_point,copies\n");
        for (i, c) in counts.iter().enumerate() {
            text.push_str(&format!("{i},{c}\n"));
        }
        written.push(out.write("copies.csv", text.as_bytes())?);
    }
    written.push(out.write(
        "d1_histogram.png",
        &d1_histogram(
            &format!("{n} samples against {} training points", data.n),
            &own,
            fresh.as_ref(),
        )?,
    )?);
    if let Some([1, h, w]) = data.image_shape {
        // each sample next to its nearest training image, 8 pairs per row
        let shown = n.min(32);
        let mut pairs = Vec::with_capacity(2 * shown * h * w);
        for i in 0..shown {
            pairs.extend_from_slice(&values[i * dim..(i + 1) * dim]);
            pairs.extend_from_slice(data.row(own.nearest.i1[i]));
        }
        let caption = format!(
            "the first {shown} samples, each (left) beside its nearest training image (right)"
        );
        written.push(out.write(
            "nearest_pairs.png",
            &image_grid_png(&caption, &pairs, (h, w), 16, 2, 2)?,
        )?);
    }
    let report = json!({
        "command": "analyze memorization",
        "samples_file": args.samples,
        "samples": n,
        "training_set": { "spec": spec, "seed": seed, "n": data.n, "dim": dim, "from": origin },
        "memorization": section,
        "files": file_names(&written),
    });
    out.write_json("memorization.json", &report)?;
    let stats = &report["memorization"];
    if let Some((table, label)) = &table {
        table.append(&table_row(label, n, stats))?;
    }
    println!(
        "memorised fraction {:.3} (d1/d2 < {:.3}), mean d1 {:.4}{}; wrote {}",
        stats["samples"]["memorised_fraction"]
            .as_f64()
            .unwrap_or(f64::NAN),
        args.threshold,
        stats["samples"]["d1"]["mean"].as_f64().unwrap_or(f64::NAN),
        match stats.get("fresh") {
            Some(f) => format!(
                "; fresh data: memorised fraction {:.3}, mean d1 {:.4}",
                f["memorised_fraction"].as_f64().unwrap_or(f64::NAN),
                f["d1"]["mean"].as_f64().unwrap_or(f64::NAN)
            ),
            None => String::new(),
        },
        out.file("").display()
    );
    Ok(())
}

fn divergence_flag(text: &str, dim: usize) -> CliResult<bool> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        "auto" => Ok(dim <= EXACT_DIVERGENCE_MAX_DIM),
        other => Err(Failure::usage(format!(
            "unknown divergence '{other}' (expected one of: auto, on, off)"
        ))),
    }
}

/// Columns of `analyze paths --table`: the model's and the empirical score's paths at the
/// last recorded time, and the worst Li–Yau violation along the model's paths.
const PATH_TABLE_COLUMNS: [&str; 11] = [
    "label",
    "tau",
    "model_mean_d1",
    "empirical_mean_d1",
    "model_memorised_fraction",
    "empirical_memorised_fraction",
    "score_gap",
    "scaled_score_gap",
    "gap_integral",
    "novikov_exponent",
    "model_max_li_yau_violation",
];

fn path_table_row(label: &str, report: &PathReport) -> Vec<String> {
    let last = report.tau.len() - 1;
    let (model, empirical) = (&report.series[0], &report.series[1]);
    let violation = model.divergence.as_ref().map(|d| {
        d.violation_fraction
            .iter()
            .copied()
            .fold(0.0f64, f64::max)
            .to_string()
    });
    vec![
        label.to_string(),
        report.tau[last].to_string(),
        model.mean_d1[last].to_string(),
        empirical.mean_d1[last].to_string(),
        model.memorised_fraction[last].to_string(),
        empirical.memorised_fraction[last].to_string(),
        report.score_gap[last].to_string(),
        report.scaled_score_gap[last].to_string(),
        report.gap_integral[last].to_string(),
        report
            .novikov
            .as_ref()
            .map(|v| v[last].to_string())
            .unwrap_or_default(),
        violation.unwrap_or_default(),
    ]
}

fn paths(args: &PathsArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &PATH_TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let sampler = sampler_config(&args.integrator, false)?;
    let source = ScoreSource::open(&args.source, args.integrator.seed, &device)?;
    let divergence = divergence_flag(&args.divergence, source.data.dim)?;
    let empirical = source.empirical_twin(&args.source, &device)?;
    let perturbed = match &args.compare_perturb {
        Some(text) => {
            let e = parse_perturbation(text, "--compare-perturb", source.data.dim)?;
            let twin = source.empirical_twin(&args.source, &device)?;
            Some(PerturbedScore::new(twin, &e, &device)?)
        }
        None => None,
    };
    let config = PathConfig {
        sampler,
        n: args.n,
        evaluations: args.evaluations,
        divergence,
        distance_scale: source.normalisation.scale,
    };
    config.validate(&source.sde)?;
    let prior = source.prior(&args.integrator.prior, &args.source, &device)?;
    let out = out_dir(&args.output, "paths")?;
    let runs = 2 + usize::from(perturbed.is_some());
    let bar = progress_bar(runs * config.sampler.steps);
    let report = path_diagnostics(
        source.score.as_ref(),
        &empirical,
        perturbed.as_ref().map(|p| p as &dyn ScoreFn),
        &source.training_in_model_space(&device),
        &config,
        &prior,
        &device,
        &mut |k| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    let written = report.write(&out)?;
    let mut record = source_json("analyze paths", &args.source, &source, &written);
    record["config"] = json!(config);
    record["score_evaluations_per_sample"] = json!(config.sampler.evaluations());
    record["prior"] = json!(prior.kind());
    record["report"] = json!(report);
    out.write_json("paths.json", &record)?;
    if let Some((table, label)) = &table {
        table.append(&path_table_row(label, &report))?;
    }
    let last = report.tau.len() - 1;
    let d1: Vec<String> = report
        .series
        .iter()
        .map(|s| format!("{} {:.4}", s.label, s.mean_d1[last]))
        .collect();
    let exponent = match &report.novikov {
        Some(novikov) => format!(
            "Novikov exponent (ε = {}) {:.3e}",
            report.viscosity, novikov[last]
        ),
        None => format!(
            "score-gap integral {:.3e} (ODE: no Novikov exponent)",
            report.gap_integral[last]
        ),
    };
    println!(
        "at τ = {:.3e}: mean d1 {}; score gap {:.3e}; {exponent}; wrote {}",
        report.tau[last],
        d1.join(", "),
        report.score_gap[last],
        out.file("").display()
    );
    Ok(())
}

fn rate(args: &RateArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let spec = dataset_spec(&args.data, 100)?;
    let seed = args.data.data_seed.unwrap_or(args.seed);
    let data = spec.load(seed)?;
    let sde = Sde::heat(args.c, args.t_end)?;
    let fit_window = match &args.fit_window {
        Some(text) => match parse_list(text, "--fit-window")?[..] {
            [lo, hi] => Some((lo, hi)),
            _ => return Err(Failure::usage("--fit-window takes two numbers: lo,hi")),
        },
        None => None,
    };
    let config = RateConfig {
        n: args.n,
        steps: args.steps,
        t_min: args.t_min,
        records: args.records,
        fit_window,
        seed: args.seed,
    };
    let training = data.to_tensor(&device);
    let score = EmpiricalScore::new(training.clone(), sde.clone())?;
    config.plan(&sde, &training)?;
    let out = out_dir(&args.output, "rate")?;
    let bar = progress_bar(args.steps);
    let report = imitation_rate(&score, &training, &config, &device, &mut |k| {
        bar.set_position(k as u64)
    })?;
    bar.finish_and_clear();
    let written = report.write(&out)?;
    out.write_json(
        "rate.json",
        &json!({
            "command": "analyze rate",
            "training_set": { "spec": spec, "seed": seed, "n": data.n },
            "sde": sde,
            "config": config,
            "report": report,
            "files": file_names(&written),
        }),
    )?;
    println!(
        "slope {:.3} (95% CI {:.3} to {:.3}; theory 0.5) over τ in [{:.2e}, {:.2e}]; wrote {}",
        report.slope,
        report.slope_ci95.0,
        report.slope_ci95.1,
        report.fit_window.0,
        report.fit_window.1,
        out.file("").display()
    );
    Ok(())
}

fn tmin(args: &TminArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let samplers: Vec<SamplerConfig> = match &args.samplers {
        None => vec![sampler_config(&args.integrator, false)?],
        Some(list) => list
            .split(',')
            .map(|name| {
                let mut integrator = args.integrator.clone();
                integrator.sampler = name.trim().to_string();
                sampler_config(&integrator, false)
            })
            .collect::<CliResult<_>>()?,
    };
    if samplers.is_empty() {
        return Err(Failure::usage("--samplers: give at least one sampler"));
    }
    let t_mins = parse_list(&args.t_mins, "--t-mins")?;
    let source = ScoreSource::open(&args.source, args.integrator.seed, &device)?;
    if t_mins.is_empty() {
        return Err(Failure::usage("--t-mins: give at least one time"));
    }
    validate_threshold(args.threshold)?;
    for sampler in &samplers {
        for &t in &t_mins {
            let mut check = sampler.clone();
            check.t_min = t;
            check.validate(&source.sde)?;
        }
    }
    if args.n == 0 {
        return Err(Failure::usage("invalid parameter n: must be >= 1"));
    }
    let prior = source.prior(&args.integrator.prior, &args.source, &device)?;
    let out = out_dir(&args.output, "tmin")?;
    let training = source.training_in_model_space(&device);
    // quality against fresh data, in model space like the samples
    // images are compared with the whole test split; points with a draw as large as the sample
    let reference_size = if source.data.image_shape.is_some() {
        10_000
    } else {
        args.n
    };
    let fresh = source
        .spec
        .fresh(reference_size)
        .map(|s| s.load(source.data_seed.wrapping_add(1)))
        .transpose()?;
    let metric: Option<Box<dyn QualityMetric>> = match &fresh {
        Some(f) if f.dim <= SLICED_W2_MAX_DIM => Some(Box::new(SlicedW2To {
            reference: source.normalisation.to_model_tensor(f, &device),
            seed: 0,
        })),
        Some(f) if f.image_shape.is_some() && f.dim == FEATURE_INPUT => {
            open_classifier(&args.classifier, &device)?.map(|classifier| {
                Box::new(FrechetTo::new(
                    classifier,
                    &f.to_tensor(&device),
                    source.normalisation,
                )) as Box<dyn QualityMetric>
            })
        }
        _ => None,
    };
    let bar = progress_bar(t_mins.len() * samplers.iter().map(|s| s.steps).sum::<usize>());
    let report = tmin_sweep(
        source.score.as_ref(),
        &training,
        &samplers,
        &prior,
        &t_mins,
        args.n,
        args.threshold,
        source.normalisation.scale,
        metric.as_deref(),
        &device,
        &mut |k| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    let written = report.write(&out)?;
    let mut record = source_json("analyze tmin", &args.source, &source, &written);
    record["samplers"] = json!(samplers);
    record["prior"] = json!(prior.kind());
    record["report"] = json!(report);
    out.write_json("tmin.json", &record)?;
    for row in &report.rows {
        println!(
            "{} ({} evaluations), t_min {:.1e} (σ {:.3e}): memorised {:.3}, mean d1 {:.4}{}",
            row.sampler,
            row.evaluations,
            row.t_min,
            row.sigma,
            row.memorisation.memorised_fraction,
            row.memorisation.d1.mean,
            row.quality
                .map(|q| format!(
                    ", {} {q:.4}",
                    report.quality_metric.as_deref().unwrap_or("quality")
                ))
                .unwrap_or_default()
        );
    }
    println!("wrote {}", out.file("").display());
    Ok(())
}

fn fisher(args: &FisherArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let source = ScoreSource::open(&args.source, args.seed, &device)?;
    let DatasetSpec::Gmm { gmm, .. } = &source.spec else {
        return Err(Failure::usage(
            "the Fisher divergence needs a known density: use --dataset gmm (or a checkpoint trained on it)",
        ));
    };
    let times = parse_list(&args.times, "--times")?;
    if args.n < 2 {
        return Err(Failure::usage("invalid parameter n: must be >= 2"));
    }
    if let Some(t) = times
        .iter()
        .find(|&&t| !(t > 0.0 && t <= source.sde.t_end()))
    {
        return Err(Failure::usage(format!(
            "--times: {t} is outside (0, T = {}]",
            source.sde.t_end()
        )));
    }
    let exact = GmmScore::new(gmm.clone(), source.sde.clone(), &device);
    let (points, _) = gmm.sample(
        args.n,
        &mut ChaCha8Rng::seed_from_u64(args.seed.wrapping_add(1)),
    );
    let x0 = tensor_from_rows(&points, args.n, gmm.dim(), &device);
    let out = out_dir(&args.output, "fisher")?;
    let rows = fisher_divergence(source.score.as_ref(), &exact, &x0, &times, args.seed)?;
    for r in &rows {
        println!(
            "t {:.3e}: {:.4e} ± {:.1e} (relative {:.3e})",
            r.t, r.divergence, r.std_error, r.relative
        );
    }
    let written = write_fisher_files(&rows, &out)?;
    let mut record = source_json("analyze fisher", &args.source, &source, &written);
    record["n"] = json!(args.n);
    record["rows"] = json!(rows);
    out.write_json("fisher.json", &record)?;
    println!("wrote {}", out.file("").display());
    Ok(())
}

/// One side of an agreement run: a score and its training set in model space.
struct Side {
    score: Box<dyn ScoreFn>,
    training: Tensor<2>,
    origin: String,
}

fn checkpoint_side(dir: &Path, device: &Device) -> CliResult<(Side, Normalisation)> {
    let (score, meta) = scorelab_train::load_score(dir, device)?;
    let (_, data) = checkpoint_training_set(&meta)?;
    let normalisation = meta.data.normalisation;
    Ok((
        Side {
            score,
            training: normalisation.to_model_tensor(&data, device),
            origin: dir.display().to_string(),
        },
        normalisation,
    ))
}

fn empirical_side(args: &AgreementArgs, seed: u64, device: &Device) -> CliResult<Side> {
    let spec = dataset_spec(&args.data, 100)?;
    let data = spec.load(seed)?;
    let sde = crate::score_source::build_sde(&args.sde, &data)?;
    let training = data.to_tensor(device);
    Ok(Side {
        score: Box::new(EmpiricalScore::new(training.clone(), sde)?),
        training,
        origin: format!("empirical score of {} (data seed {seed})", data.name),
    })
}

fn agreement_cmd(args: &AgreementArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let sampler = sampler_config(&args.integrator, args.denoise)?;
    if args.integrator.prior != "nominal" {
        return Err(Failure::usage(
            "analyze agreement starts both scores from the same draw of the SDE's prior; \
             --prior moment or exact would start them from laws of different training sets",
        ));
    }
    let (a, b, scale) =
        match (&args.a, &args.b, args.empirical) {
            (Some(a), Some(b), false) => {
                let (a, norm_a) = checkpoint_side(a, &device)?;
                let (b, _) = checkpoint_side(b, &device)?;
                (a, b, norm_a.scale)
            }
            (None, None, true) => {
                let seed = args.data.data_seed.unwrap_or(args.integrator.seed);
                (
                    empirical_side(args, seed, &device)?,
                    empirical_side(args, seed.wrapping_add(1), &device)?,
                    1.0,
                )
            }
            _ => return Err(Failure::usage(
                "give two checkpoints with --a DIR --b DIR, or --empirical (with the data flags)",
            )),
        };
    sampler.validate(a.score.sde())?;
    if args.n == 0 {
        return Err(Failure::usage("invalid parameter n: must be >= 1"));
    }
    let out = out_dir(&args.output, "agreement")?;
    let bar = progress_bar(2 * sampler.steps);
    let mut report = agreement(
        a.score.as_ref(),
        b.score.as_ref(),
        &a.training,
        &b.training,
        &sampler,
        args.n,
        &device,
        &mut |k| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    report.scale_summaries(scale);
    report.write_histograms(&out, scale)?;
    out.write_json(
        "agreement.json",
        &json!({
            "command": "analyze agreement",
            "a": a.origin,
            "b": b.origin,
            "sampler": sampler,
            "score_evaluations_per_sample": report.evaluations,
            "report": report,
        }),
    )?;
    println!(
        "pair distance {:.4} (median {:.4}) against own-training-set d1 {:.4} (A) and {:.4} (B); agreement {:.3}; centred cosine {:.3}; {} shared training points; wrote {}",
        report.pair_distance.mean,
        report.pair_distance.median,
        report.own_d1_a.mean,
        report.own_d1_b.mean,
        report.agreement,
        report.centred_cosine,
        report.shared_training_points,
        out.file("").display()
    );
    Ok(())
}

fn likelihood(args: &LikelihoodArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let source = ScoreSource::open(&args.source, args.seed, &device)?;
    if args.solver == "rk4" && (args.rtol.is_some() || args.atol.is_some()) {
        return Err(Failure::usage(
            "--rtol and --atol set the tolerances of --solver rk45",
        ));
    }
    let config = LikelihoodOptions {
        solver: &args.solver,
        rtol: args.rtol,
        atol: args.atol,
        divergence: &args.divergence,
        probe: &args.probe,
        probes: args.probes,
        steps: args.steps,
        t0: args.t0,
        seed: args.seed,
    }
    .resolve(source.data.dim)?;
    if args.max_points == 0 {
        return Err(Failure::usage("invalid parameter max-points: must be >= 1"));
    }
    let sets = likelihood_sets(args, &source)?;
    config.validate(source.sde.t_end())?;
    let prior = source.prior(&args.prior, &args.source, &device)?;
    let out = out_dir(&args.output, "likelihood")?;
    let mut results = Vec::new();
    let mut per_point = SetLikelihoods { sets: Vec::new() };
    // 8-bit images are dequantised (one uniform draw per value; reported in bits per dimension)
    let dequantised = source.data.image_shape.is_some();
    let mut noise = ChaCha8Rng::seed_from_u64(args.seed.wrapping_add(2));
    let Normalisation { shift, scale } = source.normalisation;
    for (name, data) in &sets {
        let bar = progress_bar(args.steps);
        bar.set_message(format!("likelihood of the {name}"));
        let evaluated = if dequantised {
            dequantise(data, &mut noise)
        } else {
            data.clone()
        };
        let (nll, evaluations) = nll_per_dim(
            source.score.as_ref(),
            &evaluated,
            (shift, scale),
            &config,
            &prior,
            &mut |k| bar.set_position(k as u64),
            &device,
        )?;
        bar.finish_and_clear();
        let summary = summarise(nll.iter().copied());
        println!(
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
            println!("{name}: {bits:.4} bits/dim (uniform dequantisation)");
            entry["bits_per_dim"] = json!(bits);
        }
        results.push((entry, summary.mean));
        per_point.sets.push((name.clone(), nll));
    }
    let gap = (results.len() == 2).then(|| results[1].1 - results[0].1);
    if let Some(gap) = gap {
        println!("fresh − training NLL gap: {gap:.4} nats/dim (positive: the score prefers its training points)");
    }
    let written = per_point.write(&out)?;
    let mut record = source_json("analyze likelihood", &args.source, &source, &written);
    record["config"] = json!(config);
    record["prior"] = json!(prior.kind());
    record["sets"] = json!(results.into_iter().map(|(e, _)| e).collect::<Vec<_>>());
    record["gap_fresh_minus_training_nats_per_dim"] = json!(gap);
    out.write_json("likelihood.json", &record)?;
    println!("wrote {}", out.file("").display());
    Ok(())
}

/// The point sets of `analyze likelihood`: --eval-file, else the training set and a fresh
/// draw of the same size, each at most --max-points (a seeded subset).
fn likelihood_sets(
    args: &LikelihoodArgs,
    source: &ScoreSource,
) -> CliResult<Vec<(String, Dataset)>> {
    let mut sets: Vec<(String, Dataset)> = Vec::new();
    match &args.eval_file {
        Some(path) => {
            let (values, dim) = read_samples(path)?;
            if dim != source.data.dim {
                return Err(Failure::runtime(format!(
                    "{}: points have dimension {dim} but the score has dimension {}",
                    path.display(),
                    source.data.dim
                )));
            }
            sets.push((
                path.display().to_string(),
                Dataset::from_points("points", values, dim),
            ));
        }
        None => {
            sets.push(("training set".into(), source.data.clone()));
            if let Some(spec) = source.spec.fresh(source.data.n.min(args.max_points)) {
                sets.push((
                    "fresh data".into(),
                    spec.load(source.data_seed.wrapping_add(1))?,
                ));
            }
        }
    }
    Ok(sets
        .into_iter()
        .map(|(name, data)| {
            let data = if data.n > args.max_points {
                data.subset(args.max_points, args.seed)
            } else {
                data
            };
            (name, data)
        })
        .collect())
}

fn training_curves(args: &TrainingCurvesArgs) -> CliResult<()> {
    let runs: Vec<PathBuf> = args
        .runs
        .split(',')
        .map(|s| PathBuf::from(s.trim()))
        .collect();
    let mut curves = Vec::new();
    for run in &runs {
        let meta = read_meta(&resolve(run)?)?;
        let rows = read_eval_file(run).map_err(|e| match e {
            AnalysisError::Core(CoreError::Io { .. }) => {
                Failure::runtime(format!("{e} (train the run with --eval-every)"))
            }
            other => other.into(),
        })?;
        curves.push(RunCurve {
            run: run.clone(),
            n_train: meta.data.n,
            rows,
        });
    }
    let out = out_dir(&args.output, "training")?;
    TrainingCurves::new(curves).write(&out)?;
    println!("{} runs; wrote {}", runs.len(), out.file("").display());
    Ok(())
}

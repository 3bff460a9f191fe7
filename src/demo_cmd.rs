//! `scorelab demo`: the whole story on the Swiss roll in a few minutes on a CPU. Train an MLP
//! score on a small training set, sample from it and from the empirical score of the same
//! training set with the same sampler and noise, measure memorisation of both next to fresh
//! data, follow both along their reverse paths, and write a Markdown report with the figures.

use std::fmt::Write as _;

use clap::{CommandFactory, FromArgMatches};
use serde_json::{json, Value};

use scorelab_analysis::memorization::Neighbours;
use scorelab_analysis::paths::{path_diagnostics, PathConfig, PathReport};
use scorelab_analysis::plot::{histograms_png, Series};
use scorelab_core::device::tensor_from_rows;
use scorelab_core::{BackendKind, DatasetSpec, EmpiricalScore};
use scorelab_sample::{Prior, SamplerConfig, SamplerKind, TauGrid};
use scorelab_train::load_score;

use crate::analysis_io::read_samples;
use crate::analyze_cmd::memorisation_section;
use crate::backend::open_backend;
use crate::cli::{Cli, Command, DemoArgs};
use crate::failure::{CliResult, Failure};
use crate::output::OutputDir;
use crate::sample_cmd::progress_bar;
use crate::score_source::checkpoint_training_set;
use scorelab_analysis::memorization::Baselines;

/// The sizes of one demo run.
struct Plan {
    n_train: usize,
    train_steps: usize,
    /// Short runs need a short EMA: 0.999^k still weighs the random start after k steps.
    ema_decay: f64,
    width: usize,
    batch: usize,
    samples: usize,
    sampler_steps: usize,
    t_min: f64,
    paths: usize,
    evaluations: usize,
}

impl Plan {
    fn for_size(size: &str) -> CliResult<Self> {
        match size {
            "full" => Ok(Plan {
                n_train: 500,
                train_steps: 16_000,
                ema_decay: 0.999,
                width: 128,
                batch: 256,
                samples: 2000,
                sampler_steps: 500,
                t_min: 1e-5,
                paths: 500,
                evaluations: 60,
            }),
            "quick" => Ok(Plan {
                n_train: 200,
                train_steps: 2000,
                ema_decay: 0.99,
                width: 64,
                batch: 128,
                samples: 300,
                sampler_steps: 100,
                t_min: 1e-5,
                paths: 100,
                evaluations: 30,
            }),
            other => Err(Failure::usage(format!(
                "unknown size '{other}' (expected one of: full, quick)"
            ))),
        }
    }
}

/// Runs a `scorelab` subcommand in-process, exactly as if typed.
fn run_subcommand(argv: &[String]) -> CliResult<()> {
    let matches = crate::command_settings(Cli::command())
        .try_get_matches_from(std::iter::once("scorelab".to_string()).chain(argv.iter().cloned()))
        .map_err(|e| Failure::runtime(format!("internal command {argv:?}: {e}")))?;
    let cli = Cli::from_arg_matches(&matches)
        .map_err(|e| Failure::runtime(format!("internal command {argv:?}: {e}")))?;
    match cli.command {
        Command::Train(args) => {
            let sub = matches.subcommand_matches("train").expect("train matches");
            crate::train_cmd::run_command(&args, sub)
        }
        Command::Sample(args) => crate::sample_cmd::run(&args),
        _ => Err(Failure::runtime("the demo runs only train and sample")),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A number of the report with three significant digits, in scientific notation below 1e-3
/// and from 1e4 on ("–" for a missing one).
fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(0.0) => "0".into(),
        Some(x) if !x.is_finite() => format!("{x}"),
        Some(x) if x.abs() < 1e-3 || x.abs() >= 1e4 => format!("{x:.2e}"),
        Some(x) => {
            let decimals = (2 - x.abs().log10().floor() as i32).max(0) as usize;
            format!("{x:.decimals$}")
        }
        None => "–".into(),
    }
}

/// The report's opening paragraph: what the numbers say, in plain words.
fn conclusion(summary: &Value) -> String {
    let m = &summary["memorization"];
    let get = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let model = get(&m["model"]["samples"]["memorised_fraction"]);
    let empirical = get(&m["empirical"]["samples"]["memorised_fraction"]);
    let fresh = get(&m["model"]["fresh"]["memorised_fraction"]);
    let d1_model = get(&m["model"]["samples"]["d1"]["mean"]);
    let d1_empirical = get(&m["empirical"]["samples"]["d1"]["mean"]);
    let d1_fresh = get(&m["model"]["fresh"]["d1"]["mean"]);
    let verdict = if (model - fresh).abs() <= (model - empirical).abs() {
        "The model generalises: like fresh data, its samples fall between the training points,          while the empirical score (the exact score of the smoothed training set) returns copies          of them."
    } else {
        "The model copies: its samples sit on training points much as the empirical score's do,          not between them like fresh data."
    };
    format!(
        "**In short.** {verdict} Of the model's samples {} count as copies of a training point,          against {} for the empirical score and {} for fresh data from the same distribution; a          model sample lies on average {} from its nearest training point, an empirical-score          sample {} and a fresh point {}.\n",
        percent(model),
        percent(empirical),
        percent(fresh),
        number(&json!(d1_model)),
        number(&json!(d1_empirical)),
        number(&json!(d1_fresh)),
    )
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", 100.0 * fraction)
}

/// One line for each term of the report that is not common knowledge.
const TERMS: &str = "\
- **d1, d2**: the distance from a point to its nearest and second-nearest training point; a point is *memorised* when d1/d2 is below the threshold.
- **score gap**: the mean ‖s_θ − s_emp‖ of the model's score against the empirical score, along the model's reverse paths; **σ-scaled**: the same multiplied by the noise level σ(τ), which removes the 1/σ growth of every score near the data so that the gap is comparable across τ.
- **Novikov exponent**: ((1 + ε)²/4ε) ∫ ½ g² E‖s_θ − s_emp‖² dτ, the Kullback–Leibler divergence (Girsanov) between the path distributions of the two reverse SDEs with viscosity ε; 1 here, where ε = 1.
- **Li–Yau bound**: the divergence of the score of any data smoothed by Gaussian noise of variance σ² satisfies ∇·s ≥ −d/σ²; a point below it shows a score that no smoothed density can have.
- **sliced W2, energy distance**: distances between the samples and fresh data; the fresh-data row gives their value between two fresh draws (the floor of a perfect generator).
";

pub fn run(args: &DemoArgs) -> CliResult<()> {
    let plan = Plan::for_size(&args.size)?;
    let backend = BackendKind::parse(&args.device)?;
    let device = open_backend(backend)?;
    let out = OutputDir::create(&args.out, args.force)?;
    let path_of = |name: &str| -> String { out.file(name).to_string_lossy().into_owned() };
    let seed = args.seed.to_string();
    let n_train = plan.n_train.to_string();
    let t_min = plan.t_min.to_string();

    eprintln!(
        "[1/5] training an MLP score on {} Swiss-roll points",
        plan.n_train
    );
    let mut train = strings(&[
        "train",
        "--dataset",
        "swissroll",
        "--sde",
        "vp",
        "--model",
        "mlp",
    ]);
    train.extend(strings(&[
        "--n-train",
        &n_train,
        "--width",
        &plan.width.to_string(),
        "--depth",
        "3",
        "--steps",
        &plan.train_steps.to_string(),
        "--batch-size",
        &plan.batch.to_string(),
        "--lr",
        "2e-3",
        "--ema-decay",
        &plan.ema_decay.to_string(),
        "--seed",
        &seed,
        "--device",
        &args.device,
        "--out",
        &path_of("train"),
        "--force",
    ]));
    run_subcommand(&train)?;

    eprintln!("[2/5] sampling from the model and from the empirical score (same noise)");
    let sampler_flags = strings(&[
        "--sampler",
        "em",
        "--steps",
        &plan.sampler_steps.to_string(),
        "--grid",
        "quadratic",
        "--t-min",
        &t_min,
        "--denoise",
        "--n",
        &plan.samples.to_string(),
        "--seed",
        &seed,
        "--device",
        &args.device,
        "--force",
    ]);
    let mut model = strings(&[
        "sample",
        "--score",
        "checkpoint",
        "--checkpoint",
        &path_of("train"),
        "--out",
        &path_of("samples_model"),
    ]);
    model.extend(sampler_flags.iter().cloned());
    run_subcommand(&model)?;
    let mut empirical = strings(&[
        "sample",
        "--score",
        "empirical",
        "--dataset",
        "swissroll",
        "--n-train",
        &n_train,
        "--data-seed",
        &seed,
        "--sde",
        "vp",
        "--out",
        &path_of("samples_empirical"),
    ]);
    empirical.extend(sampler_flags.iter().cloned());
    run_subcommand(&empirical)?;

    eprintln!("[3/5] memorisation: nearest training points, fresh data, quality");
    let (score, meta) = load_score(&out.file("train"), &device)?;
    let (spec, data) = checkpoint_training_set(&meta)?;
    let training = data.to_tensor(&device);
    let baselines = Baselines::draw(&spec, meta.data.seed, plan.samples, &device)?;
    let mut sections = Vec::new();
    let mut nearest: Vec<Neighbours> = Vec::new();
    let mut fresh_neighbours = None;
    for folder in ["samples_model", "samples_empirical"] {
        let (values, dim) = read_samples(&out.file(folder).join("samples.npy"))?;
        let samples = tensor_from_rows(&values, values.len() / dim, dim, &device);
        let (section, own, fresh) =
            memorisation_section(&samples, &data, &spec, &baselines, args.threshold)?;
        sections.push(section);
        nearest.push(own);
        fresh_neighbours = fresh;
    }
    let d1 = |n: &Neighbours| n.nearest.d1.iter().map(|&v| v as f64).collect::<Vec<_>>();
    let (d1_model, d1_empirical) = (d1(&nearest[0]), d1(&nearest[1]));
    let d1_fresh = fresh_neighbours.as_ref().map(d1).unwrap_or_default();
    out.write(
        "d1_histogram.png",
        &histograms_png(
            "distance to the nearest training point",
            "d1",
            &[
                Series {
                    label: "model samples",
                    values: &d1_model,
                },
                Series {
                    label: "empirical-score samples",
                    values: &d1_empirical,
                },
                Series {
                    label: "fresh data",
                    values: &d1_fresh,
                },
            ],
            40,
            true,
        )?,
    )?;

    eprintln!("[4/5] reverse paths: model against empirical score from the same noise");
    let empirical_score = EmpiricalScore::new(training.clone(), meta.sde.clone())?;
    let mut sampler =
        SamplerConfig::new(SamplerKind::EulerMaruyama, plan.sampler_steps, plan.t_min);
    sampler.grid = TauGrid::Quadratic;
    sampler.seed = args.seed;
    let path_config = PathConfig {
        sampler,
        n: plan.paths,
        evaluations: plan.evaluations,
        divergence: true,
        distance_scale: 1.0,
    };
    let paths_out = OutputDir::create(&out.file("paths"), true)?;
    let bar = progress_bar(2 * plan.sampler_steps);
    let report = path_diagnostics(
        score.as_ref(),
        &empirical_score,
        None,
        &training,
        &path_config,
        &Prior::Nominal,
        &device,
        &mut |k| bar.set_position(k as u64),
    )?;
    bar.finish_and_clear();
    report.write(&paths_out)?;
    paths_out.write_json(
        "paths.json",
        &json!({ "config": path_config, "report": report }),
    )?;

    eprintln!("[5/5] writing the report");
    let summary = json!({
        "command": "demo",
        "size": args.size,
        "seed": args.seed,
        "training_set": { "spec": spec, "seed": meta.data.seed, "n": data.n },
        "sde": meta.sde,
        "training_steps": plan.train_steps,
        "sampler": path_config.sampler,
        "score_evaluations_per_sample": path_config.sampler.evaluations(),
        "samples": plan.samples,
        "memorization": { "model": sections[0], "empirical": sections[1] },
        "paths_at_t_min": path_summary(&report),
    });
    out.write_json("summary.json", &summary)?;
    let markdown = report_markdown(args, &plan, &spec, &summary, &report);
    out.write("report.md", markdown.as_bytes())?;
    println!("{}", headline(&summary));
    println!("report: {}", out.file("report.md").display());
    Ok(())
}

/// The last recorded values of each path series.
fn path_summary(report: &PathReport) -> Value {
    let last = report.tau.len() - 1;
    let mut series = serde_json::Map::new();
    for s in &report.series {
        series.insert(
            s.label.clone(),
            json!({
                "mean_d1": s.mean_d1[last],
                "memorised_fraction": s.memorised_fraction[last],
                "li_yau_violations_max": s.divergence.as_ref().map(|d| d.violation_fraction.iter().copied().fold(0.0, f64::max)),
            }),
        );
    }
    json!({
        "tau": report.tau[last],
        "series": series,
        "score_gap": report.score_gap[last],
        "scaled_score_gap": report.scaled_score_gap[last],
        "gap_integral": report.gap_integral[last],
        "novikov": report.novikov.as_ref().map(|v| v[last]),
    })
}

fn headline(summary: &Value) -> String {
    let m = &summary["memorization"];
    format!(
        "memorised fraction: model {}, empirical score {}, fresh data {}; mean d1: model {}, empirical {}, fresh {}",
        number(&m["model"]["samples"]["memorised_fraction"]),
        number(&m["empirical"]["samples"]["memorised_fraction"]),
        number(&m["model"]["fresh"]["memorised_fraction"]),
        number(&m["model"]["samples"]["d1"]["mean"]),
        number(&m["empirical"]["samples"]["d1"]["mean"]),
        number(&m["model"]["fresh"]["d1"]["mean"]),
    )
}

fn report_markdown(
    args: &DemoArgs,
    plan: &Plan,
    spec: &DatasetSpec,
    summary: &Value,
    report: &PathReport,
) -> String {
    let m = &summary["memorization"];
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# scorelab demo: a learned score against the empirical score\n"
    );
    let _ = writeln!(
        md,
        "Training set: {} Swiss-roll points (noise {}, seed {}). An MLP ({}×3, SiLU, ε-parameterised) \
         was trained for {} steps of denoising score matching under the VP SDE. Both the model and \
         the empirical score of the same training set were sampled with Euler–Maruyama ({} steps, \
         quadratic grid, t_min = {:.0e}, one Tweedie denoising step) from the same noise \
         (seed {}). Fresh data is a new draw of {} points from the Swiss roll. Size: `{}`.\n",
        plan.n_train,
        match spec {
            DatasetSpec::Swissroll { noise, .. } => *noise,
            _ => 0.0,
        },
        args.seed,
        plan.width, plan.train_steps, plan.sampler_steps, plan.t_min,
        args.seed, plan.samples, args.size
    );
    let _ = writeln!(md, "{}", conclusion(summary));
    let _ = writeln!(md, "## Samples\n");
    let _ = writeln!(md, "| model | empirical score |\n| --- | --- |");
    let _ = writeln!(
        md,
        "| ![model](samples_model/samples.png) | ![empirical](samples_empirical/samples.png) |\n"
    );
    let _ = writeln!(md, "## Memorisation\n");
    let _ = writeln!(
        md,
        "A sample is memorised when d1/d2 < {:.3} (d1, d2: distances to its nearest and second-nearest \
         training point). Fresh data shows where a generalising model sits; on a one-dimensional \
         manifold even fresh points often sit much closer to one training point than to the next.\n",
        args.threshold
    );
    let _ = writeln!(
        md,
        "| points | memorised fraction | mean d1 | median d1 | mean distance to the spiral | sliced W2 to fresh data | energy distance to fresh data |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    let row = |name: &str, stats: &Value, manifold: &Value, quality: &Value| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} |",
            number(&stats["memorised_fraction"]),
            number(&stats["d1"]["mean"]),
            number(&stats["d1"]["median"]),
            number(&manifold["mean"]),
            number(&quality["sliced_w2"]),
            number(&quality["energy_distance"]),
        )
    };
    for (name, key) in [
        ("model samples", "model"),
        ("empirical-score samples", "empirical"),
    ] {
        let s = &m[key];
        let line = row(
            name,
            &s["samples"],
            &s["on_manifold"]["samples"],
            &s["quality"]["samples_vs_fresh"],
        );
        let _ = writeln!(md, "{line}");
    }
    let s = &m["model"];
    let fresh = row(
        "fresh data",
        &s["fresh"],
        &s["on_manifold"]["fresh"],
        &s["quality"]["noise_floor_fresh_vs_fresh"],
    );
    let _ = writeln!(md, "{fresh}\n");
    let _ = writeln!(
        md,
        "The quality columns of the fresh-data row compare two independent fresh draws: the noise \
         floor of a perfect generator at this sample size.\n"
    );
    let _ = writeln!(md, "![d1 histogram](d1_histogram.png)\n");
    let _ = writeln!(md, "## Along the reverse paths\n");
    let p = &summary["paths_at_t_min"];
    let _ = writeln!(
        md,
        "{} paths of each score from the same noise, measured at {} times. At τ = {:.1e}: mean d1 \
         model {}, empirical {}; score gap ‖s_θ − s_emp‖ = {} (σ-scaled {}); Novikov exponent \
         (the KL of the two reverse SDEs, ε = 1) ∫ ½ g² ‖s_θ − s_emp‖² dτ = {} (terms are defined \
         at the end). Largest fraction of points below the Li–Yau bound \
         ∇·s ≥ −d/σ²: model {}, empirical {}.\n",
        plan.paths,
        report.tau.len(),
        p["tau"].as_f64().unwrap_or(f64::NAN),
        number(&p["series"]["model"]["mean_d1"]),
        number(&p["series"]["empirical"]["mean_d1"]),
        number(&p["score_gap"]),
        number(&p["scaled_score_gap"]),
        number(&p["novikov"]),
        number(&p["series"]["model"]["li_yau_violations_max"]),
        number(&p["series"]["empirical"]["li_yau_violations_max"]),
    );
    for (file, caption) in [
        ("paths/paths_d1.png", "mean distance to the training set"),
        ("paths/paths_score_gap.png", "score gap"),
        ("paths/paths_novikov.png", "Novikov exponent"),
        ("paths/paths_li_yau.png", "Li–Yau violations"),
    ] {
        let _ = writeln!(md, "![{caption}]({file})\n");
    }
    let _ = writeln!(md, "## Training\n\n![loss](train/loss.png)\n");
    let _ = writeln!(md, "## Terms\n\n{TERMS}");
    let _ = writeln!(
        md,
        "Files: `train/` (checkpoints, log.csv), `samples_*/` (samples.npy, .csv, .png, summary.json), \
         `paths/` (paths.csv, paths.json), `summary.json` (every number above)."
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_numbers_have_three_significant_digits_in_one_format() {
        assert_eq!(number(&json!(7.45e-5)), "7.45e-5");
        assert_eq!(number(&json!(0.02)), "0.0200");
        assert_eq!(number(&json!(0.26403)), "0.264");
        assert_eq!(number(&json!(230.2326)), "230");
        assert_eq!(number(&json!(2.3e5)), "2.30e5");
        assert_eq!(number(&json!(-0.0064)), "-0.00640");
        assert_eq!(number(&json!(0.0)), "0");
        assert_eq!(number(&Value::Null), "–");
    }

    fn summary_with(model: f64, empirical: f64, fresh: f64) -> Value {
        let side = |f: f64| json!({ "memorised_fraction": f, "d1": { "mean": 0.01 } });
        json!({ "memorization": {
            "model": { "samples": side(model), "fresh": side(fresh) },
            "empirical": { "samples": side(empirical) },
        }})
    }

    #[test]
    fn the_conclusion_says_whether_the_model_copies() {
        let generalises = conclusion(&summary_with(0.055, 0.901, 0.300));
        assert!(
            generalises.contains("The model generalises"),
            "{generalises}"
        );
        assert!(generalises.contains("5.5%") && generalises.contains("90.1%"));
        let copies = conclusion(&summary_with(0.85, 0.901, 0.300));
        assert!(copies.contains("The model copies"), "{copies}");
    }
}

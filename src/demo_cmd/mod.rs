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
mod report;

use report::{headline, path_summary, report_markdown};

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

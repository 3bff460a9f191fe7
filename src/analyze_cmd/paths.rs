//! `analyze paths`, `rate` and `tmin`: reverse paths against the empirical score, the imitation rate and early stopping.

use scorelab_analysis::paths::PATH_TABLE_COLUMNS;
use scorelab_jobs::quality::fresh_quality_metric;

use super::*;

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

pub(super) fn paths(args: &PathsArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &PATH_TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let sampler = sampler_config(&args.integrator, false)?;
    let source = open_source(&args.source, args.integrator.seed, &device)?;
    let divergence = divergence_flag(&args.divergence, source.data.dim)?;
    let empirical = source.empirical_twin(&device)?;
    let perturbed = match &args.compare_perturb {
        Some(text) => {
            let e = parse_perturbation(text, "--compare-perturb", source.data.dim)?;
            let twin = source.empirical_twin(&device)?;
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
    let prior = source.prior(&args.integrator.prior, &device)?;
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
    let mut record = source.report_head("analyze paths", &written);
    record["config"] = json!(config);
    record["score_evaluations_per_sample"] = json!(config.sampler.evaluations());
    record["prior"] = json!(prior.kind());
    record["report"] = json!(report);
    out.write_json("paths.json", &record)?;
    if let Some((table, label)) = &table {
        table.append(&report.table_row(label))?;
    }
    println!("{}; wrote {}", report.headline(), out.file("").display());
    Ok(())
}

pub(super) fn rate(args: &RateArgs) -> CliResult<()> {
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

pub(super) fn tmin(args: &TminArgs) -> CliResult<()> {
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
    let source = open_source(&args.source, args.integrator.seed, &device)?;
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
    let prior = source.prior(&args.integrator.prior, &device)?;
    let out = out_dir(&args.output, "tmin")?;
    let training = source.training_in_model_space(&device);
    // quality against fresh data, in model space like the samples
    let classifier = args.classifier.classifier.as_ref();
    let metric = fresh_quality_metric(&source, args.n, classifier, &device, &mut warn)?;
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
    let mut record = source.report_head("analyze tmin", &written);
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

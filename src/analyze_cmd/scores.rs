//! `analyze fisher`, `agreement`, `likelihood` and `training`: comparisons of scores, likelihoods and the curves of training runs.

use super::*;

pub(super) fn fisher(args: &FisherArgs) -> CliResult<()> {
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

pub(super) fn agreement_cmd(args: &AgreementArgs) -> CliResult<()> {
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

pub(super) fn likelihood(args: &LikelihoodArgs) -> CliResult<()> {
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

pub(super) fn training_curves(args: &TrainingCurvesArgs) -> CliResult<()> {
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

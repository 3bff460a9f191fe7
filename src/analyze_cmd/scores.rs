//! `analyze fisher`, `agreement`, `likelihood` and `training`: comparisons of scores, likelihoods and the curves of training runs.

use super::*;

pub(super) fn fisher(args: &FisherArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let source = open_source(&args.source, args.seed, &device)?;
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
    let mut record = source.report_head("analyze fisher", &written);
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

/// The likelihood job's progress: a bar per set, and each set's result.
struct SetProgress(Option<ProgressBar>, usize);

impl LikelihoodObserver for SetProgress {
    fn set_started(&mut self, name: &str) {
        let bar = progress_bar(self.1);
        bar.set_message(format!("likelihood of the {name}"));
        self.0 = Some(bar);
    }

    fn progress(&mut self, done: usize) {
        if let Some(bar) = &self.0 {
            bar.set_position(done as u64);
        }
    }

    fn set_done(&mut self, line: &str) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
        println!("{line}");
    }
}

pub(super) fn likelihood(args: &LikelihoodArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let source = open_source(&args.source, args.seed, &device)?;
    let job = LikelihoodJob {
        eval_file: args.eval_file.clone(),
        max_points: args.max_points,
        solver: args.solver.clone(),
        rtol: args.rtol,
        atol: args.atol,
        steps: args.steps,
        t0: args.t0,
        divergence: args.divergence.clone(),
        probe: args.probe.clone(),
        probes: args.probes,
        prior: args.prior.clone(),
        seed: args.seed,
    };
    let prepared = job.prepare(&source, &device)?;
    let out = out_dir(&args.output, "likelihood")?;
    let mut progress = SetProgress(None, args.steps);
    let result = prepared.run(&device, &mut progress);
    if let Some(bar) = progress.0.take() {
        bar.finish_and_clear();
    }
    let likelihoods = result?;
    if let Some(gap) = likelihoods.gap {
        println!("fresh − training NLL gap: {gap:.4} nats/dim (positive: the score prefers its training points)");
    }
    likelihoods.write(&out, &source)?;
    println!("wrote {}", out.file("").display());
    Ok(())
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

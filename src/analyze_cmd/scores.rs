//! `analyze fisher`, `agreement`, `likelihood` and `training`: comparisons of scores, likelihoods and the curves of training runs.

use super::*;

pub(super) fn fisher(args: &FisherArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let job = &args.job;
    let prepared = job.prepare(&device, &mut warn)?;
    let out = out_dir(&args.output, "fisher")?;
    prepared
        .run(&out)?
        .iter()
        .for_each(|line| println!("{line}"));
    println!("wrote {}", out.file("").display());
    Ok(())
}

pub(super) fn agreement_cmd(args: &AgreementArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let sampler = SamplerOptions {
        denoise: args.denoise,
        ..args.integrator.clone()
    };
    sampler.resolve()?;
    if sampler.prior != "nominal" {
        return Err(Failure::usage(
            "analyze agreement starts both scores from the same draw of the SDE's prior; \
             --prior moment or exact would start them from laws of different training sets",
        ));
    }
    let pair =
        match (&args.a, &args.b, args.empirical) {
            (Some(a), Some(b), false) => AgreementPair::Checkpoints(a.clone(), b.clone()),
            (None, None, true) => AgreementPair::Empirical {
                data: Box::new(args.data.clone()),
                sde: Box::new(args.sde.clone()),
            },
            _ => return Err(Failure::usage(
                "give two checkpoints with --a DIR --b DIR, or --empirical (with the data flags)",
            )),
        };
    let job = AgreementJob {
        pair,
        sampler,
        n: args.n,
    };
    let prepared = job.prepare(&device)?;
    let out = out_dir(&args.output, "agreement")?;
    let bar = progress_bar(2 * prepared.sampler.steps);
    let report = prepared.run(&out, &device, &mut |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    println!("{}; wrote {}", report?.headline(), out.file("").display());
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
    let source = open_source(&args.source, args.job.seed, &device)?;
    let job = &args.job;
    let prepared = job.prepare(&source, &device)?;
    let out = out_dir(&args.output, "likelihood")?;
    let mut progress = SetProgress(None, job.steps);
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
    let curves = scorelab_jobs::score_jobs::training_curves(&runs)?;
    let out = out_dir(&args.output, "training")?;
    curves.write(&out)?;
    println!("{} runs; wrote {}", runs.len(), out.file("").display());
    Ok(())
}

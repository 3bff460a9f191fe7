//! `scorelab train`: the flags (and an optional config file) as a training job
//! (`scorelab_jobs::train_job`), with a progress bar, and Ctrl-C / SIGTERM turned into a
//! final checkpoint and a stop.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::parser::ValueSource;
use clap::ArgMatches;
use indicatif::{ProgressBar, ProgressStyle};

use scorelab_core::options::{as_flag, spell_options};
use scorelab_jobs::train_job::{resume_training, start_training, Resumed};
use scorelab_jobs::{EvaluationOptions, ResumeOptions, TrainOptions, TrainingRun};
use scorelab_train::{Observer, RunOutcome, StepReport};

use crate::backend::open_training_devices;
use crate::cli::TrainArgs;
use crate::failure::{CliResult, Failure};
use crate::score_source::{data_options, sde_options, warn};

/// Flags that may accompany --resume (everything else is fixed by the checkpoint).
const RESUMABLE: [&str; 12] = [
    "steps",
    "resume_from",
    "checkpoint_every",
    "keep",
    "log_every",
    "eval_every",
    "eval_samples",
    "device",
    "devices",
    "resume",
    "out",
    "config",
];

/// Set by Ctrl-C / SIGTERM.
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Installs the handler (one per process; if one exists already, interruption falls back
    /// to the default).
    pub fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
        StopFlag(stop)
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A progress bar, and the stop flag.
struct Progress {
    bar: ProgressBar,
    stop: StopFlag,
    stepped: bool,
}

impl Progress {
    /// A bar at `start` of `total` steps, and a handler for Ctrl-C / SIGTERM.
    fn new(start: u64, total: u64) -> Self {
        let bar = crate::progress::plain_when_not_a_terminal(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_position(start);
        bar.set_message("training");
        Progress {
            bar,
            stop: StopFlag::install(),
            stepped: false,
        }
    }
}

impl Observer for Progress {
    fn on_step(&mut self, report: &StepReport) {
        self.bar.set_position(report.step);
        if report.step.is_multiple_of(10) || !self.stepped {
            self.bar.set_message(format!("loss {:.4}", report.loss));
        }
        self.stepped = true;
    }

    fn on_checkpoint(&mut self, path: &Path) {
        self.bar.println(format!("checkpoint {}", path.display()));
    }

    fn interrupted(&self) -> bool {
        self.stop.is_set()
    }

    fn on_message(&mut self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

/// Trains `run` to its configured number of steps and reports the outcome.
fn drive(mut run: TrainingRun, out: &Path) -> CliResult<()> {
    eprintln!("{}", run.announcement);
    run.record_command(&crate::cli::command_line());
    let (start, total) = run.steps();
    let mut progress = Progress::new(start, total);
    let result = run.run(&mut progress);
    progress.bar.finish_and_clear();
    let done = result?;
    match &done.outcome {
        RunOutcome::Finished(_) => {
            println!("{}", done.summary_line());
            Ok(())
        }
        RunOutcome::Interrupted(path) => Err(Failure::interrupted(format!(
            "interrupted at step {} of {total}; checkpoint {} written; continue with: scorelab train --resume --out {}",
            done.step,
            path.display(),
            out.display()
        ))),
    }
}

/// The flags of a new run as options.
fn train_options(args: &TrainArgs) -> TrainOptions {
    TrainOptions {
        data: data_options(&args.data),
        sde: sde_options(&args.sde),
        model: args.model.clone(),
        preset: args.preset.clone(),
        channels: args.channels,
        width: args.width,
        depth: args.depth,
        embedding: args.embedding,
        residual: args.residual,
        parameterisation: args.parameterisation.clone(),
        sigma_data: args.sigma_data,
        loss: args.loss.clone(),
        weighting: args.weighting.clone(),
        t_sampling: args.t_sampling.clone(),
        p_mean: args.p_mean,
        p_std: args.p_std,
        t_eps: args.t_eps,
        projections: args.projections,
        projection: args.projection.clone(),
        penalty: args.penalty.clone(),
        gamma: args.gamma,
        div_probes: args.div_probes,
        steps: args.steps,
        batch_size: args.batch_size,
        lr: args.lr,
        warmup: args.warmup,
        grad_clip: args.grad_clip,
        ema_decay: args.ema_decay,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        keep: args.keep,
        log_every: args.log_every,
        evaluation: evaluation_options(args),
    }
}

fn evaluation_options(args: &TrainArgs) -> EvaluationOptions {
    EvaluationOptions {
        every: args.eval_every,
        samples: args.eval_samples,
    }
}

pub fn run_command(args: &TrainArgs, matches: &ArgMatches) -> CliResult<()> {
    let explicit = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if !args.resume {
        let options = train_options(args);
        let (devices, list) = open_training_devices(&args.device, args.devices.as_deref())?;
        let run = start_training(&options, &args.out, args.force, &devices, &list.to_string())?;
        return drive(run, &args.out);
    }
    if let Some(id) = matches
        .ids()
        .map(|id| id.as_str())
        .find(|id| explicit(id) && !RESUMABLE.contains(id))
    {
        return Err(Failure::usage(format!(
            "--{} cannot be given with --resume: the run continues with the configuration saved in its checkpoint (only --steps, --checkpoint-every, --keep, --log-every, --device and --devices may change)",
            id.replace('_', "-")
        )));
    }
    let options = ResumeOptions {
        resume_from: args.resume_from,
        steps: explicit("steps").then_some(args.steps),
        checkpoint_every: explicit("checkpoint_every").then_some(args.checkpoint_every),
        keep: explicit("keep").then_some(args.keep),
        log_every: explicit("log_every").then_some(args.log_every),
        evaluation: evaluation_options(args),
    };
    let (devices, _) = open_training_devices(&args.device, args.devices.as_deref())?;
    match resume_training(&args.out, &options, &devices, &mut warn)? {
        Resumed::Run(run) => drive(*run, &args.out),
        Resumed::AlreadyDone(nothing_to_do) => {
            println!("{}", spell_options(&nothing_to_do, as_flag));
            Ok(())
        }
    }
}

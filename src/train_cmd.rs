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
use scorelab_jobs::{ResumeOptions, TrainingRun};
use scorelab_train::{Observer, RunOutcome, StepReport};

use crate::backend::open_training_devices;
use crate::cli::TrainArgs;
use crate::failure::{CliResult, Failure};
use crate::score_source::warn;

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

pub fn run_command(args: &TrainArgs, matches: &ArgMatches) -> CliResult<()> {
    let explicit = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if !args.resume {
        let options = &args.options;
        let (devices, list) = open_training_devices(&args.device, args.devices.as_deref())?;
        let run = start_training(options, &args.out, args.force, &devices, &list.to_string())?;
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
        steps: explicit("steps").then_some(args.options.steps),
        checkpoint_every: explicit("checkpoint_every").then_some(args.options.checkpoint_every),
        keep: explicit("keep").then_some(args.options.keep),
        log_every: explicit("log_every").then_some(args.options.log_every),
        evaluation: args.options.evaluation,
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

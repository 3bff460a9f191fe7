//! `scorelab sample`: the flags as a sampling job (`scorelab_jobs::sample_job`), with a
//! progress bar.

use indicatif::{ProgressBar, ProgressStyle};

use scorelab_core::BackendKind;
use scorelab_jobs::SampleJob;
use scorelab_sample::SamplerOptions;

use crate::backend::open_backend;
use crate::cli::SampleArgs;
use crate::failure::CliResult;
use crate::output::OutputDir;
use crate::score_source::warn;

pub fn progress_bar(steps: usize) -> ProgressBar {
    let bar = crate::progress::plain_when_not_a_terminal(ProgressBar::new(steps as u64));
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("sampling");
    bar
}

pub fn run(args: &SampleArgs) -> CliResult<()> {
    let backend = BackendKind::parse(&args.device);
    let job = SampleJob {
        score: args.source.clone(),
        sampler: SamplerOptions {
            denoise: args.denoise,
            ..args.integrator.clone()
        },
        record: args.record.clone(),
        n: args.n,
        keep_finite: args.keep_finite,
        no_clip: args.no_clip,
        device_name: backend.as_ref().map_or("", |b| b.name()).into(),
        command_line: crate::cli::command_line(),
    };
    let config = job.resolve()?;
    let device = open_backend(backend?)?;
    let prepared = job.prepare(config, &device, &mut warn)?;
    // Every argument is checked by now. The folder itself is created once the samples exist,
    // so an interrupted or failed run leaves no empty folder behind.
    OutputDir::check(&args.out, args.force)?;
    let bar = progress_bar(prepared.config.steps);
    let result = prepared.run(&mut |step| bar.set_position(step as u64), &mut warn);
    bar.finish_and_clear();
    let run = result?;
    run.write(&OutputDir::create(&args.out, args.force)?)?;
    println!("{}; wrote {}", run.headline(), args.out.display());
    Ok(())
}

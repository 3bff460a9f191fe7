//! `scorelab sample`: the flags as a sampling job (`scorelab_jobs::sample_job`), with a
//! progress bar.

use indicatif::{ProgressBar, ProgressStyle};

use scorelab_core::BackendKind;
use scorelab_jobs::SampleJob;
use scorelab_sample::{SamplerConfig, SamplerOptions};

use crate::backend::open_backend;
use crate::cli::{SampleArgs, SamplerArgs};
use crate::failure::CliResult;
use crate::output::OutputDir;
use crate::score_source::{score_options, warn};

/// The integrator flags as options, with the Tweedie step when `denoise`.
pub fn sampler_options(args: &SamplerArgs, denoise: bool) -> SamplerOptions {
    SamplerOptions {
        sampler: args.sampler.clone(),
        steps: args.steps,
        nfe: args.nfe,
        t_min: args.t_min,
        grid: args.grid.clone(),
        eps: args.eps,
        eta: args.eta,
        rtol: args.rtol,
        atol: args.atol,
        rho: args.rho,
        churn: args.churn,
        churn_sigma_min: args.churn_sigma_min,
        churn_sigma_max: args.churn_sigma_max,
        churn_noise: args.churn_noise,
        snr: args.snr,
        corrector_steps: args.corrector_steps,
        seed: args.seed,
        denoise,
    }
}

/// The sampler configuration described by the integrator flags, with the Tweedie step when
/// `denoise` (it counts towards --nfe).
pub fn sampler_config(args: &SamplerArgs, denoise: bool) -> CliResult<SamplerConfig> {
    Ok(sampler_options(args, denoise).resolve()?)
}

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
        score: score_options(&args.source),
        sampler: sampler_options(&args.integrator, args.denoise),
        prior: args.integrator.prior.clone(),
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

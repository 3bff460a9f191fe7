//! `scorelab forward`: the flags as a forward job (`scorelab_jobs::forward_job`).

use scorelab_jobs::forward_job::ForwardJob;

use crate::cli::ForwardArgs;
use crate::failure::CliResult;
use crate::output::OutputDir;
use crate::score_source::{data_options, sde_options};

pub fn run(args: &ForwardArgs) -> CliResult<()> {
    let job = ForwardJob {
        data: data_options(&args.data),
        sde: sde_options(&args.sde),
        times: args.times.clone(),
        n: args.n,
        seed: args.seed,
    };
    let prepared = job.prepare()?;
    let out = OutputDir::create(&args.out, args.force)?;
    println!("{}; wrote {}", prepared.run(&out)?, out.file("").display());
    Ok(())
}

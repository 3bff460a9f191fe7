//! `scorelab forward`: the flags as a forward job (`scorelab_jobs::forward_job`).

use crate::cli::ForwardArgs;
use crate::failure::CliResult;
use crate::output::OutputDir;

pub fn run(args: &ForwardArgs) -> CliResult<()> {
    let prepared = args.job.prepare()?;
    let out = OutputDir::create(&args.out, args.force)?;
    println!("{}; wrote {}", prepared.run(&out)?, out.file("").display());
    Ok(())
}

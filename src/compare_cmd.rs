//! `scorelab analyze compare`: the flags as a comparison (`scorelab_jobs::compare_job`).

use crate::analysis_io::{open, out_dir};
use crate::cli::CompareArgs;
use crate::failure::CliResult;
use crate::score_source::warn;

pub fn run(args: &CompareArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let comparison = args.job.run(&device, &mut warn)?;
    let out = out_dir(&args.output, "compare")?;
    comparison.write(&out)?;
    comparison.lines.iter().for_each(|line| println!("{line}"));
    println!("wrote {}", out.file("").display());
    Ok(())
}

//! `scorelab analyze cells`: the flags as a cells job (`scorelab_jobs::cells_job`).

use crate::analysis_io::{open, out_dir};
use crate::cli::CellsArgs;
use crate::failure::CliResult;
use crate::sample_cmd::progress_bar;
use crate::score_source::warn;

pub fn run(args: &CellsArgs) -> CliResult<()> {
    let job = &args.job;
    job.check()?;
    let device = open(&args.output)?;
    let prepared = job.prepare(&device, &mut warn)?;
    let out = out_dir(&args.output, "cells")?;
    let bar = progress_bar(prepared.config.steps);
    let line = prepared.run(&out, &device, &mut |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    println!("{}; wrote {}", line?, out.file("").display());
    Ok(())
}

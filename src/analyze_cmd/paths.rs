//! `analyze paths`, `rate` and `tmin`: the flags as path jobs (`scorelab_jobs::path_jobs`).

use scorelab_analysis::paths::PATH_TABLE_COLUMNS;

use super::*;

pub(super) fn paths(args: &PathsArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &PATH_TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let job = &args.job;
    let prepared = job.prepare(&device, &mut warn)?;
    let out = out_dir(&args.output, "paths")?;
    let bar = progress_bar(prepared.total_steps());
    let report = prepared.run(&out, &device, &mut |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    let report = report?;
    if let Some((table, label)) = &table {
        table.append(&report.table_row(label))?;
    }
    println!("{}; wrote {}", report.headline(), out.file("").display());
    Ok(())
}

pub(super) fn rate(args: &RateArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let job = &args.job;
    let prepared = job.prepare(&device)?;
    let out = out_dir(&args.output, "rate")?;
    let bar = progress_bar(job.steps);
    let report = prepared.run(&out, &device, &mut |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    println!("{}; wrote {}", report?.headline(), out.file("").display());
    Ok(())
}

pub(super) fn tmin(args: &TminArgs) -> CliResult<()> {
    let device = open(&args.output)?;
    let job = &args.job;
    let prepared = job.prepare(&device, &mut warn)?;
    let out = out_dir(&args.output, "tmin")?;
    let prepared = prepared.with_quality(&device, &mut warn)?;
    let bar = progress_bar(prepared.total_steps());
    let report = prepared.run(&out, &device, &mut |k| bar.set_position(k as u64));
    bar.finish_and_clear();
    report?.lines().iter().for_each(|line| println!("{line}"));
    println!("wrote {}", out.file("").display());
    Ok(())
}

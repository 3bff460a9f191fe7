//! `scorelab plot`: the flags as a plot (`scorelab_jobs::plot_job`).

use scorelab_jobs::plot_job::PlotJob;

use crate::cli::PlotArgs;
use crate::failure::CliResult;

pub fn run(args: &PlotArgs) -> CliResult<()> {
    let job = PlotJob {
        csv: args.csv.clone(),
        x: args.x.clone(),
        y: args.y.clone(),
        log_x: args.log_x,
        log_y: args.log_y,
        title: args.title.clone(),
        out: args.out.clone(),
    };
    job.run()?;
    println!("wrote {}", args.out.display());
    Ok(())
}

//! `analyze memorization`: the flags as a memorisation job (`scorelab_jobs::memorization_job`)
//! and its summary-table row.

use scorelab_jobs::memorization_job::TABLE_COLUMNS;

use super::*;

pub(super) fn memorization(args: &MemorizationArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let loaded = args.job.load()?;
    let out = out_dir(&args.output, "memorization")?;
    let measured = loaded.measure(&device, &mut warn)?;
    measured.write(&out)?;
    if let Some((table, label)) = &table {
        table.append(&measured.table_row(label))?;
    }
    println!("{}; wrote {}", measured.headline(), out.file("").display());
    Ok(())
}

//! `scorelab bench`: the flags as benchmark options (`scorelab_jobs::bench`), one JSON line
//! per workload on stdout.

use scorelab_core::BackendKind;
use scorelab_jobs::bench::{BenchDevices, TrainingDevices, Workload};

use crate::backend::{open_backend, open_training_devices};
use crate::cli::BenchArgs;
use crate::failure::CliResult;

/// Runs the workloads; `--threads` sized the pool before (`crate::compute_pool`).
pub fn run(args: &BenchArgs) -> CliResult<()> {
    let options = &args.options;
    options.check()?;
    let workloads = Workload::parse_list(&args.workload)?;
    for workload in workloads {
        let records = if workload.trains() {
            let (devices, list) = open_training_devices(&args.device, args.devices.as_deref())?;
            let on = TrainingDevices {
                devices: &devices,
                list: &list.to_string(),
                backend: list.backend().backend_name(),
            };
            options.run_training(workload, &on)?
        } else {
            let backend = BackendKind::parse(&args.device)?;
            let device = open_backend(backend)?;
            let on = BenchDevices {
                device: &device,
                backend: backend.name(),
            };
            vec![options.run(workload, &on)?]
        };
        records.iter().for_each(|record| println!("{record}"));
    }
    Ok(())
}

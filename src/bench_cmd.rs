//! `scorelab bench`: the flags as benchmark options (`scorelab_jobs::bench`), one JSON line
//! per workload on stdout.

use scorelab_core::BackendKind;
use scorelab_jobs::bench::{BenchDevices, TrainingDevices, Workload};

use crate::backend::{open_backend, open_training_devices};
use crate::cli::BenchArgs;
use crate::failure::{CliResult, Failure};

pub fn run(args: &BenchArgs) -> CliResult<()> {
    let options = &args.options;
    options.check()?;
    let workloads = Workload::parse_list(&args.workload)?;
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(Failure::usage("invalid parameter threads: must be >= 1"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Failure::runtime(format!("cannot set up {threads} threads: {e}")))?;
    }
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

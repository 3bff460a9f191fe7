//! `scorelab bench`: the flags as benchmark options (`scorelab_jobs::bench`), one JSON line
//! per workload on stdout.

use scorelab_core::BackendKind;
use scorelab_jobs::bench::{BenchDevices, BenchOptions, TrainingDevices, Workload};

use crate::backend::{open_backend, open_training_devices};
use crate::cli::BenchArgs;
use crate::failure::{CliResult, Failure};

pub fn run(args: &BenchArgs) -> CliResult<()> {
    let options = BenchOptions {
        samples: args.samples,
        sample_steps: args.sample_steps,
        train_steps: args.train_steps,
        unet_steps: args.unet_steps,
        reps: args.reps,
        mnist_dir: args.mnist_dir.clone(),
        data_chunk: args.data_chunk,
        query_chunk: args.query_chunk,
    };
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

//! `scorelab bench`: timed workloads of DESIGN §8 that exist so far (W3, the empirical score).

use std::time::Instant;

use serde_json::json;

use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{open_device, BackendKind, EmpiricalScore, ScoreFn, Sde, Times};

use crate::cli::BenchArgs;
use crate::failure::{CliResult, Failure};

/// W3: empirical score of N = 60,000 MNIST training images (d = 784) at 1,000 query points and
/// one τ; reports the median wall time over `reps` runs after one warm-up, and GFLOP/s counted
/// as 4·M·N·d (the two matrix products).
fn w3(args: &BenchArgs) -> CliResult<()> {
    let backend = BackendKind::parse(&args.device)?;
    let device = open_device(backend)?;
    let data = load_mnist(
        &crate::sample_cmd::mnist_dir(&args.mnist_dir),
        MnistSplit::Train,
    )?;
    let queries = load_mnist(
        &crate::sample_cmd::mnist_dir(&args.mnist_dir),
        MnistSplit::Test,
    )?
    .subset(1000, 0);
    let (m, n, d) = (queries.n, data.n, data.dim);
    let sde = Sde::vp(0.1, 20.0, 1.0)?;
    let score = EmpiricalScore::with_chunks(
        data.to_tensor(&device),
        sde,
        args.query_chunk,
        args.data_chunk,
    )?;
    let x = tensor_from_rows(&queries.points, m, d, &device);
    let mut times = Vec::new();
    for rep in 0..=args.reps {
        let started = Instant::now();
        let s = score.score(x.clone(), &Times::Same(0.1));
        let values = to_vec(s);
        let seconds = started.elapsed().as_secs_f64();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Failure::runtime("W3 produced non-finite scores"));
        }
        if rep > 0 {
            times.push(seconds);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let flops = 4.0 * m as f64 * n as f64 * d as f64;
    println!(
        "{}",
        json!({
            "workload": "W3",
            "device": backend.name(),
            "threads": std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1),
            "n_train": n, "dim": d, "queries": m,
            "query_chunk": args.query_chunk, "data_chunk": args.data_chunk,
            "seconds_median": median,
            "seconds_all": times,
            "gflops": flops / median / 1e9,
        })
    );
    Ok(())
}

pub fn run(args: &BenchArgs) -> CliResult<()> {
    match args.workload.as_str() {
        "w3" | "W3" => w3(args),
        other => Err(Failure::usage(format!(
            "unknown workload '{other}' (available: w3)"
        ))),
    }
}

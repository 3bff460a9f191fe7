//! `scorelab bench`: the timed workloads of DESIGN §8.

use std::time::Instant;

use serde_json::json;

use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::{open_device, BackendKind, DatasetSpec, EmpiricalScore, ScoreFn, Sde, Times};
use scorelab_sample::{sample, SamplerConfig, SamplerKind, TauGrid};
use scorelab_train::adam::AdamConfig;
use scorelab_train::{
    DataInfo, LossConfig, LossKind, Mlp, MlpConfig, ModelConfig, NetworkScore, Parameterisation,
    TrainConfig, Trainer,
};

use crate::cli::BenchArgs;
use crate::failure::{CliResult, Failure};

/// W3: empirical score of N = 60,000 MNIST training images (d = 784) at 1,000 query points and
/// one τ; reports the median wall time over `reps` runs after one warm-up, and GFLOP/s counted
/// as 4·M·N·d (the two matrix products).
fn w3(args: &BenchArgs) -> CliResult<()> {
    let backend = BackendKind::parse(&args.device)?;
    let device = open_device(backend)?;
    let data = load_mnist(
        &crate::score_source::shipped_path(&args.mnist_dir),
        MnistSplit::Train,
    )?;
    let queries = load_mnist(
        &crate::score_source::shipped_path(&args.mnist_dir),
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

/// A trainer of the W1 network (Swiss roll, 10,000 points, vp, MLP 2 ⊕ 32 → 256 → 256 → 256
/// → 2, λ = σ², Adam 1e-3, batch 1024, t_eps 1e-3, output = score as in the peer) with `loss`.
fn w1_trainer(device: &burn::tensor::Device, loss: LossKind) -> CliResult<Trainer<Mlp>> {
    let autodiff = device.clone().autodiff();
    let spec = DatasetSpec::Swissroll {
        n: 10_000,
        noise: 0.0,
    };
    let data = spec.load(0)?;
    let sde = Sde::vp(0.1, 20.0, 1.0)?;
    let model = MlpConfig::new(2);
    let mut loss_config = LossConfig::new(loss, &sde);
    loss_config.t_eps = 1e-3;
    let config = TrainConfig {
        model: ModelConfig::Mlp(model.clone()),
        parameterisation: Parameterisation::Score,
        loss: loss_config,
        adam: AdamConfig::default(),
        ema_decay: 0.999,
        batch_size: 1024,
        steps: u64::MAX,
        seed: 0,
        checkpoint_every: 0,
        keep: 1,
        log_every: 1,
    };
    let info = DataInfo::describe(spec, 0, &data);
    let net = model.init(0, &autodiff)?;
    Ok(Trainer::new(config, sde, &data, info, net, &autodiff)?)
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
}

/// Training steps per second of the W1 network with `loss`: the median over `reps`
/// repetitions of `train_steps` steps, after 20 warm-up steps.
fn training_rate(args: &BenchArgs, workload: &str, loss: LossKind) -> CliResult<()> {
    let backend = BackendKind::parse(&args.device)?;
    let device = open_device(backend)?;
    let mut trainer = w1_trainer(&device, loss)?;
    let mut rates = Vec::new();
    let mut last_loss = f64::NAN;
    for rep in 0..=args.reps {
        let steps = if rep == 0 { 20 } else { args.train_steps };
        let started = Instant::now();
        for _ in 0..steps {
            last_loss = trainer.step()?.loss;
        }
        if rep > 0 {
            rates.push(steps as f64 / started.elapsed().as_secs_f64());
        }
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "workload": workload,
            "loss": loss.name(),
            "device": backend.name(),
            "threads": threads(),
            "batch": 1024,
            "steps_per_rep": args.train_steps,
            "steps_per_s_median": rates[rates.len() / 2],
            "steps_per_s_all": rates,
            "final_loss": last_loss,
        })
    );
    Ok(())
}

/// W2: the W1 network after 300 untimed dsm steps (as the peer does), 10,000 samples,
/// 1,000 Euler–Maruyama steps on a uniform grid from T to t_min = 1e-3: wall time of one run
/// after a short warm-up.
fn w2(args: &BenchArgs) -> CliResult<()> {
    let backend = BackendKind::parse(&args.device)?;
    let device = open_device(backend)?;
    let mut trainer = w1_trainer(&device, LossKind::Dsm)?;
    for _ in 0..300 {
        trainer.step()?;
    }
    let score = NetworkScore::new(
        trainer.network(),
        trainer.sde.clone(),
        Parameterisation::Score,
    );
    let mut config = SamplerConfig::new(SamplerKind::EulerMaruyama, args.sample_steps, 1e-3);
    config.grid = TauGrid::Uniform;
    let mut warm = config.clone();
    warm.steps = 5;
    sample(&score, &warm, args.samples, &device, &mut |_| {})?;
    let started = Instant::now();
    let out = sample(&score, &config, args.samples, &device, &mut |_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "workload": "W2",
            "device": backend.name(),
            "threads": threads(),
            "samples": args.samples,
            "steps": args.sample_steps,
            "wall_s": seconds,
            "nonfinite_samples": out.nonfinite_rows.len(),
        })
    );
    Ok(())
}

pub fn run(args: &BenchArgs) -> CliResult<()> {
    if args.reps == 0 || args.train_steps == 0 {
        return Err(Failure::usage("--reps and --train-steps must be >= 1"));
    }
    match args.workload.to_lowercase().as_str() {
        "w1" => training_rate(args, "W1", LossKind::Dsm),
        "w2" => w2(args),
        "w3" => w3(args),
        "w4" => {
            training_rate(args, "W4", LossKind::Ssm)?;
            training_rate(args, "W4", LossKind::Hyvarinen)
        }
        "all" => {
            training_rate(args, "W1", LossKind::Dsm)?;
            w2(args)?;
            w3(args)?;
            training_rate(args, "W4", LossKind::Ssm)?;
            training_rate(args, "W4", LossKind::Hyvarinen)
        }
        other => Err(Failure::usage(format!(
            "unknown workload '{other}' (available: w1, w2, w3, w4, all)"
        ))),
    }
}

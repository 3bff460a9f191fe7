//! The U-Net: shapes of every preset, forward-mode JVPs of each block against central
//! differences, the ssm parameter gradient, a short MNIST training run and a checkpoint round
//! trip.
//!
//! JVP tolerances: everything runs in f32 with a central difference of step h = 1e-2, whose
//! truncation (O(h²)) and rounding (O(1e-7/h)) errors are ≲ 1e-4 relative for these smooth
//! blocks; the bound 3e-3 on the max-norm error relative to the largest entry leaves a wide
//! margin while a wrong derivative (e.g. GroupNorm without its mean terms) errs by > 10%.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_distr::StandardNormal;

use common::*;
use scorelab_core::datasets::MnistSplit;
use scorelab_core::{DatasetSpec, ScoreFn, Sde, Times};
use scorelab_train::loss::{evaluate, Batch, LossConfig, LossKind, Penalty};
use scorelab_train::unet::{upsample2, Attention, Conv, GroupNorm, ResBlock};
use scorelab_train::{
    load_score, run, ModelConfig, NetworkScore, Observer, Parameterisation, ScoreNetwork, Trainer,
    UNet, UNetConfig,
};

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

const H: f32 = 1e-2;
const TOL: f64 = 3e-3;

fn randn<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let mut r = rng(seed);
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| r.sample(StandardNormal)).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Checks `jvp(x, v)` against (f(x + h v_k) − f(x − h v_k)) / 2h for each of the K blocks of v.
fn check_jvp(
    name: &str,
    f: &dyn Fn(Tensor<4>) -> Tensor<4>,
    jvp: &dyn Fn(Tensor<4>, Tensor<4>) -> (Tensor<4>, Tensor<4>),
    x: Tensor<4>,
    v: Tensor<4>,
) {
    let [b, _, _, _] = x.dims();
    let [kb, _, _, _] = v.dims();
    let (y, dy) = jvp(x.clone(), v.clone());
    assert!(
        rel_max_diff(&values(f(x.clone())), &values(y)) < 1e-5,
        "{name}: primal differs"
    );
    let dy = values(dy);
    let per = dy.len() / (kb / b);
    for k in 0..kb / b {
        let vk = v.clone().narrow(0, k * b, b);
        let plus = values(f(x.clone() + vk.clone() * H));
        let minus = values(f(x.clone() - vk * H));
        let fd: Vec<f32> = plus
            .iter()
            .zip(&minus)
            .map(|(p, m)| (p - m) / (2.0 * H))
            .collect();
        let err = rel_max_diff(&fd, &dy[k * per..(k + 1) * per]);
        assert!(err < TOL, "{name}, tangent block {k}: error {err}");
    }
}

#[test]
fn every_block_has_the_right_jvp() {
    let device = cpu();
    let mut r = rng(1);
    let x = randn([3, 8, 6, 6], 2, &device);
    let v = randn([6, 8, 6, 6], 3, &device); // K = 2 tangent blocks

    // a GroupNorm with a non-trivial affine part
    let gn = GroupNorm {
        gamma: burn::module::Param::from_tensor(randn([8], 4, &device)),
        beta: burn::module::Param::from_tensor(randn([8], 5, &device)),
        groups: 2,
    };
    check_jvp(
        "groupnorm",
        &|x| gn.forward(x),
        &|x, v| gn.jvp(x, v),
        x.clone(),
        v.clone(),
    );

    let conv = Conv::init(8, 4, 3, 2, 1.0, &mut r, &device);
    check_jvp(
        "strided conv",
        &|x| conv.forward(x),
        &|x, v| (conv.forward(x), conv.tangent(v)),
        x.clone(),
        v.clone(),
    );
    check_jvp(
        "upsample",
        &upsample2,
        &|x, v| (upsample2(x), upsample2(v)),
        x.clone(),
        v.clone(),
    );

    let temb = randn([3, 12], 6, &device);
    for (name, outputs) in [("resblock", 8), ("resblock with 1×1 skip", 16)] {
        let block = ResBlock::init(8, outputs, 12, 4, &mut r, &device);
        check_jvp(
            name,
            &|x| block.forward(x, temb.clone()),
            &|x, v| block.jvp(x, v, temb.clone()),
            x.clone(),
            v.clone(),
        );
    }

    let attention = Attention::init(8, 2, &mut r, &device);
    check_jvp(
        "attention",
        &|x| attention.forward(x),
        &|x, v| attention.jvp(x, v),
        x.clone(),
        v.clone(),
    );
}

fn micro_unet(attention: bool) -> UNetConfig {
    UNetConfig {
        image: [1, 8, 8],
        channels: 4,
        multipliers: vec![1, 2],
        blocks: 1,
        groups: 2,
        attention,
        embedding: 8,
    }
}

#[test]
fn whole_unet_jvp_matches_central_difference() {
    let device = cpu();
    let net: UNet = micro_unet(true).init(3, &device).unwrap();
    let t = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, 0.7], [2, 1]), &device);
    let x = randn([2, 64], 4, &device);
    let v = randn([4, 64], 5, &device);
    let to4 = |x: Tensor<2>| {
        let [n, _] = x.dims();
        x.reshape([n, 1, 8, 8])
    };
    let to2 = |x: Tensor<4>| {
        let [n, _, _, _] = x.dims();
        x.reshape([n, 64])
    };
    check_jvp(
        "unet",
        &|x| to4(net.forward(to2(x), t.clone())),
        &|x, v| {
            let (y, dy) = net.forward_jvp(to2(x), t.clone(), to2(v));
            (to4(y), to4(dy))
        },
        to4(x),
        to4(v),
    );
}

#[test]
fn presets_map_28x28_images_to_28x28_images() {
    let device = cpu();
    for preset in ["tiny", "small", "base"] {
        let config = UNetConfig::preset(preset, [1, 28, 28]).unwrap();
        let net = config.init(0, &device).unwrap();
        let x = randn([2, 784], 1, &device);
        let t = Tensor::<2>::from_data(TensorData::new(vec![0.1f32, 0.9], [2, 1]), &device);
        let y = net.forward(x.clone(), t.clone());
        assert_eq!(y.dims(), [2, 784], "{preset}");
        let (_, dy) = net.forward_jvp(x, t, randn([6, 784], 2, &device));
        assert_eq!(dy.dims(), [6, 784], "{preset}");
        assert!(values(y).iter().all(|v| v.is_finite()));
        assert_eq!(net.attention.is_some(), preset != "tiny");
    }
    assert!(UNetConfig::preset("huge", [1, 28, 28]).is_err());
    let mut odd = UNetConfig::preset("tiny", [1, 28, 28]).unwrap();
    odd.multipliers = vec![1, 2, 2, 2]; // 28 → 14 → 7 → 3.5
    assert!(odd.init(0, &device).is_err());
}

#[test]
fn ssm_and_penalty_gradients_of_a_tiny_unet_match_finite_differences() {
    let device = cpu();
    let autodiff = device.clone().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let points: Vec<f32> = values(randn([16, 64], 9, &device));
    let mut ssm = LossConfig::new(LossKind::Ssm, &sde);
    ssm.t_eps = 0.2;
    let mut penalised = LossConfig::new(LossKind::Dsm, &sde);
    penalised.t_eps = 0.2;
    penalised.penalty = Penalty::Full;
    penalised.gamma = 1e-3;
    penalised.divergence_probes = 2;
    for (name, config) in [("ssm", ssm), ("dsm+full (Hutchinson)", penalised)] {
        let batch = Batch::draw(&points, 64, 4, &config, &sde, &mut rng(3));
        let net: UNet = micro_unet(true).init(2, &autodiff).unwrap();
        let loss = |net: &UNet| {
            let device = net.conv_in.weight.val().device();
            evaluate(net, Parameterisation::Eps, &sde, &config, &batch, &device).total
        };
        let check = GradientCheck::new(&net, &loss);
        let largest = check
            .grads
            .iter()
            .flatten()
            .fold(0f32, |m, g| m.max(g.abs()));
        // the largest entry of a few parameter tensors spread over the network
        let count = check.grads.len();
        for p in [0, count / 3, count / 2, count - 2] {
            let j = check.largest_entry(p);
            let fd = check.central_difference(p, j, H, &loss, &device);
            let grad = check.grads[p][j];
            assert!(
                (fd - grad).abs() < 2e-2 * largest.max(1e-3),
                "{name}: parameter {p}[{j}]: backprop {grad} vs finite difference {fd}"
            );
        }
    }
}

struct Quiet;
impl Observer for Quiet {}

/// 150 steps of the tiny preset (8 channels, batch 16) on 256 MNIST digits lower the dsm loss
/// (per image, summed over 784 pixels) from ≈ 780 to below half of it; the checkpoint then
/// reloads to the same score.
#[test]
fn short_mnist_training_lowers_the_loss_and_round_trips() {
    let device = cpu();
    let autodiff = device.clone().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let dir = manifest_dir().join("../../datasets/mnist");
    let spec = DatasetSpec::Mnist {
        dir,
        split: MnistSplit::Train,
        n: Some(256),
        part: None,
    };
    let data = spec.load(0).unwrap();
    let mut model = UNetConfig::preset("tiny", [1, 28, 28]).unwrap();
    model.channels = 8;
    let mut config = train_config(small_mlp(784, false), LossKind::Dsm, &sde, 150);
    config.model = ModelConfig::Unet(model.clone());
    config.parameterisation = Parameterisation::Eps;
    config.batch_size = 16;
    config.adam.lr = 2e-3;
    config.loss.t_eps = 1e-3;
    let net = model.init(1, &autodiff).unwrap();
    let mut trainer = Trainer::new(
        config,
        sde.clone(),
        &data,
        data_info(spec, 0, &data),
        net,
        &autodiff,
    )
    .unwrap();
    let first: f64 = (0..10).map(|_| trainer.step().unwrap().loss).sum::<f64>() / 10.0;
    let dir = tempfile::tempdir().unwrap();
    run(&mut trainer, dir.path(), &mut Quiet).unwrap();
    let text = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    let last: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let tail = last[last.len() - 10..].iter().sum::<f64>() / 10.0;
    eprintln!("mean loss of the first 10 steps {first:.1}, of the last 10 {tail:.1}");
    assert!(last.iter().all(|l| l.is_finite()));
    assert!(tail < 0.5 * first, "loss {first} → {tail}");

    let (score, meta) = load_score(dir.path(), &device).unwrap();
    assert_eq!(meta.model(), &ModelConfig::Unet(model));
    let x = randn([3, 784], 7, &device);
    let t = Times::Each(vec![0.05, 0.5, 0.9]);
    let direct = NetworkScore::new(trainer.ema_network(), sde, Parameterisation::Eps);
    assert_eq!(
        values(score.score(x.clone(), &t)),
        values(direct.score(x, &t))
    );
}

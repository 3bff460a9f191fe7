//! The trainers of the training workloads: W1 (and W4), the Swiss-roll MLP, and W5, the
//! tiny MNIST U-Net, each with the peer's configuration.

use super::*;

/// A run configuration that never checkpoints or stops (EMA 0.999, seed 0), as the peer's
/// training loops.
fn bench_config(
    model: ModelConfig,
    parameterisation: Parameterisation,
    loss: LossConfig,
    adam: AdamConfig,
    batch_size: usize,
) -> TrainConfig {
    TrainConfig {
        model,
        parameterisation,
        loss,
        adam,
        ema_decay: 0.999,
        ema_bias_correction: false,
        batch_size,
        steps: u64::MAX,
        seed: 0,
        checkpoint_every: 0,
        keep: 1,
        log_every: 1,
    }
}

/// Batch size of the training workloads.
pub(super) const W1_BATCH: usize = 1024;

/// A trainer of the W1 network (Swiss roll, 10,000 points, vp, MLP 2 ⊕ 32 → 256 → 256 → 256
/// → 2, λ = σ², Adam 1e-3, batch 1024, t_eps 1e-3, output = score as in the peer) with `loss`.
pub(super) fn w1_trainer(device: &burn::tensor::Device, loss: LossKind) -> Result<Trainer<Mlp>> {
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
    let config = bench_config(
        ModelConfig::Mlp(model.clone()),
        Parameterisation::Score,
        loss_config,
        AdamConfig::default(),
        W1_BATCH,
    );
    let info = DataInfo::describe(spec, 0, &data);
    let net = model.init(0, &autodiff)?;
    Ok(Trainer::new(config, sde, &data, info, net, &autodiff)?)
}

/// The batch of W5, that of the reference tiny U-Net.
pub(super) const W5_BATCH: usize = 64;

/// Untimed W5 steps before the timed ones.
pub(super) const W5_WARMUP_STEPS: u64 = 5;

/// The trainer of W5: the recipe of `checkpoints/mnist-unet-tiny`
/// (`examples/configs/train-mnist-unet-tiny.toml`: tiny U-Net, dsm with λ = σ², eps output,
/// vp, batch 64, Adam at 1e-3 after 200 warm-up steps, clipping at norm 1, EMA 0.999) on the
/// 60,000 MNIST training images.
pub(super) fn w5_trainer(
    options: &BenchOptions,
    device: &burn::tensor::Device,
) -> Result<Trainer<UNet>> {
    let autodiff = device.clone().autodiff();
    let spec = DatasetSpec::Mnist {
        dir: shipped_path(&options.mnist_dir),
        split: MnistSplit::Train,
        n: None,
        part: None,
    };
    let data = spec.load(0)?;
    let sde = Sde::vp(0.1, 20.0, 1.0)?;
    let image = data
        .image_shape
        .ok_or_else(|| JobError::failed("the MNIST files gave no image shape"))?;
    let model = UNetConfig::preset("tiny", image)?;
    let adam = AdamConfig {
        warmup: 200,
        grad_clip: Some(1.0),
        ..AdamConfig::default()
    };
    let loss = LossConfig::new(LossKind::Dsm, &sde);
    let config = bench_config(
        ModelConfig::Unet(model.clone()),
        Parameterisation::Eps,
        loss,
        adam,
        W5_BATCH,
    );
    let info = DataInfo::describe(spec, 0, &data);
    let net = model.init(0, &autodiff)?;
    Ok(Trainer::new(config, sde, &data, info, net, &autodiff)?)
}

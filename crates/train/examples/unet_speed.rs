use burn::tensor::Device;
use scorelab_core::{DatasetSpec, Sde};
use scorelab_core::datasets::MnistSplit;
use scorelab_train::adam::AdamConfig;
use scorelab_train::*;
fn main() {
    let preset = std::env::args().nth(1).unwrap_or("tiny".into());
    let batch: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(64);
    let loss = std::env::args().nth(3).unwrap_or("dsm".into());
    let device = Device::flex().autodiff();
    let spec = DatasetSpec::Mnist { dir: "datasets/mnist".into(), split: MnistSplit::Train, n: Some(1000) };
    let data = spec.load(0).unwrap();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let model = UNetConfig::preset(&preset, [1, 28, 28]).unwrap();
    let config = TrainConfig { model: ModelConfig::Unet(model.clone()), parameterisation: Parameterisation::Eps,
        loss: LossConfig::new(LossKind::parse(&loss).unwrap(), &sde), adam: AdamConfig::default(), ema_decay: 0.999, batch_size: batch,
        steps: 1000, seed: 0, checkpoint_every: 0, keep: 1, log_every: 1 };
    let info = DataInfo::describe(spec, 0, &data);
    let net = model.init(0, &device).unwrap();
    println!("params {}", burn::module::Module::num_params(&net));
    let mut tr = Trainer::new(config, sde, &data, info, net, &device).unwrap();
    tr.step().unwrap();
    let t = std::time::Instant::now();
    let n = 5;
    for _ in 0..n { let r = tr.step().unwrap(); println!("loss {}", r.loss); }
    let s = t.elapsed().as_secs_f64() / n as f64;
    println!("{preset} batch {batch}: {:.3} s/step, {:.1} images/s", s, batch as f64 / s);
}

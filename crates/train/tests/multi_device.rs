//! Data-parallel training over several devices of one process (burn-train's MultiDevice
//! pattern): the same run as one device, a wrong gradient combination caught, and a stopped
//! two-device run resumed on one device.
//!
//! Tolerances: the split changes only the order of float32 sums (two half-batch gradients
//! added instead of one batch gradient), a relative change of order 1e-7 per step. After Adam's
//! normalisation a weight moves by at most lr = 1e-3 per step, so over 6 steps the replicas
//! stay within 1e-5 of one device in every weight (and 1e-5 relative in loss and gradient
//! norm), while any wrong combination moves weights by a sizeable fraction of lr per step.

mod common;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;

use common::*;
use scorelab_core::{DatasetSpec, Sde};
use scorelab_train::loss::LossKind;
use scorelab_train::multi_device::combine_on_main_device;
use scorelab_train::params::flatten;
use scorelab_train::{run, Mlp, MlpConfig, Observer, StepReport, Trainer};

const WEIGHT_TOLERANCE: f64 = 1e-5;
const REPORT_TOLERANCE: f64 = 1e-5;

struct Quiet;
impl Observer for Quiet {}

/// Stops the run once `.0` steps have been taken.
struct StopAt(u64, u64);
impl Observer for StopAt {
    fn on_step(&mut self, r: &StepReport) {
        self.1 = r.step;
    }
    fn interrupted(&self) -> bool {
        self.1 >= self.0
    }
}

/// The W1 network (MLP 2 ⊕ 32 → 256 → 256 → 256 → 2) on 2,000 Swiss-roll points under vp.
fn w1_trainer(kind: LossKind, steps: u64, batch: usize) -> Trainer<Mlp> {
    let device = cpu().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let spec = DatasetSpec::Swissroll {
        n: 2000,
        noise: 0.0,
    };
    let data = spec.load(0).unwrap();
    let model = MlpConfig::new(2);
    let mut config = train_config(model.clone(), kind, &sde, steps);
    config.batch_size = batch;
    config.checkpoint_every = 3;
    let net: Mlp = model.init(11, &device).unwrap();
    Trainer::new(config, sde, &data, data_info(spec, 0, &data), net, &device).unwrap()
}

fn replicas(count: usize) -> Vec<Device> {
    (1..count).map(|_| cpu().autodiff()).collect()
}

fn weights(trainer: &Trainer<Mlp>) -> Vec<f32> {
    flatten(&trainer.network())
        .into_iter()
        .chain(flatten(&trainer.ema_network()))
        .flat_map(values)
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

/// Runs `steps` steps and returns every report and the final weights (raw and EMA).
fn trajectory(mut trainer: Trainer<Mlp>, steps: u64) -> (Vec<StepReport>, Vec<f32>) {
    let reports = (0..steps).map(|_| trainer.step().unwrap()).collect();
    (reports, weights(&trainer))
}

/// The largest deviation of a run from the reference: (reports, weights).
fn deviation(
    reference: &(Vec<StepReport>, Vec<f32>),
    other: &(Vec<StepReport>, Vec<f32>),
) -> (f64, f64) {
    let reports = reference
        .0
        .iter()
        .zip(&other.0)
        .flat_map(|(a, b)| {
            [
                relative(a.loss, b.loss),
                relative(a.matching, b.matching),
                relative(a.grad_norm, b.grad_norm),
            ]
        })
        .fold(0.0, f64::max);
    (reports, max_abs_diff(&reference.1, &other.1))
}

#[test]
fn two_and_three_cpu_devices_train_as_one() {
    for kind in [LossKind::Dsm, LossKind::Ssm, LossKind::Hyvarinen] {
        let steps = 6;
        let one = trajectory(w1_trainer(kind, steps, 64), steps);
        for count in [2, 3] {
            let trainer = w1_trainer(kind, steps, 64)
                .with_replicas(replicas(count))
                .unwrap();
            assert_eq!(trainer.device_count(), count);
            let many = trajectory(trainer, steps);
            let (reports, weights) = deviation(&one, &many);
            eprintln!("{kind:?}, {count} devices: reports {reports:e}, weights {weights:e}");
            assert!(
                reports <= REPORT_TOLERANCE && weights <= WEIGHT_TOLERANCE,
                "{kind:?} on {count} devices: reports differ by {reports:e} (relative), weights by {weights:e}"
            );
        }
    }
}

/// Only the main device's gradient: the other shards are lost.
fn main_device_only(
    module: &Mlp,
    main: &Device,
    mut parts: Vec<GradientsParams>,
) -> GradientsParams {
    parts.truncate(1);
    combine_on_main_device(module, main, parts)
}

/// The mean of the shard gradients, although each already carries its weight n_r/B.
fn averaged_twice(module: &Mlp, main: &Device, parts: Vec<GradientsParams>) -> GradientsParams {
    let count = parts.len() as f64;
    let sum = combine_on_main_device(module, main, parts);
    let mut out = GradientsParams::new();
    struct Scale<'a>(&'a GradientsParams, &'a mut GradientsParams, f64);
    impl burn::module::ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            if let Some(g) = self.0.get::<D>(param.id) {
                self.1.register::<D>(param.id, g / self.2);
            }
        }
    }
    module.visit(&mut Scale(&sum, &mut out, count));
    out
}

#[test]
fn a_wrong_gradient_combination_is_caught() {
    let steps = 6;
    let one = trajectory(w1_trainer(LossKind::Dsm, steps, 64), steps);
    for (name, combine) in [
        (
            "main device only",
            main_device_only as scorelab_train::multi_device::Combine<Mlp>,
        ),
        ("averaged twice", averaged_twice),
    ] {
        let trainer = w1_trainer(LossKind::Dsm, steps, 64)
            .with_replicas(replicas(2))
            .unwrap()
            .with_gradient_combination(combine);
        let (reports, weights) = deviation(&one, &trajectory(trainer, steps));
        eprintln!("{name}: reports {reports:e}, weights {weights:e}");
        assert!(
            reports > 100.0 * REPORT_TOLERANCE || weights > 10.0 * WEIGHT_TOLERANCE,
            "{name}: the comparison must fail (reports {reports:e}, weights {weights:e})"
        );
    }
}

#[test]
fn a_stopped_two_device_run_resumes_on_one_device() {
    let steps = 8;
    let uninterrupted = tempfile::tempdir().unwrap();
    let mut one = w1_trainer(LossKind::Dsm, steps, 64);
    run(&mut one, uninterrupted.path(), &mut Quiet).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut two = w1_trainer(LossKind::Dsm, steps, 64)
        .with_replicas(replicas(2))
        .unwrap();
    run(&mut two, dir.path(), &mut StopAt(4, 0)).unwrap();
    let ckpt = scorelab_train::checkpoint::resolve(dir.path()).unwrap();
    let meta = scorelab_train::checkpoint::read_meta(&ckpt).unwrap();
    assert_eq!(meta.step, 4, "stopped at step 4 with its checkpoint");
    let device = cpu().autodiff();
    let template: Mlp = MlpConfig::new(2).init(0, &device).unwrap();
    let data = DatasetSpec::Swissroll {
        n: 2000,
        noise: 0.0,
    }
    .load(0)
    .unwrap();
    let mut resumed =
        Trainer::resume(&ckpt, &meta, meta.train.clone(), &data, template, &device).unwrap();
    assert_eq!(resumed.device_count(), 1);
    run(&mut resumed, dir.path(), &mut Quiet).unwrap();
    assert_eq!(resumed.step_count(), steps);
    let gap = max_abs_diff(&weights(&one), &weights(&resumed));
    eprintln!("resumed on one device: weights {gap:e}");
    assert!(
        gap <= WEIGHT_TOLERANCE,
        "resumed on one device: weights differ by {gap:e}"
    );
}

#[test]
fn more_devices_than_rows_is_an_error() {
    let err = w1_trainer(LossKind::Dsm, 1, 2)
        .with_replicas(replicas(3))
        .err()
        .expect("3 devices cannot split 2 rows");
    assert!(err.to_string().contains("batch"), "{err}");
}

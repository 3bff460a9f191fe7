//! Training on the wgpu backend follows the CPU run: the same batches give the same losses,
//! JVPs and, after a few Adam steps, the same weights (up to f32 rounding on another device).
//!
//! Runs wherever a wgpu adapter exists (in CI: Mesa's lavapipe Vulkan driver). Without one the
//! test reports that it skipped, unless SCORELAB_REQUIRE_WGPU is set, as in CI, where it fails.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::Device;
use common::*;
use scorelab_core::device::wgpu_for_tests;
use scorelab_core::Sde;
use scorelab_train::loss::{LossKind, Penalty};
use scorelab_train::network::{host_tensor, network_score_and_divergence, Marginals};
use scorelab_train::params::flatten;
use scorelab_train::{Mlp, Parameterisation, Trainer};

fn trainer_on(device: &Device, kind: LossKind) -> Trainer<Mlp> {
    let autodiff = device.clone().autodiff();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (_, data, spec) = gaussian_data(256, 2);
    let mut config = train_config(small_mlp(2, true), kind, &sde, 5);
    config.loss.t_eps = 0.05;
    if kind == LossKind::Dsm {
        config.loss.penalty = Penalty::LiYau;
        config.loss.gamma = 0.1;
    }
    let net: Mlp = small_mlp(2, true).init(4, &autodiff).unwrap();
    Trainer::new(
        config,
        sde,
        &data,
        data_info(spec, 2, &data),
        net,
        &autodiff,
    )
    .unwrap()
}

#[test]
fn wgpu_training_matches_the_cpu() {
    let Some(gpu) = wgpu_for_tests() else { return };
    let cpu = Device::flex();
    for kind in [LossKind::Dsm, LossKind::Ssm, LossKind::Hyvarinen] {
        let mut on_cpu = trainer_on(&cpu, kind);
        let mut on_gpu = trainer_on(&gpu, kind);
        for _ in 0..5 {
            let (a, b) = (on_cpu.step().unwrap(), on_gpu.step().unwrap());
            assert!(
                (a.loss - b.loss).abs() < 1e-3 * (1.0 + a.loss.abs()),
                "{kind:?}: {a:?} vs {b:?}"
            );
        }
        let a: Vec<f32> = flatten(&on_cpu.network())
            .into_iter()
            .flat_map(values)
            .collect();
        let b: Vec<f32> = flatten(&on_gpu.network())
            .into_iter()
            .flat_map(values)
            .collect();
        assert!(
            rel_max_diff(&a, &b) < 1e-3,
            "{kind:?}: weights differ by {}",
            rel_max_diff(&a, &b)
        );
    }
}

#[test]
fn wgpu_divergence_matches_the_cpu() {
    let Some(gpu) = wgpu_for_tests() else { return };
    let cpu = Device::flex();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let x: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
    let times: Vec<f64> = (0..20).map(|i| 0.05 + 0.045 * i as f64).collect();
    let run = |device: &Device| {
        let net: Mlp = small_mlp(2, false).init(8, device).unwrap();
        let m = Marginals::new(&sde, &times, device);
        let (s, div) = network_score_and_divergence(
            &net,
            Parameterisation::X0,
            host_tensor(x.clone(), 20, 2, device),
            &m,
        );
        (values(s), values(div))
    };
    let (s_cpu, d_cpu) = run(&cpu);
    let (s_gpu, d_gpu) = run(&gpu);
    assert!(rel_max_diff(&s_cpu, &s_gpu) < 1e-4);
    assert!(rel_max_diff(&d_cpu, &d_gpu) < 1e-4);
}

/// The data-parallel path on wgpu: a device list of the machine's adapters (one, lavapipe, in
/// CI) plus a second replica on the main device matches the one-device CPU run.
#[test]
fn wgpu_replicas_train_like_the_cpu() {
    let Some(gpu) = wgpu_for_tests() else { return };
    let listed = "wgpu:all"
        .parse::<scorelab_core::DeviceList>()
        .unwrap()
        .open()
        .unwrap();
    assert!(!listed.is_empty());
    let mut on_cpu = trainer_on(&Device::flex(), LossKind::Ssm);
    let mut replicas: Vec<Device> = listed[1..].iter().map(|d| d.clone().autodiff()).collect();
    replicas.push(gpu.clone().autodiff());
    let mut on_gpus = trainer_on(&listed[0], LossKind::Ssm)
        .with_replicas(replicas)
        .unwrap();
    for _ in 0..3 {
        let (a, b) = (on_cpu.step().unwrap(), on_gpus.step().unwrap());
        assert!(
            (a.loss - b.loss).abs() < 1e-3 * (1.0 + a.loss.abs()),
            "{a:?} vs {b:?}"
        );
    }
    let weights = |t: &Trainer<Mlp>| -> Vec<f32> {
        flatten(&t.network()).into_iter().flat_map(values).collect()
    };
    let gap = rel_max_diff(&weights(&on_cpu), &weights(&on_gpus));
    assert!(gap < 1e-3, "weights differ by {gap}");
}

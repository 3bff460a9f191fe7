//! Helpers shared by the training tests.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use scorelab_core::device::to_vec;
use scorelab_core::{Dataset, DatasetSpec, Gmm, Sde};
use scorelab_train::adam::AdamConfig;
use scorelab_train::config::{DataInfo, ModelConfig, TrainConfig};
use scorelab_train::loss::{LossConfig, LossKind};
use scorelab_train::{MlpConfig, Parameterisation};

pub fn cpu() -> Device {
    Device::flex()
}

pub fn small_mlp(dim: usize, residual: bool) -> MlpConfig {
    MlpConfig {
        dim,
        width: 16,
        depth: 3,
        embedding: 8,
        residual,
    }
}

/// Relative max-norm difference of two equally long vectors.
pub fn rel_max_diff(a: &[f32], b: &[f32]) -> f64 {
    let scale = a.iter().map(|v| v.abs() as f64).fold(1e-12, f64::max);
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
        / scale
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    to_vec(t)
}

/// A Gaussian N(m, diag) as a GMM with one component and `n` draws from it.
pub fn gaussian_data(n: usize, seed: u64) -> (Gmm, Dataset, DatasetSpec) {
    let gmm = Gmm::gaussian(vec![0.5, -0.3], vec![0.4, 0.1]).unwrap();
    let spec = DatasetSpec::Gmm {
        n,
        gmm: gmm.clone(),
    };
    let data = spec.load(seed).unwrap();
    (gmm, data, spec)
}

pub fn train_config(model: MlpConfig, kind: LossKind, sde: &Sde, steps: u64) -> TrainConfig {
    TrainConfig {
        model: ModelConfig::Mlp(model),
        parameterisation: Parameterisation::Score,
        loss: LossConfig::new(kind, sde),
        adam: AdamConfig::default(),
        ema_decay: 0.999,
        batch_size: 64,
        steps,
        seed: 7,
        checkpoint_every: 0,
        keep: 3,
        log_every: 1,
    }
}

pub fn data_info(spec: DatasetSpec, seed: u64, data: &Dataset) -> DataInfo {
    DataInfo::describe(spec, seed, data)
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

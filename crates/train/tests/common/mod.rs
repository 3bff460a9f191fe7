//! Helpers shared by the training tests.
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use scorelab_core::device::to_vec;
use scorelab_core::{Dataset, DatasetSpec, Gmm, Sde};
use scorelab_train::adam::AdamConfig;
use scorelab_train::config::{DataInfo, ModelConfig, TrainConfig};
use scorelab_train::loss::{LossConfig, LossKind};
use scorelab_train::params::{flatten, flatten_grads, replace};
use scorelab_train::{MlpConfig, Parameterisation, ScoreNetwork};

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
        ema_bias_correction: false,
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

/// Backpropagated parameter gradients of a loss, and central differences of the same loss in
/// single parameter entries (evaluated without autodiff).
pub struct GradientCheck<N> {
    /// Gradient of each parameter tensor, flattened, in visiting order.
    pub grads: Vec<Vec<f32>>,
    base: Vec<Tensor<1>>,
    plain: N,
}

impl<N: ScoreNetwork> GradientCheck<N> {
    /// `net` lives on an autodiff device; `loss` evaluates the loss of a network.
    pub fn new(net: &N, loss: &dyn Fn(&N) -> Tensor<1>) -> Self {
        let grads = flatten_grads(net, &mut loss(net).backward());
        Self {
            grads: grads.into_iter().map(values).collect(),
            base: flatten(net),
            plain: net.valid(),
        }
    }

    /// (loss(θ + h e_pj) − loss(θ − h e_pj)) / 2h for entry j of parameter p.
    pub fn central_difference(
        &self,
        p: usize,
        j: usize,
        h: f32,
        loss: &dyn Fn(&N) -> Tensor<1>,
        device: &Device,
    ) -> f32 {
        let theta = values(self.base[p].clone());
        let at = |delta: f32| {
            let mut moved = theta.clone();
            moved[j] += delta;
            let mut params = self.base.clone();
            params[p] = Tensor::from_data(TensorData::new(moved, [theta.len()]), device);
            values(loss(&replace(self.plain.clone(), params)))[0]
        };
        (at(h) - at(-h)) / (2.0 * h)
    }

    /// The index of the largest gradient entry of parameter p.
    pub fn largest_entry(&self, p: usize) -> usize {
        let g = &self.grads[p];
        (0..g.len())
            .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
            .unwrap()
    }
}

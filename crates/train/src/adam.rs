//! Adam with linear learning-rate warm-up and global-norm gradient clipping, and the
//! exponential moving average of the weights. State is kept as flat vectors (see `params`).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use scorelab_core::error::{require_non_negative, require_positive};
use scorelab_core::CoreError;

/// Optimiser settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps of linear warm-up: lr_k = lr · min(1, k / warmup).
    pub warmup: u64,
    /// Rescale the gradient to this global L2 norm when it is larger (None: no clipping).
    pub grad_clip: Option<f64>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            warmup: 0,
            grad_clip: None,
        }
    }
}

impl AdamConfig {
    pub fn validate(&self) -> Result<(), CoreError> {
        require_positive("lr", self.lr)?;
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            require_non_negative(name, beta)?;
            if beta >= 1.0 {
                return Err(CoreError::invalid(name, format!("must be < 1, got {beta}")));
            }
        }
        require_positive("adam-eps", self.eps)?;
        if let Some(clip) = self.grad_clip {
            require_positive("grad-clip", clip)?;
        }
        Ok(())
    }

    /// The learning rate of step `k` (1-based).
    pub fn lr_at(&self, k: u64) -> f64 {
        if self.warmup == 0 {
            self.lr
        } else {
            self.lr * (k as f64 / self.warmup as f64).min(1.0)
        }
    }

    /// The factor that brings a gradient of global norm `norm` within the clipping threshold.
    pub fn clip_factor(&self, norm: f64) -> f64 {
        match self.grad_clip {
            Some(clip) if norm > clip => clip / norm,
            _ => 1.0,
        }
    }
}

/// First and second moments, one flat vector per parameter, and the number of steps taken.
#[derive(Clone, Debug)]
pub struct AdamState {
    pub step: u64,
    pub m: Vec<Tensor<1>>,
    pub v: Vec<Tensor<1>>,
}

impl AdamState {
    /// Zero moments shaped like `params`.
    pub fn zeros(params: &[Tensor<1>]) -> Self {
        Self {
            step: 0,
            m: params.iter().map(|p| p.zeros_like()).collect(),
            v: params.iter().map(|p| p.zeros_like()).collect(),
        }
    }

    /// One Adam step (Kingma & Ba, Alg. 1) on flat parameters with gradients already scaled by
    /// the clipping factor: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    /// θ ← θ − lr · m̂ / (√v̂ + ε) with bias-corrected m̂, v̂. Returns the new parameters.
    pub fn update(
        &mut self,
        config: &AdamConfig,
        params: Vec<Tensor<1>>,
        grads: Vec<Tensor<1>>,
        grad_scale: f64,
    ) -> Vec<Tensor<1>> {
        self.step += 1;
        let k = self.step as i32;
        let lr = config.lr_at(self.step);
        let c1 = 1.0 - config.beta1.powi(k);
        let c2 = 1.0 - config.beta2.powi(k);
        // θ − lr/c1 · m / (√v/√c2 + ε)
        let step_size = lr / c1;
        let inv_sqrt_c2 = 1.0 / c2.sqrt();
        params
            .into_iter()
            .zip(grads)
            .enumerate()
            .map(|(i, (p, g))| {
                let g = if grad_scale == 1.0 { g } else { g * grad_scale };
                let m = self.m[i].clone() * config.beta1 + g.clone() * (1.0 - config.beta1);
                let v = self.v[i].clone() * config.beta2 + g.square() * (1.0 - config.beta2);
                let denom = (v.clone().sqrt() * inv_sqrt_c2) + config.eps;
                let new = p - (m.clone() / denom) * step_size;
                self.m[i] = m;
                self.v[i] = v;
                new
            })
            .collect()
    }
}

/// ema ← decay · ema + (1 − decay) · params.
pub fn ema_update(ema: &mut [Tensor<1>], params: &[Tensor<1>], decay: f64) {
    for (e, p) in ema.iter_mut().zip(params) {
        *e = e.clone() * decay + p.clone() * (1.0 - decay);
    }
}

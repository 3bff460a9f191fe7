//! Adam with linear learning-rate warm-up, an optional decay of the learning rate over the
//! run and global-norm gradient clipping, and the exponential moving average of the weights.
//! State is kept as flat vectors (see `params`).

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use scorelab_core::error::{require_non_negative, require_positive};
use scorelab_core::CoreError;

use scorelab_core::flex_host::{flex_tensor, host_values, on_flex};

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
    /// How the learning rate falls from `lr` after the warm-up to the run's last step.
    #[serde(default)]
    pub decay: LrDecay,
}

/// The learning rate's decay after the warm-up, as a function of the fraction
/// f = (k − 1 − warmup) / (steps − warmup) ∈ [0, 1) of the remaining steps taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrDecay {
    /// lr, constant.
    #[default]
    None,
    /// lr · ½(1 + cos πf) (Loshchilov & Hutter, SGDR, without restarts).
    Cosine,
    /// lr · (1 − f).
    Linear,
}

pub const LR_DECAY_NAMES: [&str; 3] = ["none", "cosine", "linear"];

impl LrDecay {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "none" => Ok(Self::None),
            "cosine" => Ok(Self::Cosine),
            "linear" => Ok(Self::Linear),
            other => Err(CoreError::UnknownName {
                kind: "lr-decay",
                name: other.to_string(),
                expected: LR_DECAY_NAMES.join(", "),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        LR_DECAY_NAMES[self as usize]
    }

    /// The factor applied to lr at fraction `f` ∈ [0, 1] of the decay.
    pub fn factor(self, f: f64) -> f64 {
        let f = f.clamp(0.0, 1.0);
        match self {
            Self::None => 1.0,
            Self::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * f).cos()),
            Self::Linear => 1.0 - f,
        }
    }
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
            decay: LrDecay::None,
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

    /// The learning rate of step `k` (1-based) of a run of `steps`: lr · k / warmup during the
    /// warm-up, then lr · decay(f) with f = (k − 1 − warmup) / (steps − warmup).
    pub fn lr_at(&self, k: u64, steps: u64) -> f64 {
        if k < self.warmup {
            return self.lr * k as f64 / self.warmup as f64;
        }
        let span = steps.saturating_sub(self.warmup).max(1);
        let f = k.saturating_sub(1 + self.warmup) as f64 / span as f64;
        self.lr * self.decay.factor(f)
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

    /// One Adam step (Kingma & Ba, Alg. 1) of learning rate `lr` on flat parameters with
    /// gradients already scaled by the clipping factor: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    /// θ ← θ − lr · m̂ / (√v̂ + ε) with bias-corrected m̂, v̂. Returns the new parameters.
    pub fn update(
        &mut self,
        config: &AdamConfig,
        lr: f64,
        params: Vec<Tensor<1>>,
        grads: Vec<Tensor<1>>,
        grad_scale: f64,
    ) -> Vec<Tensor<1>> {
        self.step += 1;
        let k = self.step as i32;
        let c1 = 1.0 - config.beta1.powi(k);
        let c2 = 1.0 - config.beta2.powi(k);
        // θ − lr/c1 · m / (√v/√c2 + ε)
        let step = AdamStep {
            grad_scale,
            beta1: config.beta1,
            beta2: config.beta2,
            eps: config.eps,
            step_size: lr / c1,
            inv_sqrt_c2: 1.0 / c2.sqrt(),
        };
        params
            .into_iter()
            .zip(grads)
            .enumerate()
            .map(|(i, (p, g))| {
                let (m, v) = (self.m[i].clone(), self.v[i].clone());
                let (new, m, v) = match host_step(&step, [&p, &g, &m, &v]) {
                    Some(host) => host,
                    None => step.tensors(p, g, m, v),
                };
                self.m[i] = m;
                self.v[i] = v;
                new
            })
            .collect()
    }
}

/// The constants of one Adam step.
struct AdamStep {
    grad_scale: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// lr / (1 − β₁^k).
    step_size: f64,
    /// 1 / √(1 − β₂^k).
    inv_sqrt_c2: f64,
}

impl AdamStep {
    /// The step as tensor operations: (θ, m, v) new.
    fn tensors(
        &self,
        p: Tensor<1>,
        g: Tensor<1>,
        m: Tensor<1>,
        v: Tensor<1>,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let g = if self.grad_scale == 1.0 {
            g
        } else {
            g * self.grad_scale
        };
        let m = m * self.beta1 + g.clone() * (1.0 - self.beta1);
        let v = v * self.beta2 + g.square() * (1.0 - self.beta2);
        let denom = (v.clone().sqrt() * self.inv_sqrt_c2) + self.eps;
        let new = p - (m.clone() / denom) * self.step_size;
        (new, m, v)
    }

    /// The step for one element, in the same f32 operations as [`AdamStep::tensors`].
    #[inline(always)]
    fn element(&self, p: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
        let c = |x: f64| x as f32;
        let g = if self.grad_scale == 1.0 {
            g
        } else {
            g * c(self.grad_scale)
        };
        let m = m * c(self.beta1) + g * c(1.0 - self.beta1);
        let v = v * c(self.beta2) + g * g * c(1.0 - self.beta2);
        let denom = v.sqrt() * c(self.inv_sqrt_c2) + c(self.eps);
        (p - m / denom * c(self.step_size), m, v)
    }
}

/// Elements per parallel chunk of the host updates.
const CHUNK: usize = 1 << 14;

/// The Adam step of one parameter vector on the host, one pass over θ, g, m and v in parallel
/// chunks, when all four are flex tensors; `None` elsewhere. burn-flex runs each of the dozen
/// operations of [`AdamStep::tensors`] as its own pass, in one thread at these sizes.
fn host_step(
    step: &AdamStep,
    tensors: [&Tensor<1>; 4],
) -> Option<(Tensor<1>, Tensor<1>, Tensor<1>)> {
    let [p, g, m, v] = on_flex_primitives(tensors)?;
    let (p, g, m, v) = (
        host_values(&p),
        host_values(&g),
        host_values(&m),
        host_values(&v),
    );
    let n = p.len();
    if [g.len(), m.len(), v.len()] != [n; 3] {
        return None;
    }
    let (mut new_p, mut new_m, mut new_v) = (vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]);
    new_p
        .par_chunks_mut(CHUNK)
        .zip(new_m.par_chunks_mut(CHUNK))
        .zip(new_v.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(j, ((out_p, out_m), out_v))| {
            let range = j * CHUNK..j * CHUNK + out_p.len();
            let outputs = out_p.iter_mut().zip(out_m.iter_mut()).zip(out_v.iter_mut());
            let inputs = p[range.clone()].iter().zip(&g[range.clone()]);
            let inputs = inputs.zip(&m[range.clone()]).zip(&v[range]);
            for (((p, m), v), (((&pi, &gi), &mi), &vi)) in outputs.zip(inputs) {
                (*p, *m, *v) = step.element(pi, gi, mi, vi);
            }
        });
    let tensor = |values: Vec<f32>| Tensor::from_primitive::<Flex>(flex_tensor(values, [n]));
    Some((tensor(new_p), tensor(new_m), tensor(new_v)))
}

/// The flex primitives of `tensors` when all are plain flex tensors (no autodiff).
fn on_flex_primitives<const N: usize>(tensors: [&Tensor<1>; N]) -> Option<[FlexTensor; N]> {
    if !tensors.iter().all(|t| on_flex(&t.device())) {
        return None;
    }
    let primitives: Vec<FlexTensor> = tensors
        .iter()
        .map(|t| (*t).clone().try_into_primitive::<Flex>().ok())
        .collect::<Option<_>>()?;
    primitives.try_into().ok()
}

/// ema ← decay · ema + (1 − decay) · params.
/// On flex tensors one parallel pass per vector on the host, the same f32 operations.
pub fn ema_update(ema: &mut [Tensor<1>], params: &[Tensor<1>], decay: f64) {
    for (e, p) in ema.iter_mut().zip(params) {
        *e = host_ema(e, p, decay).unwrap_or_else(|| e.clone() * decay + p.clone() * (1.0 - decay));
    }
}

/// decay · ema + (1 − decay) · θ on the host for flex tensors of one length; `None` elsewhere.
fn host_ema(ema: &Tensor<1>, params: &Tensor<1>, decay: f64) -> Option<Tensor<1>> {
    let [e, p] = on_flex_primitives([ema, params])?;
    let (e, p) = (host_values(&e), host_values(&p));
    if e.len() != p.len() {
        return None;
    }
    let (a, b) = (decay as f32, (1.0 - decay) as f32);
    let mut out = vec![0.0f32; e.len()];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(j, out)| {
        let start = j * CHUNK;
        let (e, p) = (&e[start..start + out.len()], &p[start..start + out.len()]);
        for ((o, &e), &p) in out.iter_mut().zip(e).zip(p) {
            *o = e * a + p * b;
        }
    });
    Some(Tensor::from_primitive::<Flex>(flex_tensor(out, [e.len()])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn vector(values: Vec<f32>) -> Tensor<1> {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &Device::flex())
    }

    fn values(t: &Tensor<1>) -> Vec<f32> {
        t.clone().into_data().try_into_vec::<f32>().unwrap()
    }

    /// Three steps (the first with clipping) of the host path against the tensor expression on
    /// a vector longer than one chunk: the same f32 operations, so the same bits; and the
    /// first step against Adam's closed form in f64 (m̂ = g, v̂ = g², θ − lr·g/(|g| + ε)).
    #[test]
    fn host_steps_match_the_tensor_expression_and_the_closed_form() {
        let n = CHUNK + 123;
        let pattern = |a: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * a) % 97) as f32 / 97.0 * 2.0 * scale - scale)
                .collect()
        };
        let config = AdamConfig::default();
        let mut state = AdamState::zeros(&[vector(pattern(3, 1.0))]);
        let mut params = vec![vector(pattern(3, 1.0))];
        for (k, scale) in [(1, 0.5), (2, 1.0), (3, 1.0)] {
            let grad = vector(pattern(7 + k, 0.3));
            let (m, v) = (state.m[0].clone(), state.v[0].clone());
            let c1 = 1.0 - config.beta1.powi(k as i32);
            let c2 = 1.0 - config.beta2.powi(k as i32);
            let step = AdamStep {
                grad_scale: scale,
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                step_size: config.lr / c1,
                inv_sqrt_c2: 1.0 / c2.sqrt(),
            };
            let (want, want_m, want_v) = step.tensors(params[0].clone(), grad.clone(), m, v);
            let before = values(&params[0]);
            params = state.update(&config, config.lr, params, vec![grad.clone()], scale);
            assert_eq!(values(&params[0]), values(&want), "θ at step {k}");
            assert_eq!(values(&state.m[0]), values(&want_m), "m at step {k}");
            assert_eq!(values(&state.v[0]), values(&want_v), "v at step {k}");
            if k == 1 {
                for ((&new, &old), &g) in values(&params[0]).iter().zip(&before).zip(&values(&grad))
                {
                    let g = g as f64 * scale;
                    let exact = old as f64 - config.lr * g / (g.abs() + config.eps);
                    assert!((new as f64 - exact).abs() < 1e-6, "{new} against {exact}");
                }
            }
        }
    }

    /// The schedule against its closed forms: linear warm-up, then the decay over the rest.
    #[test]
    fn learning_rate_schedule_follows_warmup_and_decay() {
        let config = |decay| AdamConfig {
            lr: 2e-3,
            warmup: 100,
            decay,
            ..AdamConfig::default()
        };
        let steps = 1100;
        for decay in [LrDecay::None, LrDecay::Cosine, LrDecay::Linear] {
            let c = config(decay);
            assert_eq!(c.lr_at(1, steps), 2e-5, "{decay:?}");
            assert_eq!(c.lr_at(50, steps), 1e-3, "{decay:?}");
            assert_eq!(c.lr_at(100, steps), 2e-3, "{decay:?}");
            assert_eq!(c.lr_at(101, steps), 2e-3, "{decay:?}");
            assert_eq!(LrDecay::parse(decay.name()).unwrap(), decay);
        }
        // f = (k − 1 − 100) / 1000: a quarter, half and the last step.
        let (cosine, linear) = (config(LrDecay::Cosine), config(LrDecay::Linear));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(
            cosine.lr_at(351, steps),
            2e-3 * 0.5 * (1.0 + 0.5f64.sqrt())
        ));
        assert!(close(cosine.lr_at(601, steps), 1e-3));
        assert!(close(linear.lr_at(351, steps), 1.5e-3));
        assert!(close(linear.lr_at(1100, steps), 2e-3 * 0.001));
        assert!(cosine.lr_at(1100, steps) > 0.0);
        assert_eq!(config(LrDecay::None).lr_at(1100, steps), 2e-3);
        // Monotone after the warm-up.
        let lrs: Vec<f64> = (100..=steps).map(|k| cosine.lr_at(k, steps)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
        assert!(LrDecay::parse("step").is_err());
    }

    /// The host EMA against the tensor expression, bit for bit.
    #[test]
    fn host_ema_matches_the_tensor_expression() {
        let p = vector((0..1000).map(|i| (i as f32 * 0.37).sin()).collect());
        let e = vector((0..1000).map(|i| (i as f32 * 0.11).cos()).collect());
        let want = e.clone() * 0.999 + p.clone() * (1.0 - 0.999);
        let mut ema = vec![e];
        ema_update(&mut ema, &[p], 0.999);
        assert_eq!(values(&ema[0]), values(&want));
    }
}

//! The MLP score network for point data (DESIGN §5): input x ⊕ sinusoidal embedding of t,
//! SiLU hidden layers of equal width (optionally residual), linear output of dimension d.
//! Each layer also maps tangents, (y, ẏ) → (layer(y), J_layer ẏ), for forward-mode JVPs.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use scorelab_core::device::to_vec;
use scorelab_core::error::require_positive;
use scorelab_core::CoreError;

pub use crate::activation::{silu, silu_with_slope};
use crate::host_dense::{stacked_dense, Activation};
use crate::network::{scale_blocks, ScoreNetwork};
use scorelab_core::flex_host::on_flex;

/// Upper bounds on layer sizes and depth: far above any sensible model, they turn a corrupt
/// configuration into an error instead of an attempt to allocate terabytes.
pub const MAX_SIZE: usize = 1 << 20;
pub const MAX_DEPTH: usize = 1000;

/// Checks `value ≤ limit`.
pub fn require_at_most(name: &str, value: usize, limit: usize) -> Result<(), CoreError> {
    if value <= limit {
        Ok(())
    } else {
        Err(CoreError::invalid(
            name,
            format!("{value} is larger than the limit {limit}"),
        ))
    }
}

/// Shape of the MLP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Data dimension d.
    pub dim: usize,
    /// Width of every hidden layer.
    pub width: usize,
    /// Number of hidden layers (SiLU activations).
    pub depth: usize,
    /// Size of the sinusoidal time embedding (even).
    pub embedding: usize,
    /// Residual connections h ← h + SiLU(W h + b) between hidden layers.
    pub residual: bool,
}

impl MlpConfig {
    /// The network of the performance workloads (DESIGN §8): 2 ⊕ 32 → 256 → 256 → 256 → 2.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            width: 256,
            depth: 3,
            embedding: 32,
            residual: false,
        }
    }

    pub fn validate(&self) -> Result<(), CoreError> {
        require_positive("dim", self.dim as f64)?;
        require_positive("width", self.width as f64)?;
        require_positive("depth", self.depth as f64)?;
        for (name, value, limit) in [
            ("dim", self.dim, MAX_SIZE),
            ("width", self.width, MAX_SIZE),
            ("depth", self.depth, MAX_DEPTH),
            ("embedding", self.embedding, MAX_SIZE),
        ] {
            require_at_most(name, value, limit)?;
        }
        if self.embedding == 0 || !self.embedding.is_multiple_of(2) {
            return Err(CoreError::invalid(
                "embedding",
                format!("must be a positive even number, got {}", self.embedding),
            ));
        }
        Ok(())
    }

    /// A freshly initialised network; weights are drawn on the host from `seed`, so the
    /// initialisation is identical on every backend.
    pub fn init(&self, seed: u64, device: &Device) -> Result<Mlp, CoreError> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let input = Dense::init(self.dim + self.embedding, self.width, &mut rng, device);
        let hidden = (1..self.depth)
            .map(|_| Dense::init(self.width, self.width, &mut rng, device))
            .collect();
        let output = Dense::init(self.width, self.dim, &mut rng, device);
        Ok(Mlp {
            input,
            hidden,
            output,
            config: self.clone(),
        })
    }
}

/// A parameter of `shape` drawn from U(−bound, bound) on the host.
pub fn uniform_param<const D: usize>(
    shape: [usize; D],
    bound: f32,
    rng: &mut impl Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// An affine layer y = x W + b, W ∈ R^{in×out}.
#[derive(Module, Debug)]
pub struct Dense {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// PyTorch's default initialisation: W, b ~ U(−k, k) with k = 1/√in.
    pub fn init(inputs: usize, outputs: usize, rng: &mut impl Rng, device: &Device) -> Self {
        let k = 1.0 / (inputs as f32).sqrt();
        Self {
            weight: uniform_param([inputs, outputs], k, rng, device),
            bias: uniform_param([outputs], k, rng, device),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze_dim(0)
    }

    /// The tangent map ẏ = ẋ W.
    pub fn tangent(&self, v: Tensor<2>) -> Tensor<2> {
        v.matmul(self.weight.val())
    }

    /// The layer and its tangent map on stacked rows S = [X; V₁; …; V_K] (`primal_rows` = the
    /// rows of X): [act(X W + b); (V_k W) ⊙ act'(X W + b)] ([`crate::host_dense`]). One host
    /// kernel on the CPU, tensor operations elsewhere.
    pub fn stacked(&self, s: Tensor<2>, primal_rows: usize, act: Activation) -> Tensor<2> {
        let (weight, bias) = (self.weight.val(), self.bias.val());
        if let Some(y) = stacked_dense(&s, &weight, &bias, primal_rows, act) {
            return y;
        }
        let rows = s.dims()[0];
        let primal = s.clone().narrow(0, 0, primal_rows);
        let z = primal.matmul(weight.clone()) + bias.unsqueeze_dim(0);
        if rows == primal_rows {
            return match act {
                Activation::Identity => z,
                Activation::Silu => silu(z),
            };
        }
        let u = s.narrow(0, primal_rows, rows - primal_rows).matmul(weight);
        match act {
            Activation::Identity => Tensor::cat(vec![z, u], 0),
            Activation::Silu => {
                let (a, slope) = silu_with_slope(z);
                Tensor::cat(vec![a, scale_blocks(u, slope)], 0)
            }
        }
    }
}

/// The frequencies f_k = 1000^(k/(half − 1)), k < half, log-spaced in [1, 1000].
fn embedding_frequencies(half: usize) -> Vec<f32> {
    (0..half)
        .map(|k| {
            let frac = if half > 1 {
                k as f64 / (half - 1) as f64
            } else {
                0.0
            };
            (1000f64.ln() * frac).exp() as f32
        })
        .collect()
}

/// Rows per parallel task of the host embedding.
const EMBEDDING_ROWS_PER_TASK: usize = 256;

/// Sinusoidal embedding [sin(t f_k), cos(t f_k)], k < size/2, f_k log-spaced in [1, 1000].
/// When t is not differentiated (it never is in training or sampling), on the CPU the values
/// are computed on the host, in parallel over the rows, with the same f32 products and libm
/// sin and cos as the tensor operations.
pub fn time_embedding(t: Tensor<2>, size: usize) -> Tensor<2> {
    let half = size / 2;
    let freqs = embedding_frequencies(half);
    let device = t.device();
    let [rows, columns] = t.dims();
    if on_flex(&device) && columns == 1 && half > 0 && !t.is_tracked() {
        let t = to_vec(t);
        let width = 2 * half;
        let mut values = vec![0.0f32; rows * width];
        values
            .par_chunks_mut(EMBEDDING_ROWS_PER_TASK * width)
            .zip(t.par_chunks(EMBEDDING_ROWS_PER_TASK))
            .for_each(|(out, t)| {
                for (row, &t) in out.chunks_mut(width).zip(t) {
                    let (sines, cosines) = row.split_at_mut(half);
                    for ((s, c), &f) in sines.iter_mut().zip(cosines).zip(&freqs) {
                        let arg = t * f;
                        (*s, *c) = (arg.sin(), arg.cos());
                    }
                }
            });
        return Tensor::from_data(TensorData::new(values, [rows, width]), &device);
    }
    let freqs = Tensor::<2>::from_data(TensorData::new(freqs, [1, half]), &device);
    let arg = t.matmul(freqs);
    Tensor::cat(vec![arg.clone().sin(), arg.cos()], 1)
}

/// The MLP score network.
#[derive(Module, Debug)]
pub struct Mlp {
    pub input: Dense,
    pub hidden: Vec<Dense>,
    pub output: Dense,
    #[module(skip)]
    pub config: MlpConfig,
}

impl Mlp {
    fn embed(&self, t: Tensor<2>) -> Tensor<2> {
        time_embedding(t, self.config.embedding)
    }

    /// The hidden layers on stacked primal and tangent rows.
    fn hidden_stacked(&self, mut h: Tensor<2>, primal_rows: usize) -> Tensor<2> {
        for layer in &self.hidden {
            let a = layer.stacked(h.clone(), primal_rows, Activation::Silu);
            h = if self.config.residual { h + a } else { a };
        }
        h
    }
}

impl ScoreNetwork for Mlp {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn forward(&self, x: Tensor<2>, t: Tensor<2>) -> Tensor<2> {
        let rows = x.dims()[0];
        let input = Tensor::cat(vec![x, self.embed(t)], 1);
        let h = self.input.stacked(input, rows, Activation::Silu);
        let h = self.hidden_stacked(h, rows);
        self.output.stacked(h, rows, Activation::Identity)
    }

    /// The tangent rows go through the same layers as the primal rows, stacked under them, so
    /// every layer is one matrix product.
    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<2>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let rows = x.dims()[0];
        let tangent_rows = v.dims()[0];
        let embedding = self.embed(t);
        let device = embedding.device();
        let input = Tensor::cat(vec![x, embedding], 1);
        // t is not differentiated: its columns of the tangent are zero
        let still = Tensor::zeros([tangent_rows, self.config.embedding], &device);
        let tangent = Tensor::cat(vec![v, still], 1);
        let s = Tensor::cat(vec![input, tangent], 0);
        let h = self.input.stacked(s, rows, Activation::Silu);
        let h = self.hidden_stacked(h, rows);
        let out = self.output.stacked(h, rows, Activation::Identity);
        (
            out.clone().narrow(0, 0, rows),
            out.narrow(0, rows, tangent_rows),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host embedding on flex against the tensor operations (on ndarray) and against the
    /// closed form sin(t f_k), cos(t f_k) in f64, over more rows than one task and times up to
    /// 1 (arguments up to 1000, where an f32 argument carries 3e-5 of rounding).
    #[test]
    fn host_embedding_matches_the_tensor_operations_and_the_closed_form() {
        let rows = EMBEDDING_ROWS_PER_TASK + 17;
        let times: Vec<f32> = (0..rows).map(|i| i as f32 / rows as f32).collect();
        let column = |device: &Device| {
            Tensor::<2>::from_data(TensorData::new(times.clone(), [rows, 1]), device)
        };
        let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        let host = values(time_embedding(column(&Device::flex()), 8));
        #[allow(deprecated)]
        let tensor = values(time_embedding(column(&Device::ndarray()), 8));
        assert_eq!(host.len(), rows * 8);
        let worst = host
            .iter()
            .zip(&tensor)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "host against tensor operations: {worst}");
        let freqs = embedding_frequencies(4);
        for (row, &t) in host.chunks(8).zip(&times) {
            for (k, &f) in freqs.iter().enumerate() {
                let arg = t as f64 * f as f64;
                assert!((row[k] as f64 - arg.sin()).abs() < 1e-4, "sin at t = {t}");
                assert!(
                    (row[4 + k] as f64 - arg.cos()).abs() < 1e-4,
                    "cos at t = {t}"
                );
            }
        }
    }
}

//! The interface every score network implements, the output parameterisations of DESIGN §5 and
//! forward-mode Jacobian–vector products of the resulting score.
//!
//! Tangents are batched: `K` directions for a batch of `B` points are stored as one
//! `[K·B, d]` matrix, block `k` (rows `k·B .. (k+1)·B`) holding direction `k` for every point.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use scorelab_core::device::column;
use scorelab_core::error::require_positive;
use scorelab_core::score::marginal_columns;
use scorelab_core::{CoreError, Sde, Times};

/// A network f_θ(x, t) on flattened data x ∈ R^{B×d}, with its forward-mode derivative.
pub trait ScoreNetwork: Module + Sized {
    /// The (flattened) data dimension d.
    fn dim(&self) -> usize;

    /// The raw output f_θ(x, t) ∈ R^{B×d} for times `t` ∈ R^{B×1}.
    fn forward(&self, x: Tensor<2>, t: Tensor<2>) -> Tensor<2>;

    /// f_θ(x, t) and K directional derivatives (∂f/∂x) v_k, for tangents `v` ∈ R^{K·B×d}.
    ///
    /// Written with ordinary tensor operations, so on an autodiff device the result is
    /// differentiable with respect to θ (first-order autodiff suffices for ∇_θ of a JVP).
    fn forward_jvp(&self, x: Tensor<2>, t: Tensor<2>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>);
}

/// How the network output f maps to the score s (DESIGN §5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parameterisation {
    /// s = f.
    Score,
    /// s = −f/σ (f predicts the noise ε).
    Eps,
    /// s = (α f + c − x)/σ² (f predicts the clean point x₀).
    X0,
    /// Karras et al. (2022), Table 1, in the variance-exploding coordinates x̃ = (x − c)/α,
    /// σ̃ = σ/α: the denoiser D = c_skip x̃ + c_out f(c_in x̃, c_noise) with
    /// c_skip = σ_d²/(σ̃² + σ_d²), c_out = σ̃ σ_d/√(σ̃² + σ_d²), c_in = 1/√(σ̃² + σ_d²),
    /// c_noise = ¼ ln σ̃, and s = (α D + c − x)/σ². σ_d² is the data's mean squared coordinate,
    /// for which the training target of f has unit variance at every noise level.
    Edm { sigma_data: f64 },
}

/// Names accepted by [`Parameterisation::parse`].
pub const PARAMETERISATION_NAMES: [&str; 4] = ["score", "eps", "x0", "edm"];

impl Parameterisation {
    /// Parses a name; `edm` takes its σ_d from `sigma_data` (the caller measures it on the data).
    pub fn parse(name: &str, sigma_data: impl FnOnce() -> f64) -> Result<Self, CoreError> {
        match name {
            "score" => Ok(Self::Score),
            "eps" => Ok(Self::Eps),
            "x0" => Ok(Self::X0),
            "edm" => {
                let sigma_data = sigma_data();
                require_positive("sigma-data", sigma_data)?;
                Ok(Self::Edm { sigma_data })
            }
            other => Err(CoreError::UnknownName {
                kind: "parameterisation",
                name: other.to_string(),
                expected: PARAMETERISATION_NAMES.join(", "),
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Score => "score",
            Self::Eps => "eps",
            Self::X0 => "x0",
            Self::Edm { .. } => "edm",
        }
    }
}

/// The per-row coefficients of EDM's preconditioning ([B, 1] columns).
struct EdmScaling {
    skip: Tensor<2>,
    out: Tensor<2>,
    input: Tensor<2>,
    noise: Tensor<2>,
}

impl EdmScaling {
    fn new(m: &Marginals, sigma_data: f64) -> Self {
        let sigma = m.sigma.clone() / m.alpha.clone();
        let total = sigma.clone().square().add_scalar(sigma_data * sigma_data);
        let root = total.clone().sqrt();
        Self {
            skip: total.recip().mul_scalar(sigma_data * sigma_data),
            out: sigma.clone().mul_scalar(sigma_data) / root.clone(),
            input: root.recip(),
            noise: sigma.log().mul_scalar(0.25),
        }
    }

    /// The network input c_in x̃ = c_in (x − c)/α.
    fn network_input(&self, x: Tensor<2>, m: &Marginals) -> Tensor<2> {
        (x - m.shift.clone()) * (self.input.clone() / m.alpha.clone())
    }
}

/// Per-row marginal coefficients of x_t = α x₀ + c + σ ε, as [B, 1] columns, plus t itself.
#[derive(Clone, Debug)]
pub struct Marginals {
    pub t: Tensor<2>,
    pub alpha: Tensor<2>,
    pub shift: Tensor<2>,
    pub sigma2: Tensor<2>,
    pub sigma: Tensor<2>,
}

impl Marginals {
    /// The coefficients of `sde` at each of `times`.
    pub fn new(sde: &Sde, times: &[f64], device: &Device) -> Self {
        let (alpha, shift, sigma2) =
            marginal_columns(sde, &Times::Each(times.to_vec()), times.len(), device);
        Self {
            t: column(times, device),
            // σ from f64 on the host, not the square root of the f32 σ²
            sigma: column(
                &times
                    .iter()
                    .map(|&t| sde.sigma2(t).sqrt())
                    .collect::<Vec<_>>(),
                device,
            ),
            alpha,
            shift,
            sigma2,
        }
    }
}

/// Multiplies each block of a [K·B, m] tangent by a [B, 1] (or [B, m]) per-row factor.
pub fn scale_blocks(tangent: Tensor<2>, factor: Tensor<2>) -> Tensor<2> {
    let [kb, m] = tangent.dims();
    let [b, _] = factor.dims();
    let k = kb / b;
    if k == 1 {
        return tangent * factor;
    }
    (tangent.reshape([k, b, m]) * factor.unsqueeze_dim::<3>(0)).reshape([kb, m])
}

/// The score s_θ(x, t) of a network under a parameterisation.
pub fn network_score<N: ScoreNetwork>(
    net: &N,
    param: Parameterisation,
    x: Tensor<2>,
    m: &Marginals,
) -> Tensor<2> {
    let (input, time) = network_arguments(param, x.clone(), m);
    let f = net.forward(input, time);
    output_to_score(param, f, x, m)
}

/// The network's input and time arguments: (x, t), or (c_in x̃, c_noise) for edm.
fn network_arguments(
    param: Parameterisation,
    x: Tensor<2>,
    m: &Marginals,
) -> (Tensor<2>, Tensor<2>) {
    match param {
        Parameterisation::Edm { sigma_data } => {
            let c = EdmScaling::new(m, sigma_data);
            (c.network_input(x, m), c.noise)
        }
        _ => (x, m.t.clone()),
    }
}

fn output_to_score(
    param: Parameterisation,
    f: Tensor<2>,
    x: Tensor<2>,
    m: &Marginals,
) -> Tensor<2> {
    match param {
        Parameterisation::Score => f,
        Parameterisation::Eps => -f / m.sigma.clone(),
        Parameterisation::X0 => (f * m.alpha.clone() + m.shift.clone() - x) / m.sigma2.clone(),
        Parameterisation::Edm { sigma_data } => {
            // s = (α D + c − x)/σ² with D = c_skip (x − c)/α + c_out f
            let c = EdmScaling::new(m, sigma_data);
            let tilde = (x.clone() - m.shift.clone()) / m.alpha.clone();
            let denoised = tilde * c.skip + f * c.out;
            (denoised * m.alpha.clone() + m.shift.clone() - x) / m.sigma2.clone()
        }
    }
}

/// s_θ(x, t) and the JVPs (∂s/∂x) v_k for tangents `v` ∈ R^{K·B×d}.
pub fn network_score_jvp<N: ScoreNetwork>(
    net: &N,
    param: Parameterisation,
    x: Tensor<2>,
    m: &Marginals,
    v: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let (input, time) = network_arguments(param, x.clone(), m);
    // the tangent of the network input: v, or (c_in/α) v for edm
    let input_tangent = match param {
        Parameterisation::Edm { sigma_data } => scale_blocks(
            v.clone(),
            EdmScaling::new(m, sigma_data).input / m.alpha.clone(),
        ),
        _ => v.clone(),
    };
    let (f, jf) = net.forward_jvp(input, time, input_tangent);
    let s = output_to_score(param, f, x, m);
    let js = match param {
        Parameterisation::Score => jf,
        Parameterisation::Eps => -scale_blocks(jf, m.sigma.clone().recip()),
        Parameterisation::X0 => scale_blocks(
            scale_blocks(jf, m.alpha.clone()) - v,
            m.sigma2.clone().recip(),
        ),
        Parameterisation::Edm { sigma_data } => {
            // J_s v = (c_skip v + α c_out J_f (c_in/α) v − v)/σ²
            let c = EdmScaling::new(m, sigma_data);
            scale_blocks(
                scale_blocks(v, c.skip.sub_scalar(1.0)) + scale_blocks(jf, m.alpha.clone() * c.out),
                m.sigma2.clone().recip(),
            )
        }
    };
    (s, js)
}

/// The d basis directions for a batch of B points: block i is e_i in every row ([d·B, d]).
pub fn basis_tangents(d: usize, b: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::eye(d, device)
        .unsqueeze_dim::<3>(1)
        .expand([d, b, d])
        .reshape([d * b, d])
}

/// The trace Σ_i e_iᵀ (J e_i) from the JVPs of [`basis_tangents`] ([d·B, d] → [B]).
pub fn trace_from_basis_jvp(jv: Tensor<2>, b: usize) -> Tensor<1> {
    let [db, d] = jv.dims();
    debug_assert_eq!(db, d * b);
    let eye = Tensor::<2>::eye(d, &jv.device()).unsqueeze_dim::<3>(1);
    (jv.reshape([d, b, d]) * eye).sum_dims_squeeze::<1, usize>(&[0, 2])
}

/// Σ_k v_kᵀ (J v_k) per point, for K tangents and their JVPs ([K·B, d] each → [B]).
pub fn quadratic_forms(v: Tensor<2>, jv: Tensor<2>, b: usize) -> Tensor<1> {
    let [kb, d] = jv.dims();
    let k = kb / b;
    (v * jv)
        .reshape([k, b, d])
        .sum_dims_squeeze::<1, usize>(&[0, 2])
}

/// The exact divergence ∇·s_θ(x, t) = tr(∂s/∂x) from d JVPs, with the score.
pub fn network_score_and_divergence<N: ScoreNetwork>(
    net: &N,
    param: Parameterisation,
    x: Tensor<2>,
    m: &Marginals,
) -> (Tensor<2>, Tensor<1>) {
    let [b, d] = x.dims();
    let v = basis_tangents(d, b, &x.device());
    let (s, js) = network_score_jvp(net, param, x, m, v);
    (s, trace_from_basis_jvp(js, b))
}

/// A [rows, cols] tensor from host values.
pub fn host_tensor(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
}

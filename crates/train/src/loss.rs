//! The score-matching losses of DESIGN §5 on one batch: dsm, sliced (ssm), Hyvärinen with the
//! exact divergence, and a divergence penalty that can be added to any of them.
//!
//! Per sample, with x_t = α x₀ + c + σ ε and weight λ(t):
//! - dsm:       λ ‖s + ε/σ‖², computed as (λ/σ²) ‖σ s + ε‖²;
//! - ssm:       λ (½‖s‖² + (1/m) Σ_k v_kᵀ (∂s/∂x) v_k), v_k Gaussian or Rademacher;
//! - hyvarinen: λ (½‖s‖² + ∇·s), the trace from d JVPs;
//! - penalty:   λ γ P(∇·s), P = (∇·s)² | min(∇·s, 0)² | max(0, −∇·s − d/σ²)².
//!
//! With these normalisations E[dsm] = 2 E[hyvarinen] + C = 2 E[ssm] + C, C independent of θ
//! (Claustre, Theorems 4.1, 4.3, 4.6, whose losses are ‖s‖² + 2 ∇·s).

use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use scorelab_core::device::column;
use scorelab_core::error::{require_finite, require_non_negative, require_positive};
use scorelab_core::{CoreError, Sde};

use crate::network::{
    basis_tangents, host_tensor, network_score, network_score_jvp, quadratic_forms,
    trace_from_basis_jvp, Marginals, Parameterisation, ScoreNetwork,
};

/// The score-matching objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    Dsm,
    Ssm,
    Hyvarinen,
}

/// Names accepted by [`LossKind::parse`].
pub const LOSS_NAMES: [&str; 3] = ["dsm", "ssm", "hyvarinen"];

impl LossKind {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "dsm" => Ok(Self::Dsm),
            "ssm" => Ok(Self::Ssm),
            "hyvarinen" => Ok(Self::Hyvarinen),
            other => Err(unknown("loss", other, &LOSS_NAMES)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Dsm => "dsm",
            Self::Ssm => "ssm",
            Self::Hyvarinen => "hyvarinen",
        }
    }
}

/// The time weighting λ(t) of ‖s − ∇log p_t(x_t | x₀)‖².
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// λ = σ²(t) (the default).
    Sigma2,
    /// λ = g²(t) (Song et al.'s likelihood weighting).
    Likelihood,
    /// λ = 1.
    None,
    /// Karras et al. (2022) eq. 8: (σ̃² + σ_d²)/(σ̃ σ_d)² on ‖D − x₀‖², where
    /// D − x₀ = (σ²/α)(s − s*); on the score error λ = σ² (σ̃² + σ_d²)/σ_d², σ̃ = σ/α.
    /// With the edm parameterisation this is the plain squared error of the network output.
    Edm { sigma_data: f64 },
}

pub const WEIGHTING_NAMES: [&str; 4] = ["sigma2", "likelihood", "none", "edm"];

impl Weighting {
    /// Parses a name; `edm` takes its σ_d from `sigma_data` (the caller measures it on the data).
    pub fn parse(name: &str, sigma_data: impl FnOnce() -> f64) -> Result<Self, CoreError> {
        match name {
            "sigma2" => Ok(Self::Sigma2),
            "likelihood" => Ok(Self::Likelihood),
            "none" => Ok(Self::None),
            "edm" => {
                let sigma_data = sigma_data();
                require_positive("sigma-data", sigma_data)?;
                Ok(Self::Edm { sigma_data })
            }
            other => Err(unknown("weighting", other, &WEIGHTING_NAMES)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sigma2 => "sigma2",
            Self::Likelihood => "likelihood",
            Self::None => "none",
            Self::Edm { .. } => "edm",
        }
    }

    /// λ(t).
    pub fn at(self, sde: &Sde, t: f64) -> f64 {
        match self {
            Self::Sigma2 => sde.sigma2(t),
            Self::Likelihood => sde.diffusion(t).powi(2),
            Self::None => 1.0,
            Self::Edm { sigma_data } => {
                let d2 = sigma_data * sigma_data;
                sde.sigma2(t) * (sde.sigma_tilde(t).powi(2) + d2) / d2
            }
        }
    }
}

/// How training times are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TimeSampling {
    /// t ~ U(t_eps, T).
    #[default]
    Uniform,
    /// Karras et al. (2022), Table 1: ln σ̃ ~ N(mean, std²), mapped to the t with σ̃(t) = σ̃
    /// and clamped to [t_eps, T] (EDM's P_mean = −1.2, P_std = 1.2).
    LogNormal { mean: f64, std: f64 },
}

pub const TIME_SAMPLING_NAMES: [&str; 2] = ["uniform", "log-normal"];

/// EDM's P_mean and P_std.
pub const EDM_LOG_SIGMA: (f64, f64) = (-1.2, 1.2);

impl TimeSampling {
    /// Parses a name; log-normal takes `log_sigma` = (mean, std) of ln σ̃.
    pub fn parse(name: &str, log_sigma: (f64, f64)) -> Result<Self, CoreError> {
        match name {
            "uniform" => Ok(Self::Uniform),
            "log-normal" => Ok(Self::LogNormal {
                mean: log_sigma.0,
                std: log_sigma.1,
            }),
            other => Err(unknown("time sampling", other, &TIME_SAMPLING_NAMES)),
        }
    }

    /// One training time.
    pub fn draw(self, sde: &Sde, t_eps: f64, rng: &mut impl Rng) -> f64 {
        match self {
            Self::Uniform => rng.random_range(t_eps..sde.t_end()),
            Self::LogNormal { mean, std } => {
                let z: f64 = rng.sample(StandardNormal);
                sde.time_of_sigma_tilde((mean + std * z).exp())
                    .clamp(t_eps, sde.t_end())
            }
        }
    }
}

/// The distribution of the ssm projection vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Projection {
    Gaussian,
    Rademacher,
}

pub const PROJECTION_NAMES: [&str; 2] = ["gaussian", "rademacher"];

impl Projection {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "gaussian" => Ok(Self::Gaussian),
            "rademacher" => Ok(Self::Rademacher),
            other => Err(unknown("projection", other, &PROJECTION_NAMES)),
        }
    }

    fn draw(self, rng: &mut impl Rng) -> f32 {
        match self {
            Self::Gaussian => rng.sample(StandardNormal),
            Self::Rademacher => {
                if rng.random::<bool>() {
                    1.0
                } else {
                    -1.0
                }
            }
        }
    }
}

/// The divergence penalty P(∇·s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Penalty {
    None,
    /// (∇·s)², Liu–Zuazua (4.6).
    Full,
    /// min(∇·s, 0)².
    Negative,
    /// max(0, −∇·s − d/σ²)²: only violations of the Li–Yau bound ∇·s ≥ −d/σ².
    LiYau,
}

pub const PENALTY_NAMES: [&str; 4] = ["none", "full", "negative", "li-yau"];

impl Penalty {
    pub fn parse(name: &str) -> Result<Self, CoreError> {
        match name {
            "none" => Ok(Self::None),
            "full" => Ok(Self::Full),
            "negative" => Ok(Self::Negative),
            "li-yau" => Ok(Self::LiYau),
            other => Err(unknown("penalty", other, &PENALTY_NAMES)),
        }
    }
}

fn unknown(kind: &'static str, name: &str, expected: &[&str]) -> CoreError {
    CoreError::UnknownName {
        kind,
        name: name.to_string(),
        expected: expected.join(", "),
    }
}

/// Everything that defines the training objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    pub kind: LossKind,
    pub weighting: Weighting,
    /// Times are drawn from [t_eps, T].
    pub t_eps: f64,
    /// How times are drawn.
    #[serde(default)]
    pub time_sampling: TimeSampling,
    /// ssm: number of projections m per point.
    pub projections: usize,
    pub projection: Projection,
    pub penalty: Penalty,
    /// Penalty weight γ.
    pub gamma: f64,
    /// Divergence for the penalty: 0 = exact trace (d JVPs per point); m > 0 = Hutchinson's
    /// estimate (1/m) Σ vᵀ(∂s/∂x)v with m Rademacher probes, for high-dimensional data. P of
    /// an estimate is biased upwards by its variance (E[(vᵀJv)²] = (tr J)² + Var).
    #[serde(default)]
    pub divergence_probes: usize,
}

impl LossConfig {
    /// `kind` with the defaults: λ = σ², the SDE's t_eps, one Gaussian projection, no penalty.
    pub fn new(kind: LossKind, sde: &Sde) -> Self {
        Self {
            kind,
            weighting: Weighting::Sigma2,
            t_eps: sde.default_t_eps(),
            time_sampling: TimeSampling::Uniform,
            projections: 1,
            projection: Projection::Gaussian,
            penalty: Penalty::None,
            gamma: 0.0,
            divergence_probes: 0,
        }
    }

    pub fn validate(&self, sde: &Sde) -> Result<(), CoreError> {
        require_positive("t-eps", self.t_eps)?;
        if self.t_eps >= sde.t_end() {
            return Err(CoreError::invalid(
                "t-eps",
                format!("must be below T = {}, got {}", sde.t_end(), self.t_eps),
            ));
        }
        if let Weighting::Edm { sigma_data } = self.weighting {
            require_positive("sigma-data", sigma_data)?;
        }
        if let TimeSampling::LogNormal { mean, std } = self.time_sampling {
            require_finite("p-mean", mean)?;
            require_positive("p-std", std)?;
        }
        if self.kind == LossKind::Ssm {
            require_positive("projections", self.projections as f64)?;
        }
        require_non_negative("gamma", self.gamma)?;
        if self.penalty != Penalty::None && self.gamma == 0.0 {
            return Err(CoreError::invalid(
                "gamma",
                "a divergence penalty needs ⟨gamma⟩ > 0",
            ));
        }
        if self.penalty == Penalty::None && self.gamma != 0.0 {
            return Err(CoreError::invalid(
                "gamma",
                "⟨gamma⟩ weighs a divergence penalty; choose one with ⟨penalty⟩ full|negative|li-yau",
            ));
        }
        if self.kind == LossKind::Hyvarinen && self.divergence_probes > 0 {
            return Err(CoreError::invalid(
                "div-probes",
                "hyvarinen uses the exact divergence; for a stochastic trace use ⟨loss⟩ ssm",
            ));
        }
        Ok(())
    }

    /// Whether the loss needs the divergence of the score.
    pub fn needs_divergence(&self) -> bool {
        self.kind == LossKind::Hyvarinen || self.penalty != Penalty::None
    }

    /// Hutchinson probes per point used for the divergence (0 when it is exact or unused).
    fn hutchinson_probes(&self) -> usize {
        if self.needs_divergence() {
            self.divergence_probes
        } else {
            0
        }
    }

    fn random_projections(&self) -> usize {
        if self.kind == LossKind::Ssm {
            self.projections
        } else {
            0
        }
    }
}

/// The random draws of one batch, made on the host so that they do not depend on the backend.
#[derive(Clone, Debug)]
pub struct Batch {
    pub rows: usize,
    pub dim: usize,
    /// Clean points x₀ [rows·dim].
    pub x0: Vec<f32>,
    pub times: Vec<f64>,
    /// ε ~ N(0, I) [rows·dim].
    pub noise: Vec<f32>,
    /// ssm projections [m·rows·dim], block k for projection k.
    pub projections: Vec<f32>,
    /// Rademacher probes of the Hutchinson divergence [p·rows·dim].
    pub probes: Vec<f32>,
}

impl Batch {
    /// Draws `rows` training points (with replacement), times, noise and projections.
    pub fn draw(
        points: &[f32],
        dim: usize,
        rows: usize,
        config: &LossConfig,
        sde: &Sde,
        rng: &mut impl Rng,
    ) -> Self {
        let n = points.len() / dim;
        let mut x0 = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            let i = rng.random_range(0..n);
            x0.extend_from_slice(&points[i * dim..(i + 1) * dim]);
        }
        let times = (0..rows)
            .map(|_| config.time_sampling.draw(sde, config.t_eps, rng))
            .collect();
        let noise = (0..rows * dim)
            .map(|_| rng.sample(StandardNormal))
            .collect();
        let projections = (0..config.random_projections() * rows * dim)
            .map(|_| config.projection.draw(rng))
            .collect();
        let probes = (0..config.hutchinson_probes() * rows * dim)
            .map(|_| Projection::Rademacher.draw(rng))
            .collect();
        Self {
            rows,
            dim,
            x0,
            times,
            noise,
            projections,
            probes,
        }
    }

    /// Rows `start..start + len` of the batch, with the same rows of every projection and
    /// probe block: the shard one replica of a data-parallel step evaluates.
    pub fn shard(&self, start: usize, len: usize) -> Batch {
        let d = self.dim;
        let rows = |values: &[f32]| values[start * d..(start + len) * d].to_vec();
        let blocks = |values: &[f32]| -> Vec<f32> {
            values
                .chunks(self.rows * d)
                .flat_map(|block| block[start * d..(start + len) * d].iter().copied())
                .collect()
        };
        Batch {
            rows: len,
            dim: d,
            x0: rows(&self.x0),
            times: self.times[start..start + len].to_vec(),
            noise: rows(&self.noise),
            projections: blocks(&self.projections),
            probes: blocks(&self.probes),
        }
    }
}

/// The batch-mean loss, split into the score-matching part and the penalty ([1] tensors).
#[derive(Clone, Debug)]
pub struct LossParts {
    pub total: Tensor<1>,
    pub matching: Tensor<1>,
    pub penalty: Option<Tensor<1>>,
}

/// The tangents pushed through the network with the score: the ssm projections v (k·B rows),
/// then Hutchinson's probes or, for the exact divergence, the basis vectors e_i (d·B rows).
fn tangents(config: &LossConfig, batch: &Batch, device: &Device) -> Vec<Tensor<2>> {
    let (b, d) = (batch.rows, batch.dim);
    let mut tangents = Vec::new();
    let k = config.random_projections();
    if k > 0 {
        tangents.push(host_tensor(batch.projections.clone(), k * b, d, device));
    }
    let probes = config.hutchinson_probes();
    if probes > 0 {
        tangents.push(host_tensor(batch.probes.clone(), probes * b, d, device));
    } else if config.needs_divergence() {
        tangents.push(basis_tangents(d, b, device));
    }
    tangents
}

/// ∇·s per point from the JVP rows after the k·B projection rows: Hutchinson's mean of
/// vᵀ(∂s/∂x)v over the probes, or the exact trace Σ_i e_iᵀ(∂s/∂x)e_i.
fn divergence(
    config: &LossConfig,
    (v, js): (&Tensor<2>, &Tensor<2>),
    b: usize,
    d: usize,
) -> Tensor<1> {
    let start = config.random_projections() * b;
    let probes = config.hutchinson_probes();
    if probes > 0 {
        let rows = probes * b;
        quadratic_forms(
            v.clone().narrow(0, start, rows),
            js.clone().narrow(0, start, rows),
            b,
        ) / probes as f64
    } else {
        trace_from_basis_jvp(js.clone().narrow(0, start, d * b), b)
    }
}

/// dsm per point: λ(t)/σ² · ‖σ s + ε‖² (= λ ‖s + ε/σ‖²).
fn dsm_per_point(
    s: &Tensor<2>,
    m: &Marginals,
    eps: Tensor<2>,
    (lambdas, times): (&[f64], &[f64]),
    sde: &Sde,
    device: &Device,
) -> Tensor<1> {
    let w = column(
        &lambdas
            .iter()
            .zip(times)
            .map(|(l, &t)| l / sde.sigma2(t))
            .collect::<Vec<_>>(),
        device,
    )
    .squeeze_dim::<1>(1);
    (s.clone() * m.sigma.clone() + eps)
        .square()
        .sum_dim(1)
        .squeeze_dim::<1>(1)
        * w
}

/// ½‖s‖² per point.
fn half_norm(s: &Tensor<2>) -> Tensor<1> {
    s.clone().square().sum_dim(1).squeeze_dim::<1>(1) * 0.5
}

/// ssm per point: λ(t) (½‖s‖² + (1/k) Σ_j v_jᵀ(∂s/∂x)v_j) over the k projections.
fn ssm_per_point(
    s: &Tensor<2>,
    (v, js): (&Tensor<2>, &Tensor<2>),
    k: usize,
    lambda: Tensor<1>,
) -> Tensor<1> {
    let b = s.dims()[0];
    let quad = quadratic_forms(
        v.clone().narrow(0, 0, k * b),
        js.clone().narrow(0, 0, k * b),
        b,
    );
    (half_norm(s) + quad / k as f64) * lambda
}

/// The divergence penalty γ · mean(λ P(∇·s)) with P = (∇·s)² (full), min(∇·s, 0)² (negative)
/// or max(0, −∇·s − d/σ²)² (li-yau); None without a penalty.
fn penalty_term(
    config: &LossConfig,
    div: Tensor<1>,
    lambda: Tensor<1>,
    (times, d): (&[f64], usize),
    sde: &Sde,
    device: &Device,
) -> Option<Tensor<1>> {
    let p = match config.penalty {
        Penalty::None => return None,
        Penalty::Full => div.square(),
        Penalty::Negative => div.clamp_max(0.0).square(),
        Penalty::LiYau => {
            let bound = column(
                &times
                    .iter()
                    .map(|&t| d as f64 / sde.sigma2(t))
                    .collect::<Vec<_>>(),
                device,
            )
            .squeeze_dim::<1>(1);
            (-div - bound).clamp_min(0.0).square()
        }
    };
    Some((p * lambda).mean() * config.gamma)
}

/// Evaluates the loss of `net` on `batch` (differentiable on an autodiff device): the
/// per-point objective of the configured loss times λ(t), its batch mean, and the divergence
/// penalty when one is configured.
pub fn evaluate<N: ScoreNetwork>(
    net: &N,
    param: Parameterisation,
    sde: &Sde,
    config: &LossConfig,
    batch: &Batch,
    device: &Device,
) -> LossParts {
    let (b, d) = (batch.rows, batch.dim);
    let m = Marginals::new(sde, &batch.times, device);
    let x0 = host_tensor(batch.x0.clone(), b, d, device);
    let eps = host_tensor(batch.noise.clone(), b, d, device);
    let xt = x0 * m.alpha.clone() + m.shift.clone() + eps.clone() * m.sigma.clone();
    let lambdas: Vec<f64> = batch
        .times
        .iter()
        .map(|&t| config.weighting.at(sde, t))
        .collect();
    let lambda = column(&lambdas, device).squeeze_dim::<1>(1);

    let tangents = tangents(config, batch, device);
    let (s, jvp) = if tangents.is_empty() {
        (network_score(net, param, xt, &m), None)
    } else {
        let v = Tensor::cat(tangents, 0);
        let (s, js) = network_score_jvp(net, param, xt, &m, v.clone());
        (s, Some((v, js)))
    };
    let jvp = jvp.as_ref().map(|(v, js)| (v, js));
    let divergence = jvp
        .filter(|_| config.needs_divergence())
        .map(|jvp| divergence(config, jvp, b, d));

    let per_point = match config.kind {
        LossKind::Dsm => dsm_per_point(&s, &m, eps, (&lambdas, &batch.times), sde, device),
        LossKind::Ssm => {
            let jvp = jvp.expect("ssm computes JVPs");
            ssm_per_point(&s, jvp, config.random_projections(), lambda.clone())
        }
        LossKind::Hyvarinen => {
            let div = divergence
                .clone()
                .expect("hyvarinen computes the divergence");
            (half_norm(&s) + div) * lambda.clone()
        }
    };
    let matching = per_point.mean();
    let penalty = divergence
        .and_then(|div| penalty_term(config, div, lambda, (&batch.times, d), sde, device));
    let total = match &penalty {
        Some(p) => matching.clone() + p.clone(),
        None => matching.clone(),
    };
    LossParts {
        total,
        matching,
        penalty,
    }
}

//! The complete description of a training run, as stored in every checkpoint.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use scorelab_core::datasets::points::STREAM_CHUNK_ROWS;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::error::{require_non_negative, require_positive};
use scorelab_core::{CoreError, Dataset, DatasetSpec, Sde};

use crate::adam::AdamConfig;
use crate::loss::LossConfig;
use crate::mlp::MlpConfig;
use crate::network::Parameterisation;
use crate::unet::UNetConfig;

/// The network architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    Mlp(MlpConfig),
    Unet(UNetConfig),
}

impl ModelConfig {
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Unet(_) => "unet",
        }
    }

    pub fn dim(&self) -> usize {
        match self {
            ModelConfig::Mlp(c) => c.dim,
            ModelConfig::Unet(c) => c.dim(),
        }
    }
}

/// Everything that determines a training run besides the data and the SDE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub parameterisation: Parameterisation,
    pub loss: LossConfig,
    pub adam: AdamConfig,
    /// Decay of the exponential moving average of the weights (sampling uses the average).
    pub ema_decay: f64,
    /// Average the weights of the steps taken with bias correction (see
    /// [`TrainConfig::ema_decay_at`]) instead of starting the average at the initialisation.
    #[serde(default)]
    pub ema_bias_correction: bool,
    pub batch_size: usize,
    /// Total optimisation steps.
    pub steps: u64,
    /// Seed of the initialisation and of every batch draw.
    pub seed: u64,
    /// Write a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Keep this many most recent checkpoints.
    pub keep: usize,
    /// Append a line to log.csv every this many steps.
    pub log_every: u64,
}

impl TrainConfig {
    /// The decay of the moving average's update at step `k` (1-based). Without bias correction
    /// it is β, and after k steps the average still weighs the initial weights by β^k. With it,
    /// the update decays by β_k = β(1 − β^(k−1))/(1 − β^k): the average is then exactly
    /// Σ_j (1 − β)β^(k−j) θ_j / (1 − β^k), the normalised exponential average of the steps'
    /// weights θ_1..θ_k (Adam's bias correction applied to the average; β_1 = 0 takes θ_1).
    pub fn ema_decay_at(&self, k: u64) -> f64 {
        let beta = self.ema_decay;
        if !self.ema_bias_correction || beta == 0.0 {
            return beta;
        }
        let k = k.max(1).min(i32::MAX as u64) as i32;
        beta * (1.0 - beta.powi(k - 1)) / (1.0 - beta.powi(k))
    }

    /// Steps after which an uncorrected average counts as grown up: 3/(1 − β), when the
    /// initial weights keep β^k ≈ e^−3 ≈ 5% of it.
    pub fn ema_grown_steps(&self) -> f64 {
        3.0 / (1.0 - self.ema_decay)
    }

    /// Whether the average after `step` steps still remembers the initialisation noticeably:
    /// without bias correction, fewer than [`TrainConfig::ema_grown_steps`] steps.
    pub fn ema_is_young(&self, step: u64) -> bool {
        !self.ema_bias_correction && (step as f64) < self.ema_grown_steps()
    }

    pub fn validate(&self, sde: &Sde) -> Result<(), CoreError> {
        match &self.model {
            ModelConfig::Mlp(c) => c.validate()?,
            ModelConfig::Unet(c) => c.validate()?,
        }
        self.loss.validate(sde)?;
        if let Parameterisation::Edm { sigma_data } = self.parameterisation {
            require_positive("sigma-data", sigma_data)?;
        }
        self.adam.validate()?;
        require_non_negative("ema-decay", self.ema_decay)?;
        if self.ema_decay >= 1.0 {
            return Err(CoreError::invalid(
                "ema-decay",
                format!("must be < 1, got {}", self.ema_decay),
            ));
        }
        require_positive("batch-size", self.batch_size as f64)?;
        require_positive("steps", self.steps as f64)?;
        require_positive("keep", self.keep as f64)?;
        require_positive("log-every", self.log_every as f64)?;
        Ok(())
    }
}

/// Data space ↔ model space: the network sees y = (x − shift) / scale.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalisation {
    pub shift: f64,
    pub scale: f64,
}

impl Normalisation {
    pub const IDENTITY: Normalisation = Normalisation {
        shift: 0.0,
        scale: 1.0,
    };

    /// The documented default of a dataset: images in [0, 1] are mapped to [−1, 1], point
    /// data is left as it is.
    pub fn default_for(data: &Dataset) -> Self {
        if data.image_shape.is_some() {
            Normalisation {
                shift: 0.5,
                scale: 0.5,
            }
        } else {
            Self::IDENTITY
        }
    }

    pub fn to_model(&self, x: &[f32]) -> Vec<f32> {
        let (shift, scale) = (self.shift as f32, self.scale as f32);
        x.iter().map(|v| (v - shift) / scale).collect()
    }

    pub fn to_data(&self, y: &[f32]) -> Vec<f32> {
        let (shift, scale) = (self.shift as f32, self.scale as f32);
        y.iter().map(|v| v * scale + shift).collect()
    }

    /// The points of `data` mapped to model space, as an n × d tensor on `device`.
    pub fn to_model_tensor(&self, data: &Dataset, device: &Device) -> Tensor<2> {
        tensor_from_rows(&self.to_model(&data.points), data.n, data.dim, device)
    }
}

/// Which training set a model saw: enough to rebuild it and to check it is the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub spec: DatasetSpec,
    /// Seed of the draw or subset.
    pub seed: u64,
    pub name: String,
    pub n: usize,
    pub dim: usize,
    pub image_shape: Option<[usize; 3]>,
    /// SHA-256 of the points as little-endian f32, in data space.
    pub sha256: String,
    pub normalisation: Normalisation,
}

impl DataInfo {
    pub fn describe(spec: DatasetSpec, seed: u64, data: &Dataset) -> Self {
        Self {
            spec,
            seed,
            name: data.name.clone(),
            n: data.n,
            dim: data.dim,
            image_shape: data.image_shape,
            sha256: dataset_hash(data),
            normalisation: Normalisation::default_for(data),
        }
    }
}

/// SHA-256 (hex) of f32 values in little-endian order.
pub fn points_hash(points: &[f32]) -> String {
    let mut hasher = Sha256::new();
    hash_values(&mut hasher, points);
    hex(hasher)
}

/// [`points_hash`] of a dataset's points, read in chunks (a mapped file stays on disk).
pub fn dataset_hash(data: &Dataset) -> String {
    let mut hasher = Sha256::new();
    let Ok(()) = data
        .points
        .for_each_chunk(data.dim, STREAM_CHUNK_ROWS, |_, rows| {
            hash_values(&mut hasher, rows);
            Ok::<(), std::convert::Infallible>(())
        });
    hex(hasher)
}

fn hash_values(hasher: &mut Sha256, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    hasher.update(&bytes);
}

fn hex(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::LossKind;

    fn config(beta: f64, corrected: bool) -> TrainConfig {
        let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
        TrainConfig {
            model: ModelConfig::Mlp(MlpConfig {
                dim: 2,
                width: 16,
                depth: 2,
                embedding: 8,
                residual: false,
            }),
            parameterisation: Parameterisation::Score,
            loss: LossConfig::new(LossKind::Dsm, &sde),
            adam: AdamConfig::default(),
            ema_decay: beta,
            ema_bias_correction: corrected,
            batch_size: 8,
            steps: 10,
            seed: 0,
            checkpoint_every: 0,
            keep: 1,
            log_every: 1,
        }
    }

    /// The moving average run through the per-step decays against its closed forms: with bias
    /// correction Σ_j (1 − β)β^(k−j) θ_j / (1 − β^k), without it β^k θ_0 + Σ_j (1 − β)β^(k−j) θ_j.
    #[test]
    fn bias_corrected_average_is_the_normalised_exponential_average() {
        let beta = 0.9;
        let theta = |j: u64| (j as f64 * 0.7).sin() + 2.0;
        let initial = -5.0;
        for corrected in [true, false] {
            let c = config(beta, corrected);
            let mut average = initial;
            for k in 1..=30u64 {
                let d = c.ema_decay_at(k);
                average = d * average + (1.0 - d) * theta(k);
                let weighted: f64 = (1..=k)
                    .map(|j| (1.0 - beta) * beta.powi((k - j) as i32) * theta(j))
                    .sum();
                let expected = if corrected {
                    weighted / (1.0 - beta.powi(k as i32))
                } else {
                    beta.powi(k as i32) * initial + weighted
                };
                assert!(
                    (average - expected).abs() < 1e-12,
                    "corrected {corrected}, step {k}: {average} against {expected}"
                );
            }
        }
        let c = config(beta, true);
        assert_eq!(c.ema_decay_at(1), 0.0, "the first step's weights");
        assert!(
            (c.ema_decay_at(100_000) - beta).abs() < 1e-15,
            "β in the long run"
        );
        assert_eq!(config(0.0, true).ema_decay_at(3), 0.0);
    }
}

//! scorelab-train: score networks with forward-mode Jacobian–vector products, the
//! score-matching losses of DESIGN §5, Adam with an EMA of the weights, the training loop and
//! checkpoints (DESIGN §7).
//!
//! Map of the modules:
//! - [`network`]: the `ScoreNetwork` trait, the output parameterisations (score, eps, EDM's
//!   c_skip/c_out/c_in/c_noise of Karras et al. 2022, Table 1) and the score's JVPs;
//! - [`mlp`], [`unet`]: the two networks, each with hand-written tangent propagation (autodiff
//!   is first order only); [`activation`]: SiLU and its slope; [`host_conv`]: the U-Net's
//!   convolutions on the CPU (1×1 and 3×3, stride 1 or 2: im2col + one GEMM per group of
//!   images, with their backward pass);
//!   [`host_norm`]: GroupNorm followed by SiLU as one pass on the CPU, with its backward pass;
//! - [`loss`]: dsm, ssm, Hyvärinen, the divergence penalties, weightings λ(t) and training-time
//!   laws (DESIGN §5; Claustre Thms 4.1–4.6; EDM's eq. 8 weighting and log-normal σ);
//! - [`adam`]: Adam with warm-up, clipping and the EMA; [`trainer`]: steps, runs, resumption;
//! - [`config`]: `TrainConfig`, `DataInfo`, `Normalisation` (data ↔ model space);
//! - [`checkpoint`]: the checkpoint format (DESIGN §7), loading a network as a `ScoreFn`;
//!   [`integrity`]: SHA-256 of weight files; [`params`]: parameters as flat vectors;
//! - [`multi_device`]: data-parallel steps over several devices (burn-train's MultiDevice
//!   pattern: shards weighted n_r/B, gradients summed on the main device);
//! - [`training_set`]: which training set a checkpoint belongs to; [`inspect`]: what a
//!   checkpoint, run or classifier folder holds, as named rows;
//! - [`classifier`]: the MNIST classifier whose features give the Fréchet distance;
//! - [`error`]: the typed errors, `TrainError`.

pub mod activation;
pub mod adam;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod error;
pub mod host_conv;
pub mod host_dense;
pub mod host_norm;
#[cfg(test)]
mod host_test_support;
pub mod inspect;
pub mod integrity;
pub mod loss;
pub mod mlp;
pub mod multi_device;
pub mod network;
pub mod params;
pub mod trainer;
pub mod training_set;
pub mod unet;

pub use checkpoint::{load_score, load_score_weights, Meta, NetworkScore};
pub use classifier::{
    load_classifier, save_classifier, train_classifier, Classifier, ClassifierConfig,
    ClassifierMeta, ClassifierProgress, ClassifierReport,
};
pub use config::{DataInfo, ModelConfig, Normalisation, TrainConfig};
pub use error::{Result, TrainError};
pub use loss::{LossConfig, LossKind, Penalty, Projection, TimeSampling, Weighting};
pub use mlp::{Mlp, MlpConfig};
pub use network::{Parameterisation, ScoreNetwork};
pub use trainer::{run, Observer, RunOutcome, StepReport, Trainer};
pub use unet::{UNet, UNetConfig};

//! scorelab-train: score networks with forward-mode Jacobian–vector products, the
//! score-matching losses of DESIGN §5, Adam with an EMA of the weights, the training loop and
//! checkpoints (DESIGN §7).

pub mod activation;
pub mod adam;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod error;
pub mod integrity;
pub mod loss;
pub mod mlp;
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

//! scorelab-analysis: how close generated samples sit to the training set (DESIGN §6), along
//! reverse paths and at their ends, sample quality against fresh data, and the pictures.
//!
//! Map of the modules:
//! - [`memorization`]: d1, d2, memorised when d1/d2 < 1/3, copies per training point;
//! - [`paths`]: reverse paths against the empirical score: d1(τ), score gap, the Girsanov /
//!   Novikov exponent ((1 + ε)²/4ε) ∫ ½ g² ‖s − s_emp‖², the Li–Yau bound ∇·s ≥ −d/σ²
//!   (Pidstrigach Figs. 3a, 4);
//! - [`rate`]: the imitation rate, slope of log d1 against log τ (Liu–Zuazua Thm 3.11);
//! - [`tmin`]: early stopping, memorisation and quality against t_min (Liu–Zuazua §3);
//! - [`training_eval`]: memorisation of the EMA network measured during training (`eval.csv`);
//! - [`cells`]: Voronoi-cell trapping of reverse paths (Cao et al., Prop. 4.4);
//! - [`likelihood`]: log p_0 through the probability-flow ODE (Song et al. 2021, the
//!   instantaneous change of variables), RK4 or adaptive RK45;
//! - [`fisher`]: Fisher divergence E‖s_θ − ∇log p_t‖² to a known score;
//! - [`agreement`]: two scores from disjoint training sets (Kadkhodaie et al. 2024);
//! - [`quality`]: sliced W2 and energy distance; [`frechet`]: Fréchet distance of features;
//!   [`compare`]: two sample sets side by side;
//! - [`stats`]: summaries, quantiles, moving averages, histograms; [`plot`]: the pictures;
//! - [`error`]: the typed errors, `AnalysisError`.

pub mod agreement;
pub mod cells;
pub mod compare;
pub mod error;
pub mod fisher;
pub mod frechet;
pub mod likelihood;
pub mod memorization;
pub mod paths;
pub mod plot;
pub mod quality;
pub mod rate;
pub mod stats;
pub mod tmin;
pub mod training_eval;

pub use error::{AnalysisError, Result};
pub use frechet::{class_histogram, frechet_distance};

/// The chunked nearest-neighbour engine (d1, d2 and their indices) lives in the core crate,
/// where the samplers' summaries use it too.
pub use scorelab_core::nearest;

//! scorelab-core: forward SDEs, datasets, the `ScoreFn` abstraction, the empirical score and
//! the exact scores of analytic distributions.
//!
//! Map of the modules (DESIGN sections and formulas):
//! - [`sde`]: the seven linear SDEs dX = (a(t)X + b(t)) dt + g(t) dW (DESIGN §2) with their
//!   marginals X_t | x ~ N(α x + c, σ² I), priors, Markov kernels and σ̃ = σ/α;
//! - [`score`]: the `ScoreFn` trait s(x, τ) ≈ ∇ log p_τ(x) with its divergence and Hutchinson
//!   estimate (DESIGN §4), `Times`, the perturbed score s + e (Pidstrigach Fig. 2b);
//! - [`empirical`]: the empirical score (α Σ w_k y_k + c − x)/σ² with the softmax weights and
//!   the divergence (α²/σ⁴)(Σ w_k‖y_k‖² − ‖Σ w_k y_k‖²) − d/σ², streamed over chunks;
//! - [`gmm`]: Gaussian mixtures, their law under any SDE and exact score;
//! - [`nearest`]: chunked nearest and second-nearest neighbours (d1, d2; DESIGN §6);
//! - [`datasets`]: Swiss roll, lemniscate, circle, Diracs, mixtures, MNIST (IDX, verified),
//!   CSV and `.npy` files, with seeded subsets and parts;
//! - [`device`]: the burn backends by name (flex, ndarray, wgpu) and tensor ↔ host copies;
//! - [`devices`]: device lists for data-parallel training (`cpu:0,cpu:1`, `wgpu:all`);
//! - [`output`]: output folders written atomically (temporary name, rename, a manifest for
//!   forced rewrites) and summary tables of one row per run;
//! - [`options`]: option names in library messages (`⟨name⟩`), spelled by each front end;
//! - [`error`]: the typed errors, `CoreError`.

pub mod datasets;
pub mod device;
pub mod devices;
pub mod empirical;
mod empirical_host;
pub mod error;
pub mod fast_exp;
pub mod flex_host;
pub mod gmm;
pub mod host_buffers;
pub mod host_gemm;
pub mod host_simd;
pub mod nearest;
pub mod options;
pub mod output;
pub mod score;
pub mod sde;

pub use datasets::{Dataset, DatasetSpec};
pub use device::{open_device, wgpu_adapter, AdapterDescription, BackendKind};
pub use devices::DeviceList;
pub use empirical::EmpiricalScore;
pub use error::{CoreError, Result};
pub use gmm::{Gmm, GmmScore};
pub use score::{PerturbedScore, ScoreFn, Times};
pub use sde::{MarkovKernel, Sde, SdeParams};

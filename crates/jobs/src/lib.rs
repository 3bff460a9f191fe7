//! scorelab-jobs: the commands of scorelab as typed library calls, over the four libraries.
//!
//! Map of the modules:
//! - [`options`]: which data (`DataOptions` → `DatasetSpec`) and which SDE (`SdeOptions` →
//!   `Sde`, ve's σ_max from the largest pairwise distance, Song & Ermon 2020) a set of named
//!   options means, and the text forms of option values (lists, points, parts);
//! - [`score_jobs`]: `analyze fisher`, `agreement` and `training` — a score against the exact
//!   mixture score, two scores from the same noise, and the evaluation curves of runs;
//! - [`score_source`]: which score (`ScoreOptions` → `ScoreSource`): the empirical score
//!   (DESIGN §4), the exact score of the Gaussian mixture, or a trained network from a
//!   checkpoint with its rebuilt training set, perturbed by a constant vector on request, and
//!   the law of X_T (nominal, moment-matched, exact p_T);
//! - [`path_jobs`]: `analyze paths`, `tmin` and `rate` — a score against the empirical score
//!   along the same reverse paths (d1, score gap, Novikov exponent, Li–Yau bound), memorisation
//!   and quality against t_min, and the imitation rate (Liu–Zuazua Thm 3.11);
//! - [`plot_job`]: `scorelab plot` — columns of a CSV table drawn as curves;
//! - [`sample_job`]: `scorelab sample` — reverse-time dynamics from a prior, non-finite rows,
//!   the pixel range, the d1/d2 criterion, and the samples, pictures and summary it writes;
//! - [`train_job`]: `scorelab train` — the run configuration from named options (model, loss,
//!   weighting, EDM's σ_data as √E\[x²\]), a fresh or resumed run on one or several devices with
//!   the during-training evaluation, and loss.png;
//! - [`forward_job`]: `scorelab forward` — the marginals X_t = α x₀ + c + σ z of 2-D data at
//!   chosen times, and the sliced W2 of X_T to the prior (Claustre, Fig. 1);
//! - [`likelihood_job`]: `analyze likelihood` — the probability-flow NLL per dimension of a
//!   file or of the training set beside fresh data (Song et al. 2021, App. D), bits/dim for
//!   dequantised images, and the fresh − training gap;
//! - [`memorization_job`]: `analyze memorization` — the training set a samples file belongs
//!   to, the d1/d2 section with fresh data, its files and its summary-table row;
//! - [`quality`]: the classifier Fréchet distance (Heusel et al. 2017) of images and their
//!   predicted-class frequencies, next to a test subset's noise floor;
//! - [`bench`](mod@bench): the timed workloads of DESIGN §8 (W1–W5, the matrix-product peak) as their
//!   PyTorch twins measure them, one JSON record each;
//! - [`cells_job`]: `analyze cells` — Voronoi-cell trapping of reverse paths (Cao et al.,
//!   Fig. 10);
//! - [`compare_job`]: `analyze compare` — sliced W2, energy distance and the classifier
//!   Fréchet distance between two sample files, beside a noise floor;
//! - [`demo`]: `scorelab demo` — train, sample the model and the empirical score, memorisation,
//!   reverse paths and report.md, as one call;
//! - [`error`]: the typed errors, `JobError`.
//!
//! The jobs know nothing of terminals or exit codes: a front end (the command line, a test,
//! another program) builds the options, shows progress through the callbacks and observers it
//! passes, and maps `JobError` to what its users see. With the `clap` feature the option and
//! job types also derive `clap::Args` (their doc comments are the flags' help), so the command
//! line parses straight into them; without it the crate does not depend on clap.

pub mod bench;
pub mod cells_job;
pub mod compare_job;
pub mod demo;
pub mod error;
pub mod forward_job;
pub mod likelihood_job;
pub mod memorization_job;
pub mod options;
pub mod path_jobs;
pub mod plot_job;
pub mod quality;
pub mod sample_job;
pub mod score_jobs;
pub mod score_source;
pub mod train_job;

pub use demo::{run_demo, DemoDevice, DemoObserver, DemoOptions};
pub use error::{JobError, Result};
pub use options::{parse_list, parse_perturbation, DataOptions, SdeOptions};
pub use sample_job::{PreparedSample, SampleJob, SampleRun};
pub use score_source::{ScoreOptions, ScoreSource};
pub use train_job::{
    resume_training, start_training, EvaluationOptions, ResumeOptions, TrainOptions, TrainingDone,
    TrainingRun,
};

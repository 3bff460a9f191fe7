//! The flags of `sample`, `forward`, `demo` and `plot`.

use std::path::PathBuf;

use clap::Args;

use scorelab_jobs::forward_job::ForwardJob;
use scorelab_jobs::{DemoOptions, ScoreOptions};
use scorelab_sample::SamplerOptions;

#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// TOML or JSON file of options, keyed by long flag names (e.g. `t-min = 1e-4`); flags
    /// given on the command line override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub source: ScoreOptions,
    #[command(flatten)]
    pub integrator: SamplerOptions,
    /// Finish with one Tweedie denoising step at t-min.
    #[arg(long)]
    pub denoise: bool,
    /// Record the whole batch at these times τ (comma-separated) into path.npy.
    #[arg(long)]
    pub record: Option<String>,
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder.
    #[arg(long, default_value = "out/sample")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists (overwriting files of the same name).
    #[arg(long)]
    pub force: bool,
    /// Keep only the finite samples if some diverge (otherwise that is an error).
    #[arg(long)]
    pub keep_finite: bool,
    /// Images: keep the raw values in samples.npy instead of clipping them to the pixel range
    /// [0, 1] (the fraction outside is reported either way; PNGs always clip).
    #[arg(long)]
    pub no_clip: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub options: DemoOptions,
    /// Backend: cpu (flex), ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists (overwriting files of the same name).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// CSV file with a header line.
    #[arg(long)]
    pub csv: PathBuf,
    /// Column of the abscissa.
    #[arg(long)]
    pub x: String,
    /// Columns to draw (comma-separated).
    #[arg(long)]
    pub y: String,
    /// Logarithmic abscissa.
    #[arg(long)]
    pub log_x: bool,
    /// Logarithmic ordinate.
    #[arg(long)]
    pub log_y: bool,
    /// Title of the plot.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Output PNG file.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub job: ForwardJob,
    /// Output folder.
    #[arg(long, default_value = "out/forward")]
    pub out: PathBuf,
    /// Write into the output folder even if it exists.
    #[arg(long)]
    pub force: bool,
}

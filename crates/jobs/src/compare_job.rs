//! `analyze compare` as a library call: sliced W2, energy distance and (for MNIST-sized
//! images) the classifier Fréchet distance between any two sample files, each next to the
//! noise floor of two halves of the second file.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde_json::{json, Value};

use scorelab_analysis::compare::{compare_samples, compare_with};
use scorelab_analysis::frechet::frechet_distance;
use scorelab_core::datasets::load_points_file;
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::output::OutputDir;
use scorelab_train::classifier::{FEATURES, PIXELS};

use crate::error::{JobError, Result};
use crate::quality::open_classifier;
use crate::score_source::Warn;

/// Two sample files (.npy or CSV) and the seed of the half split (with the `clap` feature:
/// the flags of `analyze compare`).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct CompareJob {
    /// Samples to judge (.npy of any shape [n, ...], or CSV).
    #[cfg_attr(feature = "clap", arg(long))]
    pub a: PathBuf,
    /// Reference samples (.npy or CSV); two halves of it give the noise floor.
    #[cfg_attr(feature = "clap", arg(long))]
    pub b: PathBuf,
    /// Seed of the split into halves and of the sliced-W2 directions.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Classifier checkpoint (from `scorelab train-classifier`) for the quality of MNIST
    /// samples [default: the reference classifier shipped in checkpoints/mnist-classifier].
    #[cfg_attr(feature = "clap", arg(long))]
    pub classifier: Option<PathBuf>,
}

/// The measured comparison: its record and one line per metric.
pub struct Comparison {
    record: Value,
    pub lines: Vec<String>,
}

/// A set of rows of `dim` values as a tensor.
fn read(path: &Path, device: &Device) -> Result<(Tensor<2>, usize, usize)> {
    let points = load_points_file(path)?;
    let (values, dim) = (points.points.into_vec(), points.dim);
    let n = values.len() / dim;
    Ok((tensor_from_rows(&values, n, dim, device), n, dim))
}

impl CompareJob {
    /// Reads both files and measures them.
    pub fn run(&self, device: &Device, warn: Warn) -> Result<Comparison> {
        let (a, na, dim) = read(&self.a, device)?;
        let (b, nb, dim_b) = read(&self.b, device)?;
        if dim != dim_b {
            return Err(JobError::failed(format!(
                "{} has rows of dimension {dim} but {} of dimension {dim_b}",
                self.a.display(),
                self.b.display()
            )));
        }
        let classifier = match dim == PIXELS {
            true => open_classifier(self.classifier.as_ref(), device, warn)?,
            false => None,
        };
        let quality = compare_samples(&a, &b, self.seed)?;
        let frechet = classifier
            .map(|classifier| {
                compare_with(&a, &b, self.seed, |x, y| {
                    let features = |t: &Tensor<2>| to_vec(classifier.features(t.clone()));
                    frechet_distance(&features(x), &features(y), FEATURES)
                })
            })
            .transpose()?;
        let line = |name: &str, full: f64, half: f64, floor: f64| {
            format!(
                "{name}: A vs B {full:.4}; at half size A vs B {half:.4}, noise floor B vs B {floor:.4}"
            )
        };
        let (full, half, floor) = (
            &quality.a_vs_b,
            &quality.a_half_vs_b_half,
            &quality.noise_floor_b_half_vs_b_half,
        );
        let mut lines = vec![
            line("sliced W2", full.sliced_w2, half.sliced_w2, floor.sliced_w2),
            line(
                "energy distance",
                full.energy_distance,
                half.energy_distance,
                floor.energy_distance,
            ),
        ];
        if let Some(f) = &frechet {
            lines.push(line(
                "classifier Fréchet distance",
                f.a_vs_b,
                f.a_half_vs_b_half,
                f.noise_floor_b_half_vs_b_half,
            ));
        }
        let record = json!({
            "command": "analyze compare",
            "a": { "path": self.a, "n": na },
            "b": { "path": self.b, "n": nb },
            "dim": dim,
            "seed": self.seed,
            "noise_floor": "the metric between two halves of b (seeded split); a_half_vs_b_half is A at that size",
            "quality": quality,
            "classifier_frechet": frechet,
        });
        Ok(Comparison { record, lines })
    }
}

impl Comparison {
    /// Writes compare.json.
    pub fn write(&self, out: &OutputDir) -> Result<()> {
        out.write_json("compare.json", &self.record)?;
        Ok(())
    }
}

//! Datasets: Swiss roll, lemniscate, circle, Diracs, Gaussian mixture, MNIST and CSV files.
//!
//! Every dataset is a row-major f32 matrix of N points in R^d, drawn from a seed; point data
//! live on the scale of the unit disc (Swiss roll divided by 7), MNIST pixels in [0, 1].

mod csv;
mod curve;
mod mnist;
mod npy;
pub mod points;
mod swissroll;
mod toy;

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use self::csv::{load_csv, parse_csv};
pub use self::curve::distance_to_curve;
pub use self::mnist::{decompress, load_mnist, parse_idx_header, MnistSplit, MNIST_FILES};
pub use self::npy::{encode_npy, fortran_to_c_order, load_npy, open_npy, parse_npy};
pub use self::points::Points;
pub use self::swissroll::{swissroll, swissroll_curve_distance, SWISSROLL_SCALE};
pub use self::toy::{circle, diracs, lemniscate, lemniscate_curve_distance};

use crate::device::tensor_from_rows;
use crate::error::{CoreError, Result};
use crate::gmm::Gmm;

/// The names accepted on the command line.
pub const DATASET_NAMES: [&str; 7] = [
    "swissroll",
    "lemniscate",
    "circle",
    "diracs",
    "gmm",
    "mnist",
    "csv",
];

/// A finite set of points, with image shape and labels where they exist.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// A short description (`swissroll`, `mnist/train` ...).
    pub name: String,
    /// Row-major points, `n × dim`: in memory, or mapped from a `.npy` file.
    pub points: Points,
    pub n: usize,
    pub dim: usize,
    /// `[channels, height, width]` for images.
    pub image_shape: Option<[usize; 3]>,
    /// Class labels, one per point, where the data have them.
    pub labels: Option<Vec<u8>>,
}

/// The seed of the subset [`Dataset::max_pairwise_distance`] measures.
pub const MAX_DISTANCE_SEED: u64 = 0x5eed;

/// The value range of image pixels (MNIST levels divided by 255).
pub const PIXEL_RANGE: (f32, f32) = (0.0, 1.0);

/// The fraction of `values` outside [lo, hi] (diffusers' `clip_sample` reports the same), and,
/// when `clip` is set, those values moved to the nearest end of the range.
pub fn clip_to_range(values: &mut [f32], (lo, hi): (f32, f32), clip: bool) -> f64 {
    let mut outside = 0usize;
    for v in values.iter_mut() {
        if *v < lo || *v > hi {
            outside += 1;
            if clip {
                *v = v.clamp(lo, hi);
            }
        }
    }
    outside as f64 / values.len().max(1) as f64
}

impl Dataset {
    /// The range of the data's values where it has one by construction (image pixels).
    pub fn value_range(&self) -> Option<(f32, f32)> {
        self.image_shape.map(|_| PIXEL_RANGE)
    }

    /// A point dataset from row-major values.
    pub fn from_points(name: impl Into<String>, points: Vec<f32>, dim: usize) -> Self {
        let n = points.len().checked_div(dim).unwrap_or(0);
        Dataset {
            name: name.into(),
            points: points.into(),
            n,
            dim,
            image_shape: None,
            labels: None,
        }
    }

    /// Point `i` as a slice of length `dim`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }

    /// The points as an `n × dim` tensor.
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        tensor_from_rows(&self.points, self.n, self.dim, device)
    }

    /// The points with the given indices, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut points = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            points.extend_from_slice(self.row(i));
        }
        Dataset {
            name: self.name.clone(),
            points: points.into(),
            n: indices.len(),
            dim: self.dim,
            image_shape: self.image_shape,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
        }
    }

    /// A seeded random subset of `n` points (without replacement), or all when `n >= len`.
    pub fn subset(&self, n: usize, seed: u64) -> Dataset {
        if n >= self.n {
            return self.clone();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let indices = rand::seq::index::sample(&mut rng, self.n, n).into_vec();
        self.select(&indices)
    }

    /// Part `i` of `k` disjoint contiguous parts (numbered from 1) of a seeded permutation of
    /// the points: parts with the same seed never share a point.
    pub fn part(&self, i: usize, k: usize, seed: u64) -> Result<Dataset> {
        if k == 0 || i == 0 || i > k || k > self.n {
            return Err(CoreError::invalid(
                "part",
                format!(
                    "needs 1 <= i <= k <= {} (the number of points), got {i}/{k}",
                    self.n
                ),
            ));
        }
        let mut indices: Vec<usize> = (0..self.n).collect();
        indices.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (start, end) = ((i - 1) * self.n / k, i * self.n / k);
        Ok(self.select(&indices[start..end]))
    }

    /// The largest pairwise distance (Song & Ermon's σ_max for the VE SDE), computed exactly
    /// on at most `max_points` points (a seeded subset beyond that).
    pub fn max_pairwise_distance(&self, max_points: usize) -> f64 {
        let data = self.subset(max_points, MAX_DISTANCE_SEED);
        let mut best = 0.0f64;
        for i in 0..data.n {
            let a = data.row(i);
            for j in (i + 1)..data.n {
                let d2: f64 = a
                    .iter()
                    .zip(data.row(j))
                    .map(|(x, y)| ((x - y) as f64).powi(2))
                    .sum();
                best = best.max(d2);
            }
        }
        best.sqrt()
    }
}

/// Points from a file: CSV when the name ends in `.csv`, else `.npy` (read into memory).
pub fn load_points_file(path: &std::path::Path) -> Result<Dataset> {
    if path.extension().is_some_and(|e| e == "csv") {
        load_csv(path)
    } else {
        load_npy(path)
    }
}

/// What to load: a dataset name with its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum DatasetSpec {
    /// `n` points of the Swiss roll with Gaussian `noise` (before scaling).
    Swissroll { n: usize, noise: f64 },
    /// `n` points of Bernoulli's lemniscate with Gaussian `noise`.
    Lemniscate { n: usize, noise: f64 },
    /// `k` evenly spaced points on the unit circle.
    Circle { k: usize },
    /// The given points.
    Diracs { points: Vec<Vec<f64>> },
    /// `n` draws from a Gaussian mixture.
    Gmm { n: usize, gmm: Gmm },
    /// MNIST images from `dir`, optionally a seeded subset of `n`; with `part` = (i, k) only
    /// the i-th of k disjoint parts of a seeded permutation (then the first `n` of it).
    Mnist {
        dir: PathBuf,
        split: MnistSplit,
        n: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<(usize, usize)>,
    },
    /// Points from a CSV file, or from a `.npy` file when the path ends in `.npy`.
    Csv { path: PathBuf },
}

impl DatasetSpec {
    /// Loads or draws the dataset; `seed` fixes every random choice.
    pub fn load(&self, seed: u64) -> Result<Dataset> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match self {
            DatasetSpec::Swissroll { n, noise } => swissroll(*n, *noise, &mut rng),
            DatasetSpec::Lemniscate { n, noise } => lemniscate(*n, *noise, &mut rng),
            DatasetSpec::Circle { k } => circle(*k),
            DatasetSpec::Diracs { points } => diracs(points),
            DatasetSpec::Gmm { n, gmm } => {
                require_count("n-train", *n)?;
                let (points, labels) = gmm.sample(*n, &mut rng);
                let mut data = Dataset::from_points("gmm", points, gmm.dim());
                data.labels = Some(labels.into_iter().map(|k| k as u8).collect());
                Ok(data)
            }
            DatasetSpec::Mnist {
                dir,
                split,
                n,
                part,
            } => {
                let mut data = load_mnist(dir, *split)?;
                if let Some((i, k)) = *part {
                    data = data.part(i, k, seed)?;
                }
                Ok(match n {
                    Some(n) => {
                        require_count("n-train", *n)?;
                        if part.is_some() {
                            data.select(&(0..(*n).min(data.n)).collect::<Vec<_>>())
                        } else {
                            data.subset(*n, seed)
                        }
                    }
                    None => data,
                })
            }
            DatasetSpec::Csv { path } if path.extension().is_some_and(|e| e == "npy") => {
                open_npy(path)
            }
            DatasetSpec::Csv { path } => load_csv(path),
        }
    }

    /// The distance from a point to the noiseless curve a 2-D dataset is drawn from (Swiss
    /// roll, lemniscate): the on-manifold measure of samples. None for other datasets.
    pub fn curve_distance(&self) -> Option<fn(f64, f64) -> f64> {
        match self {
            DatasetSpec::Swissroll { .. } => Some(swissroll_curve_distance),
            DatasetSpec::Lemniscate { .. } => Some(lemniscate_curve_distance),
            _ => None,
        }
    }

    /// `n` fresh points from the distribution this training set was drawn from, when it has
    /// one: a new draw of a drawn dataset (load it with another seed), or the MNIST test split
    /// for the training split. Fixed point sets (circle, diracs, CSV) have none.
    pub fn fresh(&self, n: usize) -> Option<DatasetSpec> {
        match self {
            DatasetSpec::Swissroll { noise, .. } => {
                Some(DatasetSpec::Swissroll { n, noise: *noise })
            }
            DatasetSpec::Lemniscate { noise, .. } => {
                Some(DatasetSpec::Lemniscate { n, noise: *noise })
            }
            DatasetSpec::Gmm { gmm, .. } => Some(DatasetSpec::Gmm {
                n,
                gmm: gmm.clone(),
            }),
            DatasetSpec::Mnist {
                dir,
                split: MnistSplit::Train,
                ..
            } => Some(DatasetSpec::Mnist {
                dir: dir.clone(),
                split: MnistSplit::Test,
                n: Some(n.min(10_000)),
                part: None,
            }),
            _ => None,
        }
    }
}

/// Rejects a count of zero.
pub(crate) fn require_count(name: &str, n: usize) -> Result<()> {
    if n == 0 {
        Err(CoreError::invalid(name, "must be >= 1"))
    } else {
        Ok(())
    }
}

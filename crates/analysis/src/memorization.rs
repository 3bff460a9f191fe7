//! Memorisation metrics (DESIGN §6): for each generated sample the distances d1 and d2 to its
//! first and second nearest training points; a sample counts as memorised when d1/d2 < 1/3
//! (the threshold is a parameter). The same numbers for fresh draws from the data distribution
//! give the level at which a generalising model sits.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::device::to_vec;
use scorelab_core::nearest::{two_nearest_neighbours, two_nearest_neighbours_in, TwoNearest};
use scorelab_core::{Dataset, DatasetSpec};

use crate::error::{AnalysisError, Result};
use crate::plot::{histograms_png, Series};
use crate::quality::{quality, Quality, SLICED_W2_MAX_DIM};
use crate::stats::{summarise, Summary};

/// The usual memorisation threshold on d1/d2.
pub const DEFAULT_THRESHOLD: f64 = 1.0 / 3.0;

/// Per-point nearest-neighbour results against the training set.
#[derive(Clone, Debug)]
pub struct Neighbours {
    pub nearest: TwoNearest,
    /// d1/d2 for every point (0 where d1 = d2 = 0, i.e. duplicated training points).
    pub ratio: Vec<f64>,
}

/// Aggregates of [`Neighbours`] over a point set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemorisationStats {
    pub count: usize,
    pub threshold: f64,
    /// Fraction of points with d1/d2 < threshold.
    pub memorised_fraction: f64,
    pub d1: Summary,
    pub ratio: Summary,
}

impl Neighbours {
    /// d1 of every point, as f64.
    pub fn d1_values(&self) -> Vec<f64> {
        self.nearest.d1.iter().map(|&v| v as f64).collect()
    }
}

/// d1/d2 with 0/0 = 0 (a point on a duplicated training point is a copy).
fn ratio(d1: f32, d2: f32) -> f64 {
    if d2 > 0.0 {
        d1 as f64 / d2 as f64
    } else {
        0.0
    }
}

/// The two nearest training points of every row of `points`.
pub fn neighbours(points: &Tensor<2>, training: &Tensor<2>) -> Result<Neighbours> {
    let [n, dt] = training.dims();
    check_sizes(points, n, dt)?;
    Ok(with_ratios(two_nearest_neighbours(points, training)))
}

/// [`neighbours`] against a training set read chunk by chunk from the host (a `.npy` file
/// mapped from disk stays there: memory does not grow with its size).
pub fn neighbours_in(points: &Tensor<2>, training: &Dataset) -> Result<Neighbours> {
    check_sizes(points, training.n, training.dim)?;
    Ok(with_ratios(two_nearest_neighbours_in(
        points,
        &training.points,
    )))
}

fn check_sizes(points: &Tensor<2>, n: usize, dt: usize) -> Result<()> {
    let [m, d] = points.dims();
    if d != dt {
        return Err(AnalysisError::Shape(format!(
            "points have dimension {d} but the training set has dimension {dt}"
        )));
    }
    if m == 0 || n < 2 {
        return Err(AnalysisError::invalid(
            "points",
            format!("need at least one point and two training points, got {m} and {n}"),
        ));
    }
    Ok(())
}

fn with_ratios(nearest: TwoNearest) -> Neighbours {
    let ratio = nearest
        .d1
        .iter()
        .zip(&nearest.d2)
        .map(|(&a, &b)| ratio(a, b))
        .collect();
    Neighbours { nearest, ratio }
}

/// Checks a threshold on d1/d2: it must lie in (0, 1].
pub fn validate_threshold(threshold: f64) -> Result<()> {
    if threshold > 0.0 && threshold <= 1.0 {
        Ok(())
    } else {
        Err(AnalysisError::invalid(
            "threshold",
            format!("must lie in (0, 1], got {threshold}"),
        ))
    }
}

/// Summarises neighbours: memorised fraction, and the d1 and d1/d2 distributions.
pub fn memorisation_stats(neighbours: &Neighbours, threshold: f64) -> Result<MemorisationStats> {
    validate_threshold(threshold)?;
    let count = neighbours.ratio.len();
    let memorised = neighbours.ratio.iter().filter(|&&r| r < threshold).count();
    Ok(MemorisationStats {
        count,
        threshold,
        memorised_fraction: memorised as f64 / count as f64,
        d1: summarise(neighbours.nearest.d1.iter().map(|&v| v as f64)),
        ratio: summarise(neighbours.ratio.iter().copied()),
    })
}

/// Which training points the memorised samples copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyStats {
    /// Training points that at least one memorised sample copies.
    pub distinct_copied: usize,
    /// The most copies of a single training point.
    pub max_copies: usize,
    /// Memorised samples per training point (only for training sets of at most
    /// [`COPY_COUNTS_MAX_TRAINING`] points).
    pub counts: Option<Vec<usize>>,
}

/// Training sets up to this size get their per-point copy counts written out.
pub const COPY_COUNTS_MAX_TRAINING: usize = 1000;

/// Counts, for each of `n_train` training points, the samples memorised (d1/d2 < threshold)
/// with that point as their nearest.
pub fn copy_stats(neighbours: &Neighbours, threshold: f64, n_train: usize) -> CopyStats {
    let mut counts = vec![0usize; n_train];
    for (&i, &r) in neighbours.nearest.i1.iter().zip(&neighbours.ratio) {
        if r < threshold && i < n_train {
            counts[i] += 1;
        }
    }
    CopyStats {
        distinct_copied: counts.iter().filter(|&&c| c > 0).count(),
        max_copies: counts.iter().copied().max().unwrap_or(0),
        counts: (n_train <= COPY_COUNTS_MAX_TRAINING).then_some(counts),
    }
}

/// Fresh draws of the training distribution: one to compare with, one for the noise floor.
pub struct Baselines {
    pub fresh: Option<Tensor<2>>,
    pub floor: Option<Tensor<2>>,
}

impl Baselines {
    /// Two independent fresh draws of `n` points (seeds after `seed`), when `spec` has any.
    pub fn draw(spec: &DatasetSpec, seed: u64, n: usize, device: &Device) -> Result<Self> {
        let Some(fresh_spec) = spec.fresh(n) else {
            return Ok(Baselines {
                fresh: None,
                floor: None,
            });
        };
        let fresh = fresh_spec.load(seed.wrapping_add(1))?;
        // The MNIST test split is finite: the noise floor is a second, disjoint-seeded subset.
        let floor = fresh_spec.load(seed.wrapping_add(2))?;
        Ok(Baselines {
            fresh: Some(fresh.to_tensor(device)),
            floor: Some(floor.to_tensor(device)),
        })
    }
}

/// The d1 histogram of samples (and fresh points) as PNG bytes.
pub fn d1_histogram(
    title: &str,
    samples: &Neighbours,
    fresh: Option<&Neighbours>,
) -> Result<Vec<u8>> {
    let own = samples.d1_values();
    let theirs = fresh.map(Neighbours::d1_values);
    let mut series = vec![Series {
        label: "samples",
        values: &own,
    }];
    if let Some(values) = &theirs {
        series.push(Series {
            label: "fresh data",
            values,
        });
    }
    histograms_png(
        title,
        "distance to the nearest training point d1",
        &series,
        40,
        true,
    )
}

/// The distance of samples and fresh points to the curve a 2-D dataset is drawn from.
#[derive(Clone, Debug, Serialize)]
pub struct OnManifold {
    pub samples: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh: Option<Summary>,
}

/// Sliced W2 and energy distance of the samples to fresh data, beside two fresh draws.
#[derive(Clone, Debug, Serialize)]
pub struct SampleQuality {
    pub samples_vs_fresh: Quality,
    pub noise_floor_fresh_vs_fresh: Quality,
}

/// Memorisation of samples against a training set, next to fresh data (DESIGN §6): what
/// `analyze memorization` reports in its `memorization` section.
#[derive(Clone, Debug, Serialize)]
pub struct MemorisationReport {
    pub samples: MemorisationStats,
    pub copies: CopyStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh: Option<MemorisationStats>,
    /// For 2-D data drawn from a curve (Swiss roll, lemniscate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_manifold: Option<OnManifold>,
    /// For data of at most `SLICED_W2_MAX_DIM` dimensions with fresh draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<SampleQuality>,
    /// The samples' nearest training points.
    #[serde(skip)]
    pub neighbours: Neighbours,
    /// The fresh points' nearest training points.
    #[serde(skip)]
    pub fresh_neighbours: Option<Neighbours>,
}

/// Memorisation, on-manifold distance and quality of `samples` (data space) against
/// `training` (read chunk by chunk), next to the same numbers for the fresh draws of
/// `baselines`; `spec` says whether the data lie on a known curve.
pub fn memorisation_report(
    samples: &Tensor<2>,
    training: &Dataset,
    spec: &DatasetSpec,
    baselines: &Baselines,
    threshold: f64,
) -> Result<MemorisationReport> {
    let own = neighbours_in(samples, training)?;
    let fresh_neighbours = match &baselines.fresh {
        Some(fresh) => Some(neighbours_in(fresh, training)?),
        None => None,
    };
    let on_manifold = spec.curve_distance().map(|distance| {
        let curve = |t: &Tensor<2>| {
            summarise(
                to_vec(t.clone())
                    .chunks(2)
                    .map(|p| distance(p[0] as f64, p[1] as f64)),
            )
        };
        OnManifold {
            samples: curve(samples),
            fresh: baselines.fresh.as_ref().map(curve),
        }
    });
    let [_, dim] = samples.dims();
    let quality = match (&baselines.fresh, &baselines.floor) {
        (Some(fresh), Some(floor)) if dim <= SLICED_W2_MAX_DIM => Some(SampleQuality {
            samples_vs_fresh: quality(samples, fresh, 0)?,
            noise_floor_fresh_vs_fresh: quality(floor, fresh, 0)?,
        }),
        _ => None,
    };
    Ok(MemorisationReport {
        samples: memorisation_stats(&own, threshold)?,
        copies: copy_stats(&own, threshold, training.n),
        fresh: fresh_neighbours
            .as_ref()
            .map(|n| memorisation_stats(n, threshold))
            .transpose()?,
        on_manifold,
        quality,
        neighbours: own,
        fresh_neighbours,
    })
}

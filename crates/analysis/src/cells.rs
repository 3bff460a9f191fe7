//! Voronoi-cell trapping of reverse paths (Cao et al., Prop. 4.4, (4.39)–(4.45), Fig. 10).
//!
//! The empirical score's weights λ_i(x, τ) = softmax_i(−‖x − α(τ) y_i − c(τ)‖² / 2σ²(τ)) are
//! largest for the training point y_i nearest to (x − c(τ))/α(τ), i.e. for the Voronoi cell C_i
//! (4.42) that contains (x − c)/α (c = 0 except for the ou and cou SDEs with μ ≠ 0). As τ → 0
//! they become one-hot (4.41), the reverse dynamics turn into a stiff
//! relaxation towards that y_i (4.44), and each path is eventually trapped in one cell and
//! converges to its training point (4.45). This module measures when that happens along
//! recorded paths.

use burn::tensor::Tensor;
use serde::Serialize;

use scorelab_core::nearest::nearest_neighbours;
use scorelab_core::Sde;
use scorelab_sample::PathSnapshot;

use crate::error::{AnalysisError, Result};
use crate::stats::{summarise, Summary};

/// Cell occupancy of a batch of reverse paths against a training set.
#[derive(Clone, Debug, Serialize)]
pub struct CellReport {
    /// Recorded times, decreasing (the order of the run).
    pub tau: Vec<f64>,
    /// Fraction of paths whose cell at τ (the cell of (x − c(τ))/α(τ), i.e. the largest
    /// posterior weight λ_i) is the cell of their end point.
    pub in_final_cell: Vec<f64>,
    /// The same with the cell of x itself, as drawn in the paper's figure.
    pub in_final_cell_unscaled: Vec<f64>,
    /// Per path, the largest recorded τ from which on the path never leaves its final cell
    /// (cells of (x − c)/α): when it was trapped.
    pub trapping_tau: Summary,
    /// Fraction of paths that end in the cell they started in (cells of the unscaled start).
    pub start_cell_is_final: f64,
    /// The same fraction if start and end cells were independent with their observed
    /// frequencies: Σ_i P(start = i) P(end = i).
    pub start_cell_is_final_by_chance: f64,
    /// Distance of each end point to the training point of its cell (data-space units when
    /// `distance_scale` converts them).
    pub end_distance: Summary,
    /// Number of distinct training points whose cells receive end points.
    pub cells_reached: usize,
    /// Per path: the cell of the (unscaled) start and of the end point.
    #[serde(skip)]
    pub start_cells: Vec<usize>,
    #[serde(skip)]
    pub end_cells: Vec<usize>,
}

/// The Voronoi cell of (x − shift)/scale for every row x of `points`.
fn cells(points: &Tensor<2>, training: &Tensor<2>, shift: f64, scale: f64) -> Vec<usize> {
    nearest_neighbours(
        &points.clone().sub_scalar(shift).div_scalar(scale),
        training,
    )
    .1
}

fn fraction(hits: usize, n: usize) -> f64 {
    hits as f64 / n as f64
}

/// Cell occupancy along `path` (at least two snapshots, decreasing τ, the last the end of the
/// run) against `training` (model space) under `sde`; `distance_scale` converts model-space
/// distances to data space.
pub fn cell_trapping(
    path: &[PathSnapshot],
    training: &Tensor<2>,
    sde: &Sde,
    distance_scale: f64,
) -> Result<CellReport> {
    let (Some(first), Some(last)) = (path.first(), path.last()) else {
        return Err(AnalysisError::invalid("path", "no recorded states"));
    };
    if path.len() < 2 {
        return Err(AnalysisError::invalid(
            "path",
            "needs at least two recorded states",
        ));
    }
    if path.windows(2).any(|w| w[1].tau >= w[0].tau) {
        return Err(AnalysisError::invalid(
            "path",
            "recorded times must decrease",
        ));
    }
    let [n, d] = first.points.dims();
    let [n_train, d_train] = training.dims();
    if d != d_train || n == 0 || n_train == 0 {
        return Err(AnalysisError::invalid(
            "path",
            format!("{n} paths of dimension {d} against {n_train} training points of dimension {d_train}"),
        ));
    }
    let scaled: Vec<Vec<usize>> = path
        .iter()
        .map(|s| cells(&s.points, training, sde.shift(s.tau), sde.alpha(s.tau)))
        .collect();
    let unscaled: Vec<Vec<usize>> = path
        .iter()
        .map(|s| cells(&s.points, training, 0.0, 1.0))
        .collect();
    let end = scaled.last().expect("non-empty").clone();
    let share =
        |cells: &[usize]| fraction(cells.iter().zip(&end).filter(|(a, b)| a == b).count(), n);
    let trapping: Vec<f64> = (0..n)
        .map(|i| {
            let mut k = path.len() - 1;
            while k > 0 && scaled[k - 1][i] == end[i] {
                k -= 1;
            }
            path[k].tau
        })
        .collect();
    let start = unscaled[0].clone();
    let mut start_counts = vec![0usize; n_train];
    let mut end_counts = vec![0usize; n_train];
    for i in 0..n {
        start_counts[start[i]] += 1;
        end_counts[end[i]] += 1;
    }
    let chance = start_counts
        .iter()
        .zip(&end_counts)
        .map(|(&a, &b)| fraction(a, n) * fraction(b, n))
        .sum();
    let (distances, _) = nearest_neighbours(&last.points, training);
    Ok(CellReport {
        tau: path.iter().map(|s| s.tau).collect(),
        in_final_cell: scaled.iter().map(|c| share(c)).collect(),
        in_final_cell_unscaled: unscaled.iter().map(|c| share(c)).collect(),
        trapping_tau: summarise(trapping),
        start_cell_is_final: share(&start),
        start_cell_is_final_by_chance: chance,
        end_distance: summarise(distances.iter().map(|&v| v as f64 * distance_scale)),
        cells_reached: end_counts.iter().filter(|&&c| c > 0).count(),
        start_cells: start,
        end_cells: end,
    })
}

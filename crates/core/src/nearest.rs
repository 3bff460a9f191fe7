//! Distance from each query point to its nearest reference points, chunked so that memory
//! stays bounded for MNIST-sized reference sets.
//!
//! Two passes: a fast one on the backend selects candidates, an exact one ranks them.
//! - Candidates: squared distances of a query block against a reference block, by exact
//!   differences for d ≤ 8 and by the matmul expansion ‖x‖² − 2x·y + ‖y‖² above, and the
//!   `k + CANDIDATE_MARGIN` smallest of each block. The expansion in float32 has an absolute
//!   error of order 1e-7·(‖x‖² + ‖y‖²): for MNIST images that is a floor of ~1e-3 on d1,
//!   far above the distance of a copy.
//! - Ranking: each candidate's distance is recomputed from the coordinate differences in f64,
//!   and the k best of all blocks are kept. The true k nearest of a block are missed only if
//!   more than `CANDIDATE_MARGIN` other references lie within the expansion's error of them.

use burn::tensor::Tensor;

use crate::device::to_vec;

const DIRECT_MAX_DIM: usize = 8;

/// Extra candidates per reference block beyond the k that are asked for.
pub const CANDIDATE_MARGIN: usize = 6;

/// Squared distances between the rows of `q` (m × d) and `r` (n × d) as an m × n matrix
/// (`d` is the row length, which picks exact differences or the matmul expansion).
pub fn squared_distances(q: &Tensor<2>, r: Tensor<2>, d: usize) -> Tensor<2> {
    if d <= DIRECT_MAX_DIM {
        let diff = q.clone().unsqueeze_dim::<3>(1) - r.unsqueeze_dim::<3>(0);
        diff.powi_scalar(2).sum_dim(2).squeeze_dim::<2>(2)
    } else {
        let qn = q.clone().powi_scalar(2).sum_dim(1);
        let rn = r.clone().powi_scalar(2).sum_dim(1).transpose();
        (qn + rn - q.clone().matmul(r.transpose()).mul_scalar(2.0)).clamp_min(0.0)
    }
}

fn integer_values(indices: Tensor<2, burn::tensor::Int>) -> Vec<i64> {
    indices
        .into_data()
        .convert::<i64>()
        .try_to_vec()
        .expect("integer indices")
}

/// Query and reference chunk sizes: memory stays at a few query × reference blocks.
fn chunks(d: usize) -> (usize, usize) {
    (256, if d <= DIRECT_MAX_DIM { 2048 } else { 8192 })
}

/// ‖x − y‖² accumulated in f64 from the coordinate differences (exact up to f64 rounding).
fn exact_squared_distance(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum()
}

/// Inserts (d², index) into `best`, kept sorted by d² and at most `k` long.
fn insert(best: &mut Vec<(f64, usize)>, candidate: (f64, usize), k: usize) {
    if best.len() == k && candidate.0 >= best[k - 1].0 {
        return;
    }
    let at = best.partition_point(|&(v, _)| v <= candidate.0);
    best.insert(at, candidate);
    best.truncate(k);
}

/// For every row of `queries` (M × d) its `k` nearest rows of `references` (N × d) as
/// (squared distance in f64, index), nearest first (fewer than k where N < k).
pub fn k_nearest(queries: &Tensor<2>, references: &Tensor<2>, k: usize) -> Vec<Vec<(f64, usize)>> {
    let [m, d] = queries.dims();
    let [n, _] = references.dims();
    let (query_chunk, ref_chunk) = chunks(d);
    let host_queries = to_vec(queries.clone());
    let host_references = to_vec(references.clone());
    let mut best: Vec<Vec<(f64, usize)>> = vec![Vec::with_capacity(k + 1); m];
    if k == 0 {
        return best;
    }
    for q0 in (0..m).step_by(query_chunk) {
        let q_len = query_chunk.min(m - q0);
        let q = queries.clone().narrow(0, q0, q_len);
        for r0 in (0..n).step_by(ref_chunk) {
            let r_len = ref_chunk.min(n - r0);
            let candidates = r_len.min(k + CANDIDATE_MARGIN);
            let d2 = squared_distances(&q, references.clone().narrow(0, r0, r_len), d);
            // the smallest distances are the largest negated ones
            let (_, indices) = (-d2).topk_with_indices(candidates, 1);
            let indices = integer_values(indices);
            for row in 0..q_len {
                let query = &host_queries[(q0 + row) * d..(q0 + row + 1) * d];
                for &index in &indices[row * candidates..(row + 1) * candidates] {
                    let j = r0 + index as usize;
                    let reference = &host_references[j * d..(j + 1) * d];
                    insert(
                        &mut best[q0 + row],
                        (exact_squared_distance(query, reference), j),
                        k,
                    );
                }
            }
        }
    }
    best
}

/// For every row of `queries` (M × d) the Euclidean distance to and index of its nearest row
/// of `references` (N × d).
pub fn nearest_neighbours(queries: &Tensor<2>, references: &Tensor<2>) -> (Vec<f32>, Vec<usize>) {
    k_nearest(queries, references, 1)
        .into_iter()
        .map(|best| {
            let (d2, i) = best.first().copied().unwrap_or((f64::INFINITY, 0));
            (d2.sqrt() as f32, i)
        })
        .unzip()
}

/// The first and second nearest reference of each query (DESIGN §6's d1 and d2).
#[derive(Clone, Debug, PartialEq)]
pub struct TwoNearest {
    pub d1: Vec<f32>,
    pub i1: Vec<usize>,
    /// Infinite where there is only one reference.
    pub d2: Vec<f32>,
    pub i2: Vec<usize>,
}

/// For every row of `queries` the distances to and indices of its two nearest rows of
/// `references`, chunked and exactly ranked like [`k_nearest`].
pub fn two_nearest_neighbours(queries: &Tensor<2>, references: &Tensor<2>) -> TwoNearest {
    let best = k_nearest(queries, references, 2);
    let pick = |b: &Vec<(f64, usize)>, j: usize| b.get(j).copied().unwrap_or((f64::INFINITY, 0));
    TwoNearest {
        d1: best.iter().map(|b| pick(b, 0).0.sqrt() as f32).collect(),
        i1: best.iter().map(|b| pick(b, 0).1).collect(),
        d2: best.iter().map(|b| pick(b, 1).0.sqrt() as f32).collect(),
        i2: best.iter().map(|b| pick(b, 1).1).collect(),
    }
}

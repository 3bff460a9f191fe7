//! Distance from each query point to its nearest reference point, chunked so that memory stays
//! bounded for MNIST-sized reference sets.
//!
//! Low-dimensional data (d ≤ 8) use exact differences, which keep full precision for tiny
//! distances; higher dimensions use the matmul expansion ‖x‖² − 2x·y + ‖y‖².

use burn::tensor::Tensor;

use crate::device::to_vec;

const DIRECT_MAX_DIM: usize = 8;

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

/// For every row of `queries` (M × d) the Euclidean distance to and index of its nearest row
/// of `references` (N × d).
pub fn nearest_neighbours(queries: &Tensor<2>, references: &Tensor<2>) -> (Vec<f32>, Vec<usize>) {
    let [m, d] = queries.dims();
    let [n, _] = references.dims();
    let (query_chunk, ref_chunk) = chunks(d);
    let mut best = vec![f32::INFINITY; m];
    let mut best_index = vec![0usize; m];
    for q0 in (0..m).step_by(query_chunk) {
        let q_len = query_chunk.min(m - q0);
        let q = queries.clone().narrow(0, q0, q_len);
        for r0 in (0..n).step_by(ref_chunk) {
            let r_len = ref_chunk.min(n - r0);
            let d2 = squared_distances(&q, references.clone().narrow(0, r0, r_len), d);
            let (values, indices) = d2.min_dim_with_indices(1);
            let values = to_vec(values);
            for (k, (v, i)) in values.iter().zip(integer_values(indices)).enumerate() {
                if *v < best[q0 + k] {
                    best[q0 + k] = *v;
                    best_index[q0 + k] = r0 + i as usize;
                }
            }
        }
    }
    (best.into_iter().map(f32::sqrt).collect(), best_index)
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
/// `references`, chunked like [`nearest_neighbours`].
pub fn two_nearest_neighbours(queries: &Tensor<2>, references: &Tensor<2>) -> TwoNearest {
    let [m, d] = queries.dims();
    let [n, _] = references.dims();
    let (query_chunk, ref_chunk) = chunks(d);
    let mut best = vec![[(f32::INFINITY, 0usize); 2]; m];
    for q0 in (0..m).step_by(query_chunk) {
        let q_len = query_chunk.min(m - q0);
        let q = queries.clone().narrow(0, q0, q_len);
        for r0 in (0..n).step_by(ref_chunk) {
            let r_len = ref_chunk.min(n - r0);
            let k = r_len.min(2);
            let d2 = squared_distances(&q, references.clone().narrow(0, r0, r_len), d);
            // the k smallest distances are the k largest negated ones
            let (values, indices) = (-d2).topk_with_indices(k, 1);
            let values = to_vec(values);
            let indices = integer_values(indices);
            for row in 0..q_len {
                let pair = &mut best[q0 + row];
                for j in 0..k {
                    let candidate = (-values[row * k + j], r0 + indices[row * k + j] as usize);
                    if candidate.0 < pair[0].0 {
                        pair[1] = pair[0];
                        pair[0] = candidate;
                    } else if candidate.0 < pair[1].0 {
                        pair[1] = candidate;
                    }
                }
            }
        }
    }
    TwoNearest {
        d1: best.iter().map(|p| p[0].0.sqrt()).collect(),
        i1: best.iter().map(|p| p[0].1).collect(),
        d2: best.iter().map(|p| p[1].0.sqrt()).collect(),
        i2: best.iter().map(|p| p[1].1).collect(),
    }
}

//! Distance from each query point to its nearest reference point, chunked so that memory stays
//! bounded for MNIST-sized reference sets.
//!
//! Low-dimensional data (d ≤ 8) use exact differences, which keep full precision for tiny
//! distances; higher dimensions use the matmul expansion ‖x‖² − 2x·y + ‖y‖².

use burn::tensor::Tensor;

use crate::device::to_vec;

const DIRECT_MAX_DIM: usize = 8;

/// For every row of `queries` (M × d) the Euclidean distance to and index of its nearest row
/// of `references` (N × d).
pub fn nearest_neighbours(queries: &Tensor<2>, references: &Tensor<2>) -> (Vec<f32>, Vec<usize>) {
    let [m, d] = queries.dims();
    let [n, _] = references.dims();
    let query_chunk = 256;
    let ref_chunk = if d <= DIRECT_MAX_DIM { 2048 } else { 8192 };
    let mut best = vec![f32::INFINITY; m];
    let mut best_index = vec![0usize; m];
    for q0 in (0..m).step_by(query_chunk) {
        let q_len = query_chunk.min(m - q0);
        let q = queries.clone().narrow(0, q0, q_len);
        for r0 in (0..n).step_by(ref_chunk) {
            let r_len = ref_chunk.min(n - r0);
            let r = references.clone().narrow(0, r0, r_len);
            let d2 = if d <= DIRECT_MAX_DIM {
                let diff = q.clone().unsqueeze_dim::<3>(1) - r.unsqueeze_dim::<3>(0);
                diff.powi_scalar(2).sum_dim(2).squeeze_dim::<2>(2)
            } else {
                let qn = q.clone().powi_scalar(2).sum_dim(1);
                let rn = r.clone().powi_scalar(2).sum_dim(1).transpose();
                (qn + rn - q.clone().matmul(r.transpose()).mul_scalar(2.0)).clamp_min(0.0)
            };
            let (values, indices) = d2.min_dim_with_indices(1);
            let values = to_vec(values);
            let indices: Vec<i64> = indices
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .expect("integer indices");
            for (k, (v, i)) in values.iter().zip(indices).enumerate() {
                if *v < best[q0 + k] {
                    best[q0 + k] = *v;
                    best_index[q0 + k] = r0 + i as usize;
                }
            }
        }
    }
    (best.into_iter().map(f32::sqrt).collect(), best_index)
}

//! The streaming softmax of the empirical score ([`crate::empirical`]) on the host, for a
//! block of B queries and the training set in chunks Y [N, d]: per chunk
//!
//!   G = (x − c)·Yᵀ,   ℓ_bk = G_bk α_b/σ_b² − ‖y_k‖² α_b²/(2σ_b²),
//!   m_b' = max(m_b, max_k ℓ_bk),   P_bk = exp(ℓ_bk − m_b'),   f_b = exp(m_b − m_b'),
//!   Σ_b ← f_b Σ_b + Σ_k P_bk,   W_b ← f_b W_b + Σ_k P_bk y_k,   Q_b ← f_b Q_b + Σ_k P_bk ‖y_k‖².
//!
//! The two products run in the `gemm` crate over the thread pool, the second accumulating
//! onto the rescaled running sums W in place; the weights are two passes per query row while
//! the row is in cache, in parallel over the rows, with a vectorised exp (relative error
//! < 3e-7, [`crate::fast_exp`]). As tensor operations burn-flex makes six passes over each
//! [B, N] block for the weights, most in one thread, and allocates G, P, the chunk's P·Y and
//! the rescaled sums afresh for every chunk.

use rayon::prelude::*;

use crate::fast_exp::exp;
use crate::host_gemm::gemm_into_parallel;
use crate::host_simd::{has_avx2_fma, lane_dot, lane_sum};

/// One row: logits in place, their maximum with `prev`, then P in place; returns (m, Σ P,
/// Σ P ‖y‖²).
#[inline(always)]
fn row_weights(
    row: &mut [f32],
    sq_norms: &[f32],
    (dot_scale, norm_scale, prev): (f32, f32, f32),
    with_sq: bool,
) -> (f32, f32, f32) {
    let mut top = prev;
    for (l, &q) in row.iter_mut().zip(sq_norms) {
        *l = *l * dot_scale - q * norm_scale;
    }
    for &l in row.iter() {
        top = top.max(l);
    }
    for l in row.iter_mut() {
        // below e^−87 (where the exp clamps) a weight is 0 next to the row's largest, 1
        let x = *l - top;
        *l = if x < -87.0 { 0.0 } else { exp(x) };
    }
    let total = lane_sum(row, |p| p);
    let sq = if with_sq {
        lane_dot(row, sq_norms)
    } else {
        0.0
    };
    (top, total, sq)
}

/// [`row_weights`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_weights_avx2(
    row: &mut [f32],
    sq_norms: &[f32],
    scales: (f32, f32, f32),
    with_sq: bool,
) -> (f32, f32, f32) {
    row_weights(row, sq_norms, scales, with_sq)
}

/// Running sums of the streaming softmax for B query rows: m [B], Σ P [B], W = Σ P y [B, d]
/// and, when asked for, Σ P ‖y‖² [B]; `logits` is the [B, N] buffer that each chunk reuses.
pub(crate) struct HostSums {
    pub max: Vec<f32>,
    pub total: Vec<f32>,
    pub weighted: Vec<f32>,
    pub weighted_sq_norm: Option<Vec<f32>>,
    logits: Vec<f32>,
}

impl HostSums {
    /// Empty sums for `rows` queries of dimension `dim` (m = −∞, the rest 0).
    pub fn new(rows: usize, dim: usize, with_sq: bool) -> Self {
        HostSums {
            max: vec![f32::NEG_INFINITY; rows],
            total: vec![0.0; rows],
            weighted: vec![0.0; rows * dim],
            weighted_sq_norm: with_sq.then(|| vec![0.0; rows]),
            logits: Vec::new(),
        }
    }

    /// Folds one chunk in, as in the module comment: `queries` = x − c [B, d], `points` Y
    /// [N, d] with `sq_norms` ‖y_k‖² [N], and per-row `dot_scale` = α/σ², `norm_scale` =
    /// α²/(2σ²) [B].
    pub fn add_chunk(
        &mut self,
        queries: &[f32],
        (points, sq_norms): (&[f32], &[f32]),
        (dot_scale, norm_scale): (&[f32], &[f32]),
    ) {
        let rows = self.max.len();
        let n = sq_norms.len();
        let dim = self.weighted.len() / rows.max(1);
        assert_eq!(queries.len(), rows * dim, "queries [B, d]");
        assert_eq!(points.len(), n * dim, "chunk [N, d]");
        assert!(
            dot_scale.len() == rows && norm_scale.len() == rows,
            "scales [B]"
        );
        if rows == 0 || n == 0 {
            return;
        }
        self.logits.resize(rows * n, 0.0);
        // G = (x − c)·Yᵀ, Yᵀ read from Y through strides
        let sizes = (rows, n, dim);
        let operands = ((queries, (dim, 1)), (points, (1, dim)));
        gemm_into_parallel(&mut self.logits, false, sizes, operands);
        #[cfg(target_arch = "x86_64")]
        let wide = has_avx2_fma();
        let with_sq = self.weighted_sq_norm.is_some();
        let stats: Vec<(f32, f32, f32)> = self.logits[..rows * n]
            .par_chunks_mut(n)
            .enumerate()
            .map(|(b, row)| {
                let scales = (dot_scale[b], norm_scale[b], self.max[b]);
                #[cfg(target_arch = "x86_64")]
                if wide {
                    // SAFETY: the processor supports the features the function is compiled for.
                    return unsafe { row_weights_avx2(row, sq_norms, scales, with_sq) };
                }
                row_weights(row, sq_norms, scales, with_sq)
            })
            .collect();
        // f_b = exp(m_b − m_b') rescales what the chunks before added (0 before the first)
        let factors: Vec<f32> = stats
            .iter()
            .zip(&self.max)
            .map(|(&(top, _, _), &prev)| (prev - top).exp())
            .collect();
        self.weighted
            .par_chunks_mut(dim)
            .zip(&factors)
            .for_each(|(row, &f)| row.iter_mut().for_each(|w| *w *= f));
        // W ← f W + P·Y
        let sizes = (rows, dim, n);
        let operands = ((&self.logits[..], (n, 1)), (points, (dim, 1)));
        gemm_into_parallel(&mut self.weighted, true, sizes, operands);
        for (b, (&(top, total, sq), &f)) in stats.iter().zip(&factors).enumerate() {
            self.max[b] = top;
            self.total[b] = self.total[b] * f + total;
            if let Some(q) = self.weighted_sq_norm.as_mut() {
                q[b] = q[b] * f + sq;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One chunk of rows that are not a multiple of the eight lanes, against the formulas of
    /// the module comment in f64; a second chunk with a larger maximum rescales the first.
    #[test]
    fn chunks_fold_in_as_the_formulas_say() {
        let (rows, dim, n) = (3, 5, 37);
        let wave = |len: usize, f: f32| -> Vec<f32> {
            (0..len).map(|i| (i as f32 * f).sin() * 2.0).collect()
        };
        let queries = wave(rows * dim, 0.37);
        let points = wave(2 * n * dim, 0.11);
        let sq_norms: Vec<f32> = points
            .chunks(dim)
            .map(|y| y.iter().map(|v| v * v).sum())
            .collect();
        let (dot_scale, norm_scale) = (vec![0.9, 1.3, 2.0], vec![0.2, 0.5, 0.7]);
        let mut sums = HostSums::new(rows, dim, true);
        for c in 0..2 {
            let chunk = (
                &points[c * n * dim..(c + 1) * n * dim],
                &sq_norms[c * n..(c + 1) * n],
            );
            sums.add_chunk(&queries, chunk, (&dot_scale, &norm_scale));
        }
        for b in 0..rows {
            let x = &queries[b * dim..(b + 1) * dim];
            let logits: Vec<f64> = points
                .chunks(dim)
                .zip(&sq_norms)
                .map(|(y, &q)| {
                    let g: f64 = x.iter().zip(y).map(|(&a, &b)| f64::from(a * b)).sum();
                    g * f64::from(dot_scale[b]) - f64::from(q) * f64::from(norm_scale[b])
                })
                .collect();
            let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
            let total: f64 = p.iter().sum();
            let sq: f64 = p
                .iter()
                .zip(&sq_norms)
                .map(|(p, &q)| p * f64::from(q))
                .sum();
            let close = |got: f32, want: f64, what: &str| {
                let err = (f64::from(got) - want).abs() / (want.abs() + 1e-3);
                assert!(err < 2e-5, "row {b} {what}: {got} against {want}");
            };
            close(sums.max[b], top, "m");
            close(sums.total[b], total, "Σ P");
            close(sums.weighted_sq_norm.as_ref().unwrap()[b], sq, "Σ P ‖y‖²");
            for j in 0..dim {
                let w: f64 = p
                    .iter()
                    .zip(points.chunks(dim))
                    .map(|(p, y)| p * f64::from(y[j]))
                    .sum();
                close(sums.weighted[b * dim + j], w, "Σ P y");
            }
        }
    }
}

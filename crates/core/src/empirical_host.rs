//! The softmax weights of one data chunk of the streaming empirical score ([`crate::empirical`])
//! as one host pass per query row on the CPU. For the products G = (x − c)·Yᵀ of a block of
//! queries with a chunk of training points:
//!
//!   ℓ_bk = G_bk α_b/σ_b² − ‖y_k‖² α_b²/(2σ_b²),   m_b = max(m_b^prev, max_k ℓ_bk),
//!   P_bk = exp(ℓ_bk − m_b),   Σ_k P_bk,   Σ_k P_bk ‖y_k‖².
//!
//! As tensor operations burn-flex makes six passes over the [B, N] block for these, most in one
//! thread (broadcasting products, the row maximum, a libm exp per element); here each row is
//! two passes while it is in cache, in parallel over the rows, with a vectorised exp (relative
//! error < 3e-7, [`crate::fast_exp`]).

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::device::to_vec;
use crate::fast_exp::exp;
use crate::flex_host::{flex_tensor, host_values, on_flex};
use crate::host_simd::{has_avx2_fma, lane_dot, lane_sum};

/// The weights of one chunk: P [B, N], the new running maxima m [B, 1], Σ_k P_bk [B, 1] and,
/// when asked for, Σ_k P_bk ‖y_k‖² [B, 1].
pub(crate) struct ChunkWeights {
    pub p: Tensor<2>,
    pub max: Tensor<2>,
    pub total: Tensor<2>,
    pub weighted_sq_norm: Option<Tensor<2>>,
}

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

/// The weights of the module comment for `g` [B, N], per-row `dot_scale` = α/σ² and
/// `norm_scale` = α²/(2σ²) [B, 1], `sq_norms` [1, N] and the running maxima of the chunks
/// before (`None` for the first), on the host when all are plain flex tensors; elsewhere `g`
/// comes back and the caller uses tensor operations.
pub(crate) fn chunk_weights(
    g: Tensor<2>,
    (dot_scale, norm_scale): (&Tensor<2>, &Tensor<2>),
    sq_norms: &Tensor<2>,
    prev_max: Option<&Tensor<2>>,
    with_sq: bool,
) -> Result<ChunkWeights, Box<Tensor<2>>> {
    let [rows, n] = g.dims();
    if !on_flex(&g.device()) || rows == 0 || n == 0 || sq_norms.dims() != [1, n] {
        return Err(Box::new(g));
    }
    let plain = |t: &Tensor<2>, len: usize| -> Option<Vec<f32>> {
        let values = host_values(&t.clone().try_into_primitive::<Flex>().ok()?).into_owned();
        (values.len() == len).then_some(values)
    };
    let prev = match prev_max {
        Some(m) => plain(m, rows),
        None => Some(vec![f32::NEG_INFINITY; rows]),
    };
    let operands = (
        plain(dot_scale, rows),
        plain(norm_scale, rows),
        plain(sq_norms, n),
        prev,
    );
    let (Some(dot_scale), Some(norm_scale), Some(sq_norms), Some(prev)) = operands else {
        return Err(Box::new(g));
    };
    // the products' own buffer (no copy when this is the only handle)
    let mut values = to_vec(g);
    #[cfg(target_arch = "x86_64")]
    let wide = has_avx2_fma();
    let stats: Vec<(f32, f32, f32)> = values
        .par_chunks_mut(n)
        .enumerate()
        .map(|(b, row)| {
            let scales = (dot_scale[b], norm_scale[b], prev[b]);
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: the processor supports the features the function is compiled for.
                return unsafe { row_weights_avx2(row, &sq_norms, scales, with_sq) };
            }
            row_weights(row, &sq_norms, scales, with_sq)
        })
        .collect();
    let column_tensor = |pick: fn(&(f32, f32, f32)) -> f32| {
        let values: Vec<f32> = stats.iter().map(pick).collect();
        Tensor::from_primitive::<Flex>(flex_tensor(values, [rows, 1]))
    };
    Ok(ChunkWeights {
        p: Tensor::from_primitive::<Flex>(flex_tensor(values, [rows, n])),
        max: column_tensor(|s| s.0),
        total: column_tensor(|s| s.1),
        weighted_sq_norm: with_sq.then(|| column_tensor(|s| s.2)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::empirical::tensor_chunk_weights;
    use burn::tensor::{Device, Distribution};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// Largest |a − b| / (|b| + floor).
    fn worst_relative(a: Vec<f32>, b: Vec<f32>, floor: f32) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs() / (b.abs() + floor))
            .fold(0.0, f32::max)
    }

    /// The host weights against the tensor operations, for a first chunk and for a chunk
    /// after others (running maxima above and below the chunk's own), on a row length that is
    /// not a multiple of the eight lanes: P, Σ P and Σ P ‖y‖² within 2e-6 relative (the exp's
    /// 3e-7 and f32 sums of 37 terms in another order), the maxima exactly.
    #[test]
    fn host_weights_match_the_tensor_operations() {
        let device = Device::flex();
        let (rows, n) = (5, 37);
        let normal = |shape: [usize; 2], scale: f64| {
            Tensor::<2>::random(shape, Distribution::Normal(0.0, scale), &device)
        };
        let g = normal([rows, n], 30.0);
        let dot_scale = normal([rows, 1], 0.3).abs() + 0.1;
        let norm_scale = normal([rows, 1], 0.1).abs() + 0.05;
        let sq_norms = normal([1, n], 20.0).abs();
        let prev = Tensor::<2>::from_floats([[-1e3], [1e3], [0.0], [5.0], [-5.0]], &device);
        for prev_max in [None, Some(&prev)] {
            let scales = (&dot_scale, &norm_scale);
            let host = chunk_weights(g.clone(), scales, &sq_norms, prev_max, true)
                .unwrap_or_else(|_| panic!("the host path"));
            let tensor = tensor_chunk_weights(g.clone(), scales, &sq_norms, prev_max, true);
            assert_eq!(values(host.max), values(tensor.max), "maxima");
            assert!(
                worst_relative(values(host.p), values(tensor.p), 1e-30) < 2e-6,
                "P"
            );
            let (total, want) = (values(host.total), values(tensor.total));
            assert!(worst_relative(total, want, 1e-30) < 2e-6, "Σ P");
            let sq = values(host.weighted_sq_norm.unwrap());
            let want = values(tensor.weighted_sq_norm.unwrap());
            assert!(worst_relative(sq, want, 1e-30) < 2e-6, "Σ P ‖y‖²");
        }
    }

    /// On autodiff tensors, and for norms of the wrong length, the products come back.
    #[test]
    fn declines_what_it_does_not_handle() {
        let device = Device::flex();
        let g = Tensor::<2>::ones([2, 3], &device);
        let column = Tensor::<2>::ones([2, 1], &device);
        let short = Tensor::<2>::ones([1, 2], &device);
        let back = chunk_weights(g.clone(), (&column, &column), &short, None, false);
        assert!(back.is_err(), "‖y‖² of 2 for 3 columns");
        let tracked = Device::flex().autodiff();
        let (g, column) = (g.to_device(&tracked), column.to_device(&tracked));
        let norms = Tensor::<2>::ones([1, 3], &tracked);
        assert!(
            chunk_weights(g, (&column, &column), &norms, None, false).is_err(),
            "autodiff"
        );
    }
}

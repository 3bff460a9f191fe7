//! What the vectorised host kernels share (this crate's and scorelab-train's): the processor
//! check behind their AVX2 paths and sums in interleaved lanes that the compiler vectorises.

/// Partial sums of [`lane_sum`] and [`lane_dot`] (eight f32 in an AVX2 register).
const LANES: usize = 8;

/// Whether the processor has AVX2 and FMA (the vectorised host paths).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

/// Σ f(v) over `values`, in eight interleaved partial sums so that the loop vectorises.
#[inline(always)]
pub fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f(v);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// Σ a_i b_i, in eight interleaved partial sums like [`lane_sum`].
#[inline(always)]
pub fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "a dot product of equal lengths");
    let mut lanes = [0.0f32; LANES];
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(&a, &b)| a * b)
        .sum();
    for (chunk_a, chunk_b) in chunks_a.zip(chunks_b) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(chunk_a).zip(chunk_b) {
            *lane += a * b;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sums against f64 sums, over lengths with and without a remainder.
    #[test]
    fn lane_sums_match_plain_sums() {
        for n in [0, 5, 8, 37] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let sum: f64 = a.iter().map(|&v| (v * 2.0) as f64).sum();
            let dot: f64 = a.iter().zip(&b).map(|(&a, &b)| a as f64 * b as f64).sum();
            assert!(
                (lane_sum(&a, |v| v * 2.0) as f64 - sum).abs() < 1e-5,
                "sum of {n}"
            );
            assert!((lane_dot(&a, &b) as f64 - dot).abs() < 1e-5, "dot of {n}");
        }
    }
}

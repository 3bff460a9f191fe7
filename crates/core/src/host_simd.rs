//! What the vectorised host kernels share (this crate's and scorelab-train's): copies of a
//! kernel compiled for the widest vectors the processor has ([`widest_vectors!`]) and sums in
//! interleaved lanes that the compiler vectorises.

/// Partial sums of [`lane_sum`] and [`lane_dot`] (eight f32 in an AVX2 register).
const LANES: usize = 8;

/// Whether the processor has AVX2 and FMA (the vectorised host paths).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

/// Whether the processor has AVX-512F (with AVX2 and FMA).
pub fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    return has_avx2_fma() && std::is_x86_feature_detected!("avx512f");
    #[allow(unreachable_code)]
    false
}

/// `$vis fn $name(args) -> ret` that runs the `#[inline(always)]` kernel `$kernel(args)`
/// compiled for the widest vectors the processor has: AVX-512F, else AVX2 with FMA, else the
/// portable baseline. The copies perform the same f32 operations in the same order (Rust does
/// not contract them into FMA), so their results are the same bits. The slices stay function
/// arguments, so each copy knows that `&mut` ones alias nothing, which its loops need to
/// vectorise.
#[macro_export]
macro_rules! widest_vectors {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $kernel:path;
    ) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $kernel($($arg),*)
                }
                if $crate::host_simd::has_avx512f() {
                    // SAFETY: the processor supports the features the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::host_simd::has_avx2_fma() {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
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

    /// An elementwise loop with a lane sum, as the kernels of the other modules are written.
    #[inline(always)]
    fn kernel(values: &[f32], out: &mut [f32]) -> f32 {
        for (o, &x) in out.iter_mut().zip(values) {
            *o = x * crate::fast_exp::exp(-x) + 0.5 * x;
        }
        lane_sum(out, |v| v * v)
    }

    widest_vectors! {
        fn kernel_widest(values: &[f32], out: &mut [f32]) -> f32 = kernel;
    }

    /// The copy for the widest vectors gives the same bits as the portable one: the dispatch
    /// changes the vector width, never the arithmetic.
    #[test]
    fn widest_vectors_give_the_same_bits() {
        let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.173).sin() * 9.0).collect();
        let (mut portable, mut widest) = (vec![0.0f32; 1000], vec![0.0f32; 1000]);
        let sum = kernel(&values, &mut portable);
        assert_eq!(kernel_widest(&values, &mut widest), sum);
        assert_eq!(widest, portable);
    }

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

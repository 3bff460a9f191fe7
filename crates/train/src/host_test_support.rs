//! What the unit tests of the host kernels ([`crate::host_conv`], [`crate::host_dense`],
//! [`crate::host_norm`]) share.

use burn::tensor::{Device, Distribution, Tensor};

/// Standard normal values of `shape` times `scale`.
pub(crate) fn random<const D: usize>(shape: [usize; D], scale: f64, device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, scale), device)
}

/// A tensor's values as f32.
pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Asserts that no two values differ by `tolerance` or more.
pub(crate) fn assert_close(a: Vec<f32>, b: Vec<f32>, tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a
        .iter()
        .zip(&b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < tolerance, "{what}: largest difference {worst}");
}

/// Asserts that `work` gives the same result, bit for bit, in pools of 1, 2 and 3 threads.
pub(crate) fn assert_same_on_any_thread_count<R: PartialEq + std::fmt::Debug + Send>(
    work: impl Fn() -> R + Sync,
) {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(&work)
    };
    let one = run(1);
    for threads in [2, 3] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
}

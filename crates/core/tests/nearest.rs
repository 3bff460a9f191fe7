//! Chunked nearest-neighbour search against brute force on the host.

use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::device::tensor_from_rows;
use scorelab_core::nearest::{nearest_neighbours, two_nearest_neighbours};

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn random(rows: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * d).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The two nearest references of each query by exhaustive search in f64.
fn brute_force(q: &[f32], r: &[f32], d: usize) -> Vec<[(f64, usize); 2]> {
    q.chunks(d)
        .map(|x| {
            let mut all: Vec<(f64, usize)> = r
                .chunks(d)
                .enumerate()
                .map(|(i, y)| {
                    let s: f64 = x
                        .iter()
                        .zip(y)
                        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                        .sum();
                    (s.sqrt(), i)
                })
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            [all[0], all[1]]
        })
        .collect()
}

/// Both candidate paths (exact differences for d ≤ 8, the matmul form above) across several
/// query and reference chunks. Random continuous data has no ties, so indices must agree; the
/// distances are recomputed exactly and agree with f64 to float32 rounding (1e-6 relative).
#[test]
fn chunked_search_matches_brute_force() {
    let device = Device::flex();
    for (d, n) in [(2, 5000), (20, 9000)] {
        let m = 300;
        let (q, r) = (random(m, d, 1), random(n, d, 2));
        let truth = brute_force(&q, &r, d);
        let qt = tensor_from_rows(&q, m, d, &device);
        let rt = tensor_from_rows(&r, n, d, &device);
        let two = two_nearest_neighbours(&qt, &rt);
        let (d1, i1) = nearest_neighbours(&qt, &rt);
        for k in 0..m {
            assert_eq!(two.i1[k], truth[k][0].1, "d = {d}, query {k}");
            assert_eq!(two.i2[k], truth[k][1].1, "d = {d}, query {k}");
            assert_eq!(i1[k], truth[k][0].1, "d = {d}, query {k}");
            let close = |a: f32, b: f64| (a as f64 - b).abs() <= 1e-6 * b;
            assert!(close(two.d1[k], truth[k][0].0), "d = {d}");
            assert!(close(two.d2[k], truth[k][1].0), "d = {d}");
            assert!(close(d1[k], truth[k][0].0), "d = {d}");
        }
    }
}

#[test]
fn a_single_reference_has_no_second_neighbour() {
    let device = Device::flex();
    let q = tensor_from_rows(&[0.0, 0.0, 3.0, 4.0], 2, 2, &device);
    let r = tensor_from_rows(&[0.0, 0.0], 1, 2, &device);
    let two = two_nearest_neighbours(&q, &r);
    assert_eq!(two.d1, vec![0.0, 5.0]);
    assert!(two.d2.iter().all(|v| v.is_infinite()));
}

/// Exact copies of MNIST training images are at distance 0: the float32 expansion
/// ‖x‖² + ‖y‖² − 2x·y alone reports d1 up to 0.02 for them (‖x‖² ≈ 100), which is why the
/// candidates are ranked by direct differences.
#[test]
fn copies_of_mnist_images_are_at_distance_zero() {
    let device = Device::flex();
    let dir = manifest_dir().join("../../datasets/mnist");
    let train = load_mnist(&dir, MnistSplit::Test).unwrap().subset(3000, 7);
    let copies = train.select(&(0..400).map(|i| i * 7).collect::<Vec<_>>());
    let two = two_nearest_neighbours(&copies.to_tensor(&device), &train.to_tensor(&device));
    for (k, (&d1, &i1)) in two.d1.iter().zip(&two.i1).enumerate() {
        assert!(d1 < 1e-6, "copy {k}: d1 = {d1}");
        assert_eq!(i1, 7 * k);
        assert!(two.d2[k] > 1.0, "copy {k}: d2 = {}", two.d2[k]);
    }
}

/// Near-copies in 20 dimensions (d1 ≈ 4e-3 on coordinates of order 1, where the float32
/// expansion errs by up to the distance itself) match a direct f64 computation to 1e-6 relative.
#[test]
fn near_copies_in_twenty_dimensions_match_f64() {
    let device = Device::flex();
    let (d, n, m) = (20, 5000, 300);
    let r = random(n, d, 3);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let q: Vec<f32> = (0..m)
        .flat_map(|k| {
            let row = &r[(k * 13) * d..(k * 13 + 1) * d];
            row.iter()
                .map(|&v| v + rng.random_range(-1e-3..1e-3))
                .collect::<Vec<f32>>()
        })
        .collect();
    let truth = brute_force(&q, &r, d);
    let two = two_nearest_neighbours(
        &tensor_from_rows(&q, m, d, &device),
        &tensor_from_rows(&r, n, d, &device),
    );
    for (k, best) in truth.iter().enumerate() {
        assert_eq!(two.i1[k], 13 * k);
        let (got, want) = (two.d1[k] as f64, best[0].0);
        assert!(want > 1e-3 && want < 1e-2, "query {k}: {want}");
        assert!(
            (got - want).abs() <= 1e-6 * want,
            "query {k}: {got} against {want}"
        );
    }
}

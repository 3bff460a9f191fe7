//! Chunked nearest-neighbour search against brute force on the host.

use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::nearest::{nearest_neighbours, two_nearest_neighbours};

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

/// Both code paths (exact differences for d ≤ 8, the matmul form above) across several query
/// and reference chunks. Random continuous data has no ties, so indices must agree; distances
/// agree to 1e-5 (direct) and 2e-3 (matmul form in f32, distances of order 1–4).
#[test]
fn chunked_search_matches_brute_force() {
    let device = Device::flex();
    for (d, n, tol) in [(2, 5000, 1e-5), (20, 9000, 2e-3)] {
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
            assert!((two.d1[k] as f64 - truth[k][0].0).abs() < tol, "d = {d}");
            assert!((two.d2[k] as f64 - truth[k][1].0).abs() < tol, "d = {d}");
            assert!((d1[k] as f64 - truth[k][0].0).abs() < tol, "d = {d}");
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

//! The wgpu backend computes the same empirical and mixture scores as the CPU backend.
//!
//! Runs wherever a wgpu adapter exists (in CI: Mesa's lavapipe Vulkan driver). Without one the
//! test reports that it skipped, unless SCORELAB_REQUIRE_WGPU is set, as in CI, where it fails.
#![cfg(feature = "wgpu")]

use burn::tensor::Device;
use scorelab_core::device::{tensor_from_rows, to_vec, wgpu_for_tests};
use scorelab_core::{EmpiricalScore, Gmm, GmmScore, ScoreFn, Sde, Times};

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + x.abs()), "{x} vs {y}");
    }
}

#[test]
fn wgpu_scores_match_the_cpu() {
    let Some(gpu) = wgpu_for_tests() else { return };
    let cpu = Device::flex();
    let (n, d, m) = (300, 4, 64);
    let data: Vec<f32> = (0..n * d)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    let queries: Vec<f32> = (0..m * d)
        .map(|i| ((i * 104_729 % 997) as f32 / 400.0) - 1.2)
        .collect();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let on = |device: &Device| {
        let score = EmpiricalScore::with_chunks(
            tensor_from_rows(&data, n, d, device),
            sde.clone(),
            32,
            128,
        )
        .unwrap();
        let (s, div) = score
            .score_and_divergence(tensor_from_rows(&queries, m, d, device), &Times::Same(0.05));
        (to_vec(s), to_vec(div))
    };
    let (s_cpu, div_cpu) = on(&cpu);
    let (s_gpu, div_gpu) = on(&gpu);
    close(&s_cpu, &s_gpu, 1e-4);
    close(&div_cpu, &div_gpu, 1e-3);

    let gmm = Gmm::default_ring();
    let mixture = |device: &Device| {
        let score = GmmScore::new(gmm.clone(), sde.clone(), device);
        to_vec(score.score(
            tensor_from_rows(&queries[..2 * m], m, 2, device),
            &Times::Same(0.3),
        ))
    };
    close(&mixture(&cpu), &mixture(&gpu), 1e-4);
}

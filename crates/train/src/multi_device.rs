//! Data-parallel steps over several devices of one process, following burn-train's
//! `MultiDevice` strategy: replicas forked to each device, gradients moved to the main device
//! (`GradientsParams::to_device`) and summed there (`GradientsAccumulator`), one optimiser step.
//!
//! The batch of step k is drawn from the step's RNG exactly as on one device and cut into
//! contiguous shards of sizes n_r (Σ n_r = B, sizes differing by at most one). Replica r
//! minimises (n_r/B)·L_r, its shard's mean loss scaled by its share, so
//!   Σ_r (n_r/B) L_r = L (the one-device batch mean),   Σ_r ∇(n_r/B) L_r = ∇L,
//! and the summed gradient is the one-device gradient up to float32 rounding. Every loss is a
//! mean over rows of per-row terms, which is what makes the split exact.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;

/// Contiguous shards (start, rows) of a batch of `rows` over `parts` replicas, the first ones
/// one row larger where `rows` does not divide; replicas beyond `rows` get none.
pub fn shards(rows: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, rows.max(1));
    let (base, extra) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|r| {
            let len = base + usize::from(r < extra);
            let shard = (start, len);
            start += len;
            shard
        })
        .collect()
}

/// How the replicas' gradients become the one gradient of the optimiser step: given the main
/// module (whose parameter ids every replica shares) and the main device.
pub type Combine<M> = fn(&M, &Device, Vec<GradientsParams>) -> GradientsParams;

/// burn-train's `MultiDevice` combination: each replica's gradients moved to the main device
/// and accumulated there (a sum; the shards' losses already carry their weights n_r/B).
pub fn combine_on_main_device<M: Module>(
    module: &M,
    main: &Device,
    parts: Vec<GradientsParams>,
) -> GradientsParams {
    let mut accumulator = GradientsAccumulator::<M>::new();
    for grads in parts {
        accumulator.accumulate(module, grads.to_device(main, module));
    }
    accumulator.grads()
}

#[cfg(test)]
mod tests {
    use super::shards;

    #[test]
    fn shards_cover_the_batch_in_order() {
        assert_eq!(shards(10, 2), vec![(0, 5), (5, 5)]);
        assert_eq!(shards(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
        assert_eq!(shards(2, 4), vec![(0, 1), (1, 1)]);
        assert_eq!(shards(7, 1), vec![(0, 7)]);
    }
}

//! Output buffers of the host kernels: zeroed block by block by the parallel task that then
//! writes the block, instead of by one `memset` on the calling thread first (a serial pass over
//! every activation of a U-Net step, with the other threads waiting).

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// The slots set to zero, as initialised values.
pub fn zeroed(slots: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    for slot in slots.iter_mut() {
        slot.write(0.0);
    }
    // SAFETY: every slot was written just above.
    unsafe { slots.assume_init_mut() }
}

/// A vector of `len` values in blocks of `block` (the last may be shorter), one per item of
/// `items`: in parallel, each block is zeroed and handed to `work` with its item.
pub fn par_zeroed_blocks<T: Send>(
    len: usize,
    block: usize,
    items: impl IndexedParallelIterator<Item = T>,
    work: impl Fn(&mut [f32], T) + Sync + Send,
) -> Vec<f32> {
    let block = block.max(1);
    assert_eq!(items.len(), len.div_ceil(block), "one item per block");
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(block)
        .zip(items)
        .for_each(|(slots, item)| work(zeroed(slots), item));
    // SAFETY: the blocks cover the `len` slots (one item per block, as asserted, so `zip`
    // stops at neither end early) and each was zeroed above.
    unsafe { out.set_len(len) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_zeroed_and_handed_out_in_order() {
        let out = par_zeroed_blocks(10, 4, (0..3usize).into_par_iter(), |block, j| {
            assert!(block.iter().all(|&v| v == 0.0));
            block[0] = j as f32 + 1.0;
        });
        assert_eq!(out, [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0, 0.0]);
        assert!(par_zeroed_blocks(0, 4, (0..0usize).into_par_iter(), |_, _| {}).is_empty());
    }

    #[test]
    #[should_panic(expected = "one item per block")]
    fn too_few_items_are_refused() {
        par_zeroed_blocks(10, 4, (0..2usize).into_par_iter(), |_, _| {});
    }
}

//! The matrix product the host kernels share (scorelab-train's convolutions and dense layers,
//! the empirical score's streaming softmax): the `gemm` crate on slices with explicit strides,
//! in the calling thread or, for [`gemm_into_parallel`], on the thread pool.

use std::mem::MaybeUninit;

/// Elements a rows × cols matrix with row stride `rs` and column stride `cs` spans.
pub fn span(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// The transpose [cols, rows] of a row-major [rows, cols] matrix: the operand layout that lets
/// the GEMM read a matrix without transposing it into its panels on every call.
pub fn transposed(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(values.len(), rows * cols, "matrix size");
    let mut out = vec![0.0f32; values.len()];
    for (r, row) in values.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

/// dst (m×n, row-major) = [dst +] lhs · rhs with lhs (m×k) and rhs (k×n) given by their row
/// and column strides, in the calling thread.
pub fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    sizes: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    let operands = ((lhs, lhs_strides), (rhs, rhs_strides));
    gemm_into_with(dst, accumulate, sizes, operands, gemm::Parallelism::None);
}

/// [`gemm_into`] split by the `gemm` crate over the threads of the current rayon pool, for one
/// large product (the host kernels that run many small ones run each in one thread).
pub fn gemm_into_parallel(
    dst: &mut [f32],
    accumulate: bool,
    sizes: (usize, usize, usize),
    operands: (Operand, Operand),
) {
    let parallelism = gemm::Parallelism::Rayon(0);
    gemm_into_with(dst, accumulate, sizes, operands, parallelism);
}

/// A strided operand: its values and (row stride, column stride).
pub type Operand<'a> = (&'a [f32], (usize, usize));

/// [`gemm_into`] and [`gemm_into_parallel`] with the given parallelism.
fn gemm_into_with(
    dst: &mut [f32],
    accumulate: bool,
    sizes: (usize, usize, usize),
    (lhs, rhs): (Operand, Operand),
    parallelism: gemm::Parallelism,
) {
    assert!(dst.len() >= sizes.0 * sizes.1, "GEMM output too short");
    // SAFETY: dst holds the m·n values, initialised (a &[f32]).
    unsafe { gemm_raw(dst.as_mut_ptr(), accumulate, sizes, lhs, rhs, parallelism) };
}

/// dst (m×n, row-major, exactly dst's length) = lhs · rhs into values not yet written, which
/// come back initialised: without accumulation the GEMM crate writes each of the m·n values
/// (zeros when k = 0) and reads none of them, so the output needs no zeroing pass first.
pub fn gemm_into_uninit<'a>(
    dst: &'a mut [MaybeUninit<f32>],
    sizes: (usize, usize, usize),
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) -> &'a mut [f32] {
    assert_eq!(dst.len(), sizes.0 * sizes.1, "GEMM output size");
    // SAFETY: dst holds the m·n values; with `accumulate` false they are written, not read.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr().cast::<f32>(),
            false,
            sizes,
            (lhs, lhs_strides),
            (rhs, rhs_strides),
            gemm::Parallelism::None,
        );
        // every value was written by the product above
        dst.assume_init_mut()
    }
}

/// The call of the `gemm` crate behind [`gemm_into`], [`gemm_into_parallel`] and
/// [`gemm_into_uninit`].
///
/// # Safety
/// `dst` points to m·n writable values, not aliased by the operands, initialised when
/// `accumulate` is true.
unsafe fn gemm_raw(
    dst: *mut f32,
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    (lhs, (lhs_rs, lhs_cs)): Operand,
    (rhs, (rhs_rs, rhs_cs)): Operand,
    parallelism: gemm::Parallelism,
) {
    assert!(
        lhs.len() >= span(m, k, (lhs_rs, lhs_cs)),
        "GEMM lhs too short"
    );
    assert!(
        rhs.len() >= span(k, n, (rhs_rs, rhs_cs)),
        "GEMM rhs too short"
    );
    // SAFETY: the asserts above: every element the sizes and strides address is inside its
    // slice; dst as the caller guarantees.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_swaps_rows_and_columns() {
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(transposed(&m, 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(transposed(&transposed(&m, 2, 3), 3, 2), m.to_vec());
        assert!(transposed(&[], 0, 4).is_empty());
    }

    /// The product into unwritten values equals the one into zeros, also for k = 0 (zeros).
    #[test]
    fn product_into_unwritten_values_equals_the_one_into_zeros() {
        let lhs: Vec<f32> = (0..15).map(|i| (i as f32 * 0.7).sin()).collect();
        let rhs: Vec<f32> = (0..20).map(|i| (i as f32 * 0.3).cos()).collect();
        for k in [5, 0] {
            let mut zeros = vec![0.0f32; 12];
            gemm_into(&mut zeros, false, (3, 4, k), &lhs, (5, 1), &rhs, (4, 1));
            let mut slots = vec![MaybeUninit::new(f32::NAN); 12];
            let written = gemm_into_uninit(&mut slots, (3, 4, k), &lhs, (5, 1), &rhs, (4, 1));
            assert_eq!(written, &zeros[..], "k = {k}");
            assert_eq!(written.iter().all(|&v| v == 0.0), k == 0, "k = {k}");
        }
    }
}

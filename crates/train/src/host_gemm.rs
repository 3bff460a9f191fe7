//! The matrix product the host kernels ([`crate::host_conv`], [`crate::host_dense`]) share:
//! the `gemm` crate on slices with explicit strides, in the calling thread.

/// Elements a rows × cols matrix with row stride `rs` and column stride `cs` spans.
pub(crate) fn span(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// The transpose [cols, rows] of a row-major [rows, cols] matrix: the operand layout that lets
/// the GEMM read a matrix without transposing it into its panels on every call.
pub(crate) fn transposed(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
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
/// and column strides.
pub(crate) fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    assert!(dst.len() >= m * n, "GEMM output too short");
    assert!(
        lhs.len() >= span(m, k, (lhs_rs, lhs_cs)),
        "GEMM lhs too short"
    );
    assert!(
        rhs.len() >= span(k, n, (rhs_rs, rhs_cs)),
        "GEMM rhs too short"
    );
    // SAFETY: the asserts above: every element the sizes and strides address is inside its
    // slice, and dst does not alias the inputs (a &mut borrow).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
            gemm::Parallelism::None,
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
}

//! The U-Net's convolutions on the CPU: square k×k kernels (k = 1 or 3) with padding
//! (k − 1)/2 and stride 1 or 2. Per group of images (one image when it is large, several when
//! it is small), the k²·C shifted (and, at stride 2, subsampled) copies of the input (im2col)
//! go to a buffer that each thread reuses, and one GEMM y = W · col(x) + b writes the NCHW
//! output. The gradients reuse the same pieces:
//! - ∂L/∂x at stride 1: the same convolution of ∂L/∂y with the kernel flipped and its channel
//!   axes swapped; at stride 2: col2im(Wᵀ · ∂L/∂y), the scatter-add adjoint of im2col;
//! - ∂L/∂W = Σ_n ∂L/∂y_n · col(x_n)ᵀ and ∂L/∂b = Σ_n Σ_pixels ∂L/∂y_n.
//!
//! burn-flex's own `conv2d` computes the same products with layout copies and fresh buffers
//! around them and reaches 15–40% of the GEMM peak at these shapes (docs/performance.md); on
//! `Device::flex()`, with or without autodiff, [`conv`] runs these kernels instead, with a
//! hand-written backward pass registered in burn's autodiff graph. Other devices use burn's
//! `conv2d`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use rayon::prelude::*;
use scorelab_core::flex_host::{flex_tensor, host_values, on_flex};
use scorelab_core::host_buffers::par_zeroed_blocks;
use scorelab_core::host_gemm::{gemm_into, transposed};

/// Shape of a convolution: batch, input and output channels, input height and width, the
/// kernel's side (1 or 3, padding (k − 1)/2) and the stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub inputs: usize,
    pub outputs: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: usize,
    pub stride: usize,
}

impl ConvShape {
    fn padding(&self) -> usize {
        (self.kernel - 1) / 2
    }

    /// Output side for an input side: (side + 2p − k)/s + 1.
    fn out_side(&self, side: usize) -> usize {
        (side + 2 * self.padding() - self.kernel) / self.stride + 1
    }

    pub fn out_height(&self) -> usize {
        self.out_side(self.height)
    }

    pub fn out_width(&self) -> usize {
        self.out_side(self.width)
    }

    fn in_pixels(&self) -> usize {
        self.height * self.width
    }

    fn out_pixels(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// k², the kernel's taps.
    fn taps(&self) -> usize {
        self.kernel * self.kernel
    }
}

/// col[(c·k² + k·ky + kx)·row_len + offset + y·W_out + x] = img[c, s·y + ky − p, s·x + kx − p]
/// (zero outside) for the input channels of `shape`: the image's columns of a
/// [k²C, row_len] matrix whose other columns hold the other images of a group.
fn im2col(img: &[f32], shape: &ConvShape, col: &mut [f32], (row_len, offset): (usize, usize)) {
    let (hw, ohw) = (shape.in_pixels(), shape.out_pixels());
    for c in 0..shape.inputs {
        let plane = &img[c * hw..(c + 1) * hw];
        let rows = &mut col[c * shape.taps() * row_len + offset..];
        match (shape.kernel, shape.stride) {
            (1, 1) => rows[..hw].copy_from_slice(plane),
            (3, 1) => shifted_planes(plane, (shape.height, shape.width), rows, row_len),
            _ => {
                for t in 0..shape.taps() {
                    let dst = &mut rows[t * row_len..][..ohw];
                    gathered_plane(plane, shape, (t / shape.kernel, t % shape.kernel), dst);
                }
            }
        }
    }
}

/// The nine planes of one channel for a 3×3 kernel at stride 1, each one block copy (a shift
/// by ky − 1 rows and kx − 1 pixels of the flattened plane) after which the column that
/// wrapped around from the neighbouring row is set to zero.
fn shifted_planes(
    plane: &[f32],
    (height, width): (usize, usize),
    rows: &mut [f32],
    row_len: usize,
) {
    let hw = height * width;
    for ky in 0..3 {
        // output rows y0..y1 read the input rows y0 + ky − 1..y1 + ky − 1
        let y0 = usize::from(ky == 0);
        let y1 = height - usize::from(ky == 2);
        for kx in 0..3 {
            let rows = &mut rows[(ky * 3 + kx) * row_len..][..hw];
            rows[..y0 * width].fill(0.0);
            rows[y1 * width..].fill(0.0);
            if y1 <= y0 {
                continue;
            }
            let src = &plane[(y0 + ky - 1) * width..(y1 + ky - 1) * width];
            let dst = &mut rows[y0 * width..y1 * width];
            match kx {
                0 => {
                    dst[1..].copy_from_slice(&src[..src.len() - 1]);
                    dst.iter_mut().step_by(width).for_each(|v| *v = 0.0);
                }
                1 => dst.copy_from_slice(src),
                _ => {
                    let n = dst.len();
                    dst[..n - 1].copy_from_slice(&src[1..]);
                    dst.iter_mut()
                        .skip(width - 1)
                        .step_by(width)
                        .for_each(|v| *v = 0.0);
                }
            }
        }
    }
}

/// The outputs i in i0..i1 whose input s·i + t − p lies inside 0..len, for tap t along one
/// axis of `out_len` outputs.
fn tap_range(shape: &ConvShape, tap: usize, len: usize, out_len: usize) -> (usize, usize) {
    let s = shape.stride;
    let first = shape.padding().saturating_sub(tap).div_ceil(s);
    let end = (len + shape.padding())
        .checked_sub(tap)
        .map_or(0, |room| room.div_ceil(s))
        .min(out_len);
    (first.min(end), end)
}

/// For each output row y of tap (ky, kx): the input row s·y + ky − p it reads (none outside
/// the image), the first input column it reads and the output columns x0..x1 that read inside
/// the image, input column s·x + kx − p (the first column is meaningful only when x0 < x1).
fn tap_rows(
    shape: &ConvShape,
    (ky, kx): (usize, usize),
) -> impl Iterator<Item = (usize, Option<usize>, usize, (usize, usize))> {
    let (ho, wo, p, s, w) = (
        shape.out_height(),
        shape.out_width(),
        shape.padding(),
        shape.stride,
        shape.width,
    );
    let (y0, y1) = tap_range(shape, ky, shape.height, ho);
    let (x0, x1) = tap_range(shape, kx, shape.width, wo);
    (0..ho).map(move |y| {
        let row = (y0..y1).contains(&y).then(|| (s * y + ky - p) * w);
        (y, row, (s * x0 + kx).saturating_sub(p), (x0, x1))
    })
}

/// One tap's plane of one channel (any kernel and stride), row by row:
/// dst[y·W_out + x] = plane[s·y + ky − p, s·x + kx − p], zero outside the image.
fn gathered_plane(plane: &[f32], shape: &ConvShape, tap: (usize, usize), dst: &mut [f32]) {
    let (wo, s) = (shape.out_width(), shape.stride);
    for (y, row, first, (x0, x1)) in tap_rows(shape, tap) {
        let out = &mut dst[y * wo..][..wo];
        match row {
            Some(row) if x1 > x0 => {
                out[..x0].fill(0.0);
                out[x1..].fill(0.0);
                let src = plane[row + first..].iter().step_by(s);
                out[x0..x1].iter_mut().zip(src).for_each(|(d, &v)| *d = v);
            }
            _ => out.fill(0.0),
        }
    }
}

/// dimg[c, s·y + ky − p, s·x + kx − p] += dcol[c·k² + k·ky + kx, y·W_out + x]: the adjoint of
/// [`im2col`] for one image.
fn col2im(dcol: &[f32], shape: &ConvShape, dimg: &mut [f32]) {
    let (hw, ohw, wo, s) = (
        shape.in_pixels(),
        shape.out_pixels(),
        shape.out_width(),
        shape.stride,
    );
    for c in 0..shape.inputs {
        let plane = &mut dimg[c * hw..(c + 1) * hw];
        for t in 0..shape.taps() {
            let tap = (t / shape.kernel, t % shape.kernel);
            let rows = &dcol[(c * shape.taps() + t) * ohw..][..ohw];
            for (y, row, first, (x0, x1)) in tap_rows(shape, tap) {
                if let Some(row) = row.filter(|_| x1 > x0) {
                    let dst = plane[row + first..].iter_mut().step_by(s);
                    dst.zip(&rows[y * wo + x0..y * wo + x1])
                        .for_each(|(d, &v)| *d += v);
                }
            }
        }
    }
}

/// Columns per GEMM that keep its kernel busy: small images are grouped until a product has
/// at least this many.
const COLUMNS_PER_GEMM: usize = 384;

/// Images per GEMM: one for large images, several for small ones (fixed by the shape alone,
/// so results do not depend on the thread count).
fn images_per_gemm(shape: &ConvShape) -> usize {
    COLUMNS_PER_GEMM
        .div_ceil(shape.out_pixels())
        .clamp(1, shape.batch.max(1))
}

thread_local! {
    /// This thread's im2col and product buffers, kept between calls (fresh ones every time
    /// would be fresh pages from the kernel).
    static BUFFERS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `work` with this thread's buffers, of `a` and `b` values.
fn with_buffers<R>(a: usize, b: usize, work: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    BUFFERS.with(|buffers| {
        let mut buffers = buffers.borrow_mut();
        if buffers.len() < a + b {
            buffers.resize(a + b, 0.0);
        }
        let (first, second) = buffers[..a + b].split_at_mut(a);
        work(first, second)
    })
}

/// Column stride of a group's im2col matrix and product: its columns rounded up to a multiple
/// of 16 f32 (one AVX-512 vector). The GEMM crate reads a column-contiguous operand whose rows
/// come in whole vectors in place, and copies it into packed panels first otherwise (groups of
/// 14×14 or 7×7 images have 392 columns); the extra columns are zero and their outputs dropped.
fn padded_columns(columns: usize) -> usize {
    columns.next_multiple_of(16)
}

/// y = conv(x, W) + b for x [B, C, H, W], W [O, C, k, k], b [O] (or none), in parallel over
/// groups of images: one GEMM [O, k²C] · [k²C, n·HW_out] per group of n, its columns then
/// copied to the n images' NCHW planes (with one image per group and no padding columns the
/// GEMM writes them directly).
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, shape: ConvShape) -> Vec<f32> {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let (hw, ohw, depth) = (shape.in_pixels(), shape.out_pixels(), shape.taps() * inputs);
    let group = images_per_gemm(&shape);
    let (len, block) = (shape.batch * outputs * ohw, group * outputs * ohw);
    let groups = (0..shape.batch.div_ceil(group)).into_par_iter();
    par_zeroed_blocks(len, block, groups, |out, g| {
        let count = out.len() / (outputs * ohw);
        let columns = count * ohw;
        let row_len = padded_columns(columns);
        let direct = count == 1 && row_len == columns;
        let product = if direct { 0 } else { outputs * row_len };
        with_buffers(depth * row_len, product, |col, tmp| {
            for i in 0..count {
                let image = &x[(g * group + i) * inputs * hw..][..inputs * hw];
                im2col(image, &shape, col, (row_len, i * ohw));
            }
            if row_len > columns {
                for row in col.chunks_exact_mut(row_len) {
                    row[columns..].fill(0.0);
                }
            }
            let dst = if direct { &mut *out } else { &mut *tmp };
            if let Some(bias) = bias {
                for (row, &b) in dst.chunks_exact_mut(row_len).zip(bias) {
                    row.fill(b);
                }
            }
            let sizes = (outputs, row_len, depth);
            gemm_into(
                dst,
                bias.is_some(),
                sizes,
                weight,
                (depth, 1),
                col,
                (row_len, 1),
            );
            if !direct {
                for (i, plane) in out.chunks_exact_mut(outputs * ohw).enumerate() {
                    for (o, row) in plane.chunks_exact_mut(ohw).enumerate() {
                        row.copy_from_slice(&tmp[o * row_len + i * ohw..][..ohw]);
                    }
                }
            }
        })
    })
}

/// ∂L/∂x. At stride 1 the convolution of ∂L/∂y with W'[c, o, ky, kx] =
/// W[o, c, k − 1 − ky, k − 1 − kx]; at stride 2 col2im(Wᵀ · ∂L/∂y_n) per image.
pub fn input_gradient(dy: &[f32], weight: &[f32], shape: ConvShape) -> Vec<f32> {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let taps = shape.taps();
    if shape.stride == 1 {
        let mut flipped = vec![0.0f32; weight.len()];
        for o in 0..outputs {
            for c in 0..inputs {
                for t in 0..taps {
                    flipped[(c * outputs + o) * taps + taps - 1 - t] =
                        weight[(o * inputs + c) * taps + t];
                }
            }
        }
        let transposed = ConvShape {
            inputs: outputs,
            outputs: inputs,
            ..shape
        };
        return forward(dy, &flipped, None, transposed);
    }
    let (hw, ohw, depth) = (shape.in_pixels(), shape.out_pixels(), taps * inputs);
    let len = shape.batch * inputs * hw;
    par_zeroed_blocks(len, inputs * hw, dy.par_chunks(outputs * ohw), |dx, dy| {
        with_buffers(depth * ohw, 0, |dcol, _| {
            // Wᵀ [k²C, O] is W [O, k²C] read with row stride 1 and column stride k²C
            let sizes = (depth, ohw, outputs);
            gemm_into(dcol, false, sizes, weight, (1, depth), dy, (ohw, 1));
            col2im(dcol, &shape, dx);
        })
    })
}

/// (∂L/∂W, ∂L/∂b) = (Σ_n ∂L/∂y_n · col(x_n)ᵀ, Σ_n Σ_pixels ∂L/∂y_n): one partial sum per group
/// of images (the groups of [`forward`], fixed by the shape), computed in parallel and added in
/// order, so the rounding does not depend on the number of threads.
pub fn parameter_gradients(x: &[f32], dy: &[f32], shape: ConvShape) -> (Vec<f32>, Vec<f32>) {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let (hw, ohw, depth) = (shape.in_pixels(), shape.out_pixels(), shape.taps() * inputs);
    let size = outputs * depth;
    let group = images_per_gemm(&shape);
    let firsts: Vec<usize> = (0..shape.batch).step_by(group).collect();
    let partials: Vec<Vec<f32>> = firsts
        .par_iter()
        .map(|&first| {
            let count = group.min(shape.batch - first);
            let columns = count * ohw;
            let mut sums = vec![0.0f32; size + outputs];
            with_buffers(depth * columns, outputs * columns, |col, gathered| {
                for i in 0..count {
                    let n = first + i;
                    let image = &x[n * inputs * hw..][..inputs * hw];
                    im2col(image, &shape, col, (columns, i * ohw));
                    let dy_n = &dy[n * outputs * ohw..][..outputs * ohw];
                    for (o, row) in dy_n.chunks_exact(ohw).enumerate() {
                        gathered[o * columns + i * ohw..][..ohw].copy_from_slice(row);
                    }
                }
                let (dw_t, db) = sums.split_at_mut(size);
                // ∂L/∂Wᵀ [k²C, O] = col · gatheredᵀ: the product in this orientation packs
                // the O rows of ∂L/∂y rather than the k²C rows of col
                let sizes = (depth, outputs, columns);
                gemm_into(
                    dw_t,
                    false,
                    sizes,
                    col,
                    (columns, 1),
                    gathered,
                    (1, columns),
                );
                for (sum, row) in db.iter_mut().zip(gathered.chunks_exact(columns)) {
                    *sum = row.iter().sum::<f32>();
                }
            });
            sums
        })
        .collect();
    let mut total = vec![0.0f32; size + outputs];
    for partial in &partials {
        total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
    }
    let db = total.split_off(size);
    (transposed(&total, depth, outputs), db)
}

/// The convolution's shape from x [B, C, H, W], W [O, C, k, k] and the stride.
fn conv_shape(x: &[usize], weight: &[usize], stride: usize) -> ConvShape {
    ConvShape {
        batch: x[0],
        inputs: x[1],
        outputs: weight[0],
        height: x[2],
        width: x[3],
        kernel: weight[2],
        stride,
    }
}

/// The forward pass on flex primitives.
fn forward_flex(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    stride: usize,
) -> FlexTensor {
    let shape = conv_shape(x.shape().as_slice(), weight.shape().as_slice(), stride);
    let y = forward(
        &host_values(x),
        &host_values(weight),
        Some(&host_values(bias)),
        shape,
    );
    let dims = [
        shape.batch,
        shape.outputs,
        shape.out_height(),
        shape.out_width(),
    ];
    flex_tensor(y, dims)
}

/// The backward step of [`conv`] in burn's autodiff graph: the saved x and W (and the stride)
/// and the incoming ∂L/∂y give the three gradients.
#[derive(Debug)]
struct HostConvBackward;

impl Backward<Flex, 3> for HostConvBackward {
    type State = (NodeId, NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, stride) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let shape = conv_shape(x.shape().as_slice(), weight.shape().as_slice(), stride);
        let x_dims: [usize; 4] = x.shape().dims();
        let weight_dims: [usize; 4] = weight.shape().dims();
        let dy = host_values(&dy);
        if let Some(node) = node_x {
            let dx = input_gradient(&dy, &host_values(&weight), shape);
            grads.register::<Flex>(node.id, flex_tensor(dx, x_dims));
        }
        if node_weight.is_some() || node_bias.is_some() {
            let (dw, db) = parameter_gradients(&host_values(&x), &dy, shape);
            if let Some(node) = node_weight {
                grads.register::<Flex>(node.id, flex_tensor(dw, weight_dims));
            }
            if let Some(node) = node_bias {
                grads.register::<Flex>(node.id, flex_tensor(db, [shape.outputs]));
            }
        }
    }
}

/// Whether the host kernels take a convolution: a square 1×1 or 3×3 kernel, stride 1 or 2,
/// shapes that agree (W's input channels are x's, one bias per output channel) and something
/// to compute (no empty axis). burn's `conv2d` gets the rest, and reports mismatches itself.
fn host_supported(x: &[usize; 4], weight: &[usize; 4], bias: &[usize; 1], stride: usize) -> bool {
    let square = weight[3] == weight[2] && matches!(weight[2], 1 | 3);
    let agree = weight[1] == x[1] && bias[0] == weight[0];
    square && agree && matches!(stride, 1 | 2) && !x.contains(&0) && weight[0] > 0
}

/// conv2d(x, W, b) with a square k×k kernel, padding (k − 1)/2 and the given stride: the host
/// kernels above on the flex backend (its autodiff included) for k ∈ {1, 3} and stride 1 or
/// 2, burn's `conv2d` otherwise.
pub fn conv(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, stride: usize) -> Tensor<4> {
    let device = x.device();
    let host = host_supported(&x.dims(), &weight.dims(), &bias.dims(), stride);
    if host && on_flex(&device) {
        let primitives = (
            x.clone().try_into_primitive::<Flex>(),
            weight.clone().try_into_primitive::<Flex>(),
            bias.clone().try_into_primitive::<Flex>(),
        );
        if let (Ok(x), Ok(weight), Ok(bias)) = primitives {
            return Tensor::from_primitive::<Flex>(forward_flex(&x, &weight, &bias, stride));
        }
        type Ad = Autodiff<Flex>;
        let primitives = (
            x.clone().try_into_primitive::<Ad>(),
            weight.clone().try_into_primitive::<Ad>(),
            bias.clone().try_into_primitive::<Ad>(),
        );
        if let (Ok(x), Ok(weight), Ok(bias)) = primitives {
            let output = forward_flex(x.primitive(), weight.primitive(), bias.primitive(), stride);
            let prepared = HostConvBackward
                .prepare::<NoCheckpointing>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful();
            let tensor = match prepared {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let weight_state = prep.checkpoint(&weight);
                    prep.finish((x_state, weight_state, stride), output)
                }
                OpsKind::UnTracked(prep) => prep.finish(output),
            };
            return Tensor::from_primitive::<Ad>(tensor);
        }
    }
    let padding = weight.dims()[2] / 2;
    let options = ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1);
    conv2d(x, weight, Some(bias), options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_test_support::{assert_close, assert_same_on_any_thread_count, values as host};
    use burn::tensor::Device;

    fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
        crate::host_test_support::random(shape, 1.0, device)
    }

    fn close(a: Vec<f32>, b: Vec<f32>, what: &str) {
        assert_close(a, b, 1e-4, what);
    }

    /// One image of two input channels and one output channel.
    fn two_channels(kernel: usize, stride: usize, (height, width): (usize, usize)) -> ConvShape {
        ConvShape {
            batch: 1,
            inputs: 2,
            outputs: 1,
            height,
            width,
            kernel,
            stride,
        }
    }

    /// col2im is the adjoint of im2col, ⟨im2col(x), d⟩ = ⟨x, col2im(d)⟩ (f64 sums, to 1e-4),
    /// for every kernel and stride on odd, even, one-row and one-pixel sides.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (kernel, stride) in [(3, 1), (3, 2), (1, 1), (1, 2)] {
            for (height, width) in [(5, 7), (6, 6), (1, 1), (1, 4), (2, 3)] {
                let shape = two_channels(kernel, stride, (height, width));
                let ohw = shape.out_pixels();
                let img: Vec<f32> = (0..2 * height * width)
                    .map(|i| (i as f32 * 0.37).sin())
                    .collect();
                let mut col = vec![f32::NAN; shape.taps() * 2 * ohw];
                im2col(&img, &shape, &mut col, (ohw, 0));
                let d: Vec<f32> = (0..col.len()).map(|i| (i as f32 * 0.91).cos()).collect();
                let mut back = vec![0.0f32; img.len()];
                col2im(&d, &shape, &mut back);
                let lhs: f64 = col.iter().zip(&d).map(|(a, b)| f64::from(a * b)).sum();
                let rhs: f64 = img.iter().zip(&back).map(|(a, b)| f64::from(a * b)).sum();
                assert!((lhs - rhs).abs() < 1e-4, "{shape:?}: {lhs} against {rhs}");
            }
        }
    }

    /// Values, and the gradients of Σ r ⊙ y with respect to x, W and b, of the host kernels
    /// against burn's conv2d and its autodiff, on a non-square image with unequal channel
    /// counts, for every kernel and stride the host path takes (stride 2 on an odd and an
    /// even side); once with x tracked and once with x a constant (the network's input).
    #[test]
    fn values_and_gradients_match_burns_convolution() {
        let device = Device::flex().autodiff();
        for (kernel, stride) in [(3, 1), (3, 2), (1, 1)] {
            let p = kernel / 2;
            let options = ConvOptions::new([stride, stride], [p, p], [1, 1], 1);
            let what = |part: &str| format!("{kernel}×{kernel} stride {stride}: {part}");
            for track_x in [true, false] {
                let x = random([3, 5, 6, 7], &device);
                let x = if track_x { x.require_grad() } else { x };
                let weight = random([4, 5, kernel, kernel], &device).require_grad();
                let bias = random::<1>([4], &device).require_grad();
                // the tensors are what the host path takes, so it is the host path that is tested
                assert!(x.clone().try_into_primitive::<Autodiff<Flex>>().is_ok());
                let ours = conv(x.clone(), weight.clone(), bias.clone(), stride);
                let theirs = conv2d(
                    x.clone(),
                    weight.clone(),
                    Some(bias.clone()),
                    options.clone(),
                );
                assert_eq!(ours.dims(), theirs.dims(), "{}", what("shape"));
                let r = random(theirs.dims(), &device);
                close(host(ours.clone()), host(theirs.clone()), &what("values"));
                let g_ours = (ours * r.clone()).sum().backward();
                let g_theirs = (theirs * r).sum().backward();
                if track_x {
                    close(
                        host(x.grad(&g_ours).unwrap()),
                        host(x.grad(&g_theirs).unwrap()),
                        &what("∂/∂x"),
                    );
                } else {
                    assert!(x.grad(&g_ours).is_none());
                }
                close(
                    host(weight.grad(&g_ours).unwrap()),
                    host(weight.grad(&g_theirs).unwrap()),
                    &what("∂/∂W"),
                );
                let db = |g| {
                    bias.grad(g)
                        .unwrap()
                        .into_data()
                        .try_into_vec::<f32>()
                        .unwrap()
                };
                let (a, b) = (db(&g_ours), db(&g_theirs));
                close(a, b, &what("∂/∂b"));
            }
        }
    }

    /// im2col against its definition, element by element: the block copies of 3×3 stride 1,
    /// the plain copy of 1×1 and the row-wise gather of stride 2 (3×3 and 1×1), on shapes with one row or one column
    /// (every block copy there is clipped) and at an offset inside wider columns.
    #[test]
    fn im2col_matches_its_definition() {
        let sides = [(1, 1), (1, 5), (5, 1), (2, 3), (4, 6), (5, 7)];
        for (kernel, stride) in [(3, 1), (1, 1), (3, 2), (1, 2)] {
            for (height, width) in sides {
                let shape = two_channels(kernel, stride, (height, width));
                let (hw, ohw, taps) = (shape.in_pixels(), shape.out_pixels(), shape.taps());
                let img: Vec<f32> = (0..2 * hw).map(|i| i as f32 + 1.0).collect();
                let (row_len, offset) = (2 * ohw + 1, ohw);
                let mut col = vec![f32::NAN; taps * 2 * row_len];
                im2col(&img, &shape, &mut col, (row_len, offset));
                let p = (kernel / 2) as isize;
                for c in 0..2 {
                    for t in 0..taps {
                        for y in 0..shape.out_height() {
                            for x in 0..shape.out_width() {
                                let sy = (stride * y + t / kernel) as isize - p;
                                let sx = (stride * x + t % kernel) as isize - p;
                                let inside = (0..height as isize).contains(&sy)
                                    && (0..width as isize).contains(&sx);
                                let expected = if inside {
                                    img[c * hw + sy as usize * width + sx as usize]
                                } else {
                                    0.0
                                };
                                let at = (c * taps + t) * row_len + offset;
                                let got = col[at + y * shape.out_width() + x];
                                assert_eq!(got, expected, "{shape:?} c{c} tap {t} ({y}, {x})");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The host path takes only what it computes: 1×1 and 3×3 square kernels at stride 1 or 2
    /// with agreeing shapes; mismatches go to burn's `conv2d`, which reports them.
    #[test]
    fn host_path_takes_only_what_it_computes() {
        let x = [2, 3, 8, 8];
        assert!(host_supported(&x, &[4, 3, 3, 3], &[4], 1));
        assert!(host_supported(&x, &[4, 3, 3, 3], &[4], 2));
        assert!(host_supported(&x, &[4, 3, 1, 1], &[4], 1));
        assert!(!host_supported(&x, &[4, 3, 5, 5], &[4], 1), "5×5");
        assert!(!host_supported(&x, &[4, 3, 3, 1], &[4], 1), "not square");
        assert!(!host_supported(&x, &[4, 3, 3, 3], &[4], 3), "stride 3");
        assert!(
            !host_supported(&x, &[4, 2, 3, 3], &[4], 1),
            "input channels"
        );
        assert!(!host_supported(&x, &[4, 3, 3, 3], &[5], 1), "bias length");
        assert!(
            !host_supported(&[0, 3, 8, 8], &[4, 3, 3, 3], &[4], 1),
            "empty batch"
        );
    }

    /// The parameter gradients do not depend on the number of threads (bit for bit).
    #[test]
    fn parameter_gradients_are_the_same_on_any_number_of_threads() {
        let shape = ConvShape {
            batch: 9,
            inputs: 3,
            outputs: 2,
            height: 5,
            width: 4,
            kernel: 3,
            stride: 1,
        };
        let x: Vec<f32> = (0..9 * 3 * 20)
            .map(|i| ((i * 37) % 17) as f32 / 7.0 - 1.0)
            .collect();
        let dy: Vec<f32> = (0..9 * 2 * 20)
            .map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.2)
            .collect();
        assert_same_on_any_thread_count(|| parameter_gradients(&x, &dy, shape));
    }

    /// Without autodiff the host path gives burn's values too, for contiguous tensors and for
    /// strided views.
    #[test]
    fn untracked_values_match_burns_convolution() {
        let device = Device::flex();
        let x = random([2, 3, 4, 9], &device);
        let weight = random([6, 3, 3, 3], &device);
        let bias = random::<1>([6], &device);
        assert!(x.clone().try_into_primitive::<Flex>().is_ok());
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let theirs = conv2d(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            options.clone(),
        );
        close(
            host(conv(x, weight.clone(), bias.clone(), 1)),
            host(theirs),
            "values",
        );
        // a strided view (not contiguous) is read through a copy
        let view = random([2, 3, 9, 4], &device).swap_dims(2, 3);
        // 7 images of 8×8 in groups of six: one full group and one of a single image
        let batch = random([7, 3, 8, 8], &device);
        let theirs = conv2d(
            batch.clone(),
            weight.clone(),
            Some(bias.clone()),
            options.clone(),
        );
        let ours = conv(batch, weight.clone(), bias.clone(), 1);
        close(host(ours), host(theirs), "groups of images");
        let theirs = conv2d(view.clone(), weight.clone(), Some(bias.clone()), options);
        close(
            host(conv(view, weight, bias, 1)),
            host(theirs),
            "a strided view",
        );
    }
}

//! The U-Net's 3×3, stride-1, padding-1 convolutions on the CPU: per group of images (one
//! image when it is large, several when it is small), the 9·C shifted copies of the input
//! (im2col) in a buffer that each thread reuses, and one GEMM y = W · col(x) + b into the NCHW
//! output. Its gradients reuse the same
//! two pieces: ∂L/∂x is the same convolution of ∂L/∂y with the kernel flipped and its channel
//! axes swapped, ∂L/∂W = Σ_n ∂L/∂y_n · col(x_n)ᵀ and ∂L/∂b = Σ_n Σ_pixels ∂L/∂y_n.
//!
//! burn-flex's own `conv2d` computes the same products with layout copies and fresh buffers
//! around them and reaches 15–40% of the GEMM peak at these shapes (docs/performance.md); on
//! `Device::flex()`, with or without autodiff, [`conv3x3`] runs these kernels instead, with a
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
use burn::tensor::{Device, Tensor};

use crate::flex_host::{flex_tensor, host_values};
use rayon::prelude::*;

/// Shape of a convolution: batch, input and output channels, image height and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub inputs: usize,
    pub outputs: usize,
    pub height: usize,
    pub width: usize,
}

impl ConvShape {
    fn pixels(&self) -> usize {
        self.height * self.width
    }
}

/// col[(c·9 + 3·ky + kx)·stride + offset + y·W + x] = img[c, y + ky − 1, x + kx − 1] (zero
/// outside): the image's columns of a [9C, stride] matrix whose other columns hold the other
/// images of a group. Each shifted plane is one block copy (a shift by ky − 1 rows and
/// kx − 1 pixels of the flattened plane), after which the column that wrapped around from
/// the neighbouring row is set to zero.
fn im2col(
    img: &[f32],
    (channels, height, width): (usize, usize, usize),
    col: &mut [f32],
    (stride, offset): (usize, usize),
) {
    let hw = height * width;
    for c in 0..channels {
        let plane = &img[c * hw..(c + 1) * hw];
        for ky in 0..3 {
            // output rows y0..y1 read the input rows y0 + ky − 1..y1 + ky − 1
            let y0 = usize::from(ky == 0);
            let y1 = height - usize::from(ky == 2);
            for kx in 0..3 {
                let rows = &mut col[(c * 9 + ky * 3 + kx) * stride + offset..][..hw];
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
}

/// Columns per GEMM that keep its kernel busy: small images are grouped until a product has
/// at least this many.
const COLUMNS_PER_GEMM: usize = 384;

/// Images per GEMM: one for large images, several for small ones (fixed by the shape alone,
/// so results do not depend on the thread count).
fn images_per_gemm(shape: &ConvShape) -> usize {
    COLUMNS_PER_GEMM
        .div_ceil(shape.pixels())
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

/// Elements a rows × cols matrix with row stride `rs` and column stride `cs` spans.
fn span(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// dst (m×n, row-major) = [dst +] lhs · rhs with lhs (m×k) and rhs (k×n) given by their row
/// and column strides.
fn gemm_into(
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

/// y = conv(x, W) + b for x [B, C, H, W], W [O, C, 3, 3], b [O] (or none), in parallel over
/// groups of images: one GEMM [O, 9C] · [9C, k·HW] per group of k, its columns then copied to
/// the k images' NCHW planes (with one image per group the GEMM writes them directly).
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, shape: ConvShape) -> Vec<f32> {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let hw = shape.pixels();
    let group = images_per_gemm(&shape);
    let mut y = vec![0.0f32; shape.batch * outputs * hw];
    y.par_chunks_mut(group * outputs * hw)
        .enumerate()
        .for_each(|(g, out)| {
            let count = out.len() / (outputs * hw);
            let columns = count * hw;
            let product = if count > 1 { outputs * columns } else { 0 };
            with_buffers(9 * inputs * columns, product, |col, tmp| {
                for i in 0..count {
                    let image = &x[(g * group + i) * inputs * hw..][..inputs * hw];
                    let dims = (inputs, shape.height, shape.width);
                    im2col(image, dims, col, (columns, i * hw));
                }
                let dst = if count > 1 { &mut *tmp } else { &mut *out };
                if let Some(bias) = bias {
                    for (row, &b) in dst.chunks_exact_mut(columns).zip(bias) {
                        row.fill(b);
                    }
                }
                let sizes = (outputs, columns, 9 * inputs);
                let rhs = (columns, 1);
                gemm_into(
                    dst,
                    bias.is_some(),
                    sizes,
                    weight,
                    (9 * inputs, 1),
                    col,
                    rhs,
                );
                if count > 1 {
                    for (i, plane) in out.chunks_exact_mut(outputs * hw).enumerate() {
                        for (o, row) in plane.chunks_exact_mut(hw).enumerate() {
                            row.copy_from_slice(&tmp[o * columns + i * hw..][..hw]);
                        }
                    }
                }
            })
        });
    y
}

/// ∂L/∂x: the convolution of ∂L/∂y with W'[c, o, ky, kx] = W[o, c, 2 − ky, 2 − kx].
pub fn input_gradient(dy: &[f32], weight: &[f32], shape: ConvShape) -> Vec<f32> {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let mut flipped = vec![0.0f32; weight.len()];
    for o in 0..outputs {
        for c in 0..inputs {
            for k in 0..9 {
                flipped[(c * outputs + o) * 9 + 8 - k] = weight[(o * inputs + c) * 9 + k];
            }
        }
    }
    let transposed = ConvShape {
        inputs: outputs,
        outputs: inputs,
        ..shape
    };
    forward(dy, &flipped, None, transposed)
}

/// (∂L/∂W, ∂L/∂b) = (Σ_n ∂L/∂y_n · col(x_n)ᵀ, Σ_n Σ_pixels ∂L/∂y_n): one partial sum per group
/// of images (the groups of [`forward`], fixed by the shape), computed in parallel and added in
/// order, so the rounding does not depend on the number of threads.
pub fn parameter_gradients(x: &[f32], dy: &[f32], shape: ConvShape) -> (Vec<f32>, Vec<f32>) {
    let ConvShape {
        inputs, outputs, ..
    } = shape;
    let hw = shape.pixels();
    let size = outputs * 9 * inputs;
    let group = images_per_gemm(&shape);
    let firsts: Vec<usize> = (0..shape.batch).step_by(group).collect();
    let partials: Vec<Vec<f32>> = firsts
        .par_iter()
        .map(|&first| {
            let count = group.min(shape.batch - first);
            let columns = count * hw;
            let mut sums = vec![0.0f32; size + outputs];
            with_buffers(9 * inputs * columns, outputs * columns, |col, gathered| {
                for i in 0..count {
                    let n = first + i;
                    let image = &x[n * inputs * hw..][..inputs * hw];
                    im2col(
                        image,
                        (inputs, shape.height, shape.width),
                        col,
                        (columns, i * hw),
                    );
                    let dy_n = &dy[n * outputs * hw..][..outputs * hw];
                    for (o, row) in dy_n.chunks_exact(hw).enumerate() {
                        gathered[o * columns + i * hw..][..hw].copy_from_slice(row);
                    }
                }
                let (dw, db) = sums.split_at_mut(size);
                let sizes = (outputs, 9 * inputs, columns);
                gemm_into(dw, false, sizes, gathered, (columns, 1), col, (1, columns));
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
    (total, db)
}

/// The convolution's shape from x [B, C, H, W] and W [O, C, 3, 3].
fn conv_shape(x: &[usize], weight: &[usize]) -> ConvShape {
    ConvShape {
        batch: x[0],
        inputs: x[1],
        outputs: weight[0],
        height: x[2],
        width: x[3],
    }
}

/// The forward pass on flex primitives.
fn forward_flex(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let shape = conv_shape(x.shape().as_slice(), weight.shape().as_slice());
    let y = forward(
        &host_values(x),
        &host_values(weight),
        Some(&host_values(bias)),
        shape,
    );
    let ConvShape {
        batch,
        outputs,
        height,
        width,
        ..
    } = shape;
    flex_tensor(y, [batch, outputs, height, width])
}

/// The backward step of [`conv3x3`] in burn's autodiff graph: the saved x and W and the
/// incoming ∂L/∂y give the three gradients.
#[derive(Debug)]
struct HostConvBackward;

impl Backward<Flex, 3> for HostConvBackward {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let shape = conv_shape(x.shape().as_slice(), weight.shape().as_slice());
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

/// conv2d(x, W, b) with a 3×3 kernel, stride 1 and padding 1: the host kernels above on the
/// flex backend (its autodiff included), burn's `conv2d` elsewhere.
pub fn conv3x3(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    let device = x.device();
    // empty tensors (no pixels, channels or kernels) have nothing to gain from the host path
    let empty = x.dims().contains(&0) || weight.dims()[0] == 0;
    if device == Device::flex() && !empty {
        let primitives = (
            x.clone().try_into_primitive::<Flex>(),
            weight.clone().try_into_primitive::<Flex>(),
            bias.clone().try_into_primitive::<Flex>(),
        );
        if let (Ok(x), Ok(weight), Ok(bias)) = primitives {
            return Tensor::from_primitive::<Flex>(forward_flex(&x, &weight, &bias));
        }
    }
    if device == Device::flex().autodiff() && !empty {
        type Ad = Autodiff<Flex>;
        let primitives = (
            x.clone().try_into_primitive::<Ad>(),
            weight.clone().try_into_primitive::<Ad>(),
            bias.clone().try_into_primitive::<Ad>(),
        );
        if let (Ok(x), Ok(weight), Ok(bias)) = primitives {
            let output = forward_flex(x.primitive(), weight.primitive(), bias.primitive());
            let prepared = HostConvBackward
                .prepare::<NoCheckpointing>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful();
            let tensor = match prepared {
                OpsKind::Tracked(mut prep) => {
                    let x_state = prep.checkpoint(&x);
                    let weight_state = prep.checkpoint(&weight);
                    prep.finish((x_state, weight_state), output)
                }
                OpsKind::UnTracked(prep) => prep.finish(output),
            };
            return Tensor::from_primitive::<Ad>(tensor);
        }
    }
    let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    conv2d(x, weight, Some(bias), options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
    }

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    fn close(a: Vec<f32>, b: Vec<f32>, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        let worst = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "{what}: largest difference {worst}");
    }

    /// Values, and the gradients of Σ r ⊙ y with respect to x, W and b, of the host kernels
    /// against burn's conv2d and its autodiff, on a non-square image with unequal channel
    /// counts; once with x tracked and once with x a constant (the network's input).
    #[test]
    fn values_and_gradients_match_burns_convolution() {
        let device = Device::flex().autodiff();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        for track_x in [true, false] {
            let x = random([3, 5, 6, 7], &device);
            let x = if track_x { x.require_grad() } else { x };
            let weight = random([4, 5, 3, 3], &device).require_grad();
            let bias = random::<1>([4], &device).require_grad();
            let r = random([3, 4, 6, 7], &device);
            // the tensors are what the host path takes, so it is the host path that is tested
            assert!(x.clone().try_into_primitive::<Autodiff<Flex>>().is_ok());
            let ours = conv3x3(x.clone(), weight.clone(), bias.clone());
            let theirs = conv2d(
                x.clone(),
                weight.clone(),
                Some(bias.clone()),
                options.clone(),
            );
            close(host(ours.clone()), host(theirs.clone()), "values");
            let g_ours = (ours * r.clone()).sum().backward();
            let g_theirs = (theirs * r).sum().backward();
            if track_x {
                close(
                    host(x.grad(&g_ours).unwrap()),
                    host(x.grad(&g_theirs).unwrap()),
                    "∂/∂x",
                );
            } else {
                assert!(x.grad(&g_ours).is_none());
            }
            close(
                host(weight.grad(&g_ours).unwrap()),
                host(weight.grad(&g_theirs).unwrap()),
                "∂/∂W",
            );
            let db = |g| {
                bias.grad(g)
                    .unwrap()
                    .into_data()
                    .try_into_vec::<f32>()
                    .unwrap()
            };
            let (a, b) = (db(&g_ours), db(&g_theirs));
            close(a, b, "∂/∂b");
        }
    }

    /// The block-copy im2col against its definition, element by element, on shapes with one
    /// row or one column (every copy there is clipped) and at an offset inside wider columns.
    #[test]
    fn im2col_matches_its_definition() {
        for (channels, height, width) in [(2, 1, 1), (1, 1, 5), (1, 5, 1), (2, 2, 3), (3, 4, 6)] {
            let hw = height * width;
            let img: Vec<f32> = (0..channels * hw).map(|i| i as f32 + 1.0).collect();
            let (stride, offset) = (2 * hw + 1, hw);
            let mut col = vec![f32::NAN; 9 * channels * stride];
            im2col(&img, (channels, height, width), &mut col, (stride, offset));
            for c in 0..channels {
                for k in 0..9 {
                    for y in 0..height {
                        for x in 0..width {
                            let (sy, sx) = ((y + k / 3) as isize - 1, (x + k % 3) as isize - 1);
                            let inside = (0..height as isize).contains(&sy)
                                && (0..width as isize).contains(&sx);
                            let expected = if inside {
                                img[c * hw + sy as usize * width + sx as usize]
                            } else {
                                0.0
                            };
                            let got = col[(c * 9 + k) * stride + offset + y * width + x];
                            assert_eq!(got, expected, "{channels}×{height}×{width} c{c} k{k}");
                        }
                    }
                }
            }
        }
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
        };
        let x: Vec<f32> = (0..9 * 3 * 20)
            .map(|i| ((i * 37) % 17) as f32 / 7.0 - 1.0)
            .collect();
        let dy: Vec<f32> = (0..9 * 2 * 20)
            .map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.2)
            .collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| parameter_gradients(&x, &dy, shape))
        };
        let one = run(1);
        for threads in [2, 3] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
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
            host(conv3x3(x, weight.clone(), bias.clone())),
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
        let ours = conv3x3(batch, weight.clone(), bias.clone());
        close(host(ours), host(theirs), "groups of images");
        let theirs = conv2d(view.clone(), weight.clone(), Some(bias.clone()), options);
        close(
            host(conv3x3(view, weight, bias)),
            host(theirs),
            "a strided view",
        );
    }
}

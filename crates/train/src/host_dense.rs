//! The MLP's affine layer with its activation, for primal rows and tangent rows stacked in one
//! matrix, as one host kernel on the CPU. For S = [X; V₁; …; V_K] (B primal rows, then K blocks
//! of B tangent rows):
//!
//!   Z = X W + b,  Y_X = act(Z),  U_k = V_k W,  Y_k = U_k ⊙ act'(Z),
//!
//! the layer and its Jacobian-vector product (DESIGN §5) with one matrix product over all the
//! rows. K = 0 is the plain layer act(X W + b). The backward pass is written out:
//!
//!   G_Z = ∂L/∂Y_X ⊙ act'(Z) + Σ_k ∂L/∂Y_k ⊙ U_k ⊙ act''(Z),  G_k = ∂L/∂Y_k ⊙ act'(Z),
//!   ∂L/∂S = [G_Z; G_k] Wᵀ,  ∂L/∂W = Sᵀ [G_Z; G_k],  ∂L/∂b = Σ_rows G_Z.
//!
//! As tensor operations burn-flex runs the product (in parallel) and the broadcast bias add,
//! the SiLU graph and the tangent scaling as separate passes, one thread each. Here each block
//! of rows is a bias fill, one product that accumulates onto it and the activation while the
//! block is in cache, in parallel over the blocks; ∂L/∂W is parallel over its rows, each summed
//! over the whole batch in one product, so no result depends on the number of threads. On
//! `Device::flex()`, with or without autodiff, [`stacked_dense`] runs these kernels; elsewhere
//! it returns `None` and the caller uses tensor operations.

use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::activation::{silu_chunk, silu_curvature_chunk};
use scorelab_core::flex_host::{flex_tensor, host_values, on_flex};
use scorelab_core::host_buffers::zeroed;
use scorelab_core::host_gemm::{gemm_into, gemm_into_uninit, transposed};

/// The activation after the affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// act(z) = z (the output layer).
    Identity,
    /// act(z) = z σ(z).
    Silu,
}

/// Shape of a stacked layer: B primal rows, K tangent blocks of B rows, inputs and outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseShape {
    pub primal_rows: usize,
    pub tangent_blocks: usize,
    pub inputs: usize,
    pub outputs: usize,
}

impl DenseShape {
    fn rows(&self) -> usize {
        self.primal_rows * (1 + self.tangent_blocks)
    }
}

/// Rows per task of the row-parallel passes (fixed, so results do not depend on the thread
/// count).
const ROWS_PER_BLOCK: usize = 128;
/// Rows of ∂L/∂W per task.
const WEIGHT_ROWS_PER_TASK: usize = 32;
/// Entries of ∂L/∂b per task.
const BIAS_COLUMNS_PER_TASK: usize = 64;

/// What the forward pass keeps for the backward pass: act'(Z) and, with tangent rows,
/// act''(Z) and the tangent products U (all empty for the identity, or when not asked for).
#[derive(Clone, Debug, Default)]
pub struct Saved {
    slope: Vec<f32>,
    curvature: Vec<f32>,
    tangent_products: Vec<f32>,
}

/// Each row of the block set to `row` (the bias), as initialised values.
fn repeated_rows<'a>(slots: &'a mut [MaybeUninit<f32>], row: &[f32]) -> &'a mut [f32] {
    for slots in slots.chunks_exact_mut(row.len()) {
        slots.write_copy_of_slice(row);
    }
    assert_eq!(slots.len() % row.len(), 0, "whole rows");
    // SAFETY: every slot was written just above (whole rows, as asserted).
    unsafe { slots.assume_init_mut() }
}

/// The rows of act'(Z) that block `j` of `rows` tangent rows pairs with,
/// in order: tangent row r pairs with primal row r mod B.
fn slope_rows(
    slope: &[f32],
    j: usize,
    rows: usize,
    shape: DenseShape,
) -> impl Iterator<Item = &[f32]> {
    let outputs = shape.outputs;
    (0..rows).map(move |i| {
        let p = (j * ROWS_PER_BLOCK + i) % shape.primal_rows;
        &slope[p * outputs..(p + 1) * outputs]
    })
}

/// A vector of `len` values that `init` writes completely through its spare capacity.
///
/// # Safety
/// `init` writes every one of the `len` slots it is given.
unsafe fn written_vec(len: usize, init: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    init(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the caller's guarantee.
    unsafe { out.set_len(len) };
    out
}

/// The forward pass: Y [(1+K)B, outputs] and what the backward pass needs (`keep`). Every
/// buffer is written once, block by block in parallel, with no zeroing pass first.
pub fn forward(
    s: &[f32],
    weight: &[f32],
    bias: &[f32],
    shape: DenseShape,
    act: Activation,
    keep: bool,
) -> (Vec<f32>, Saved) {
    let DenseShape {
        primal_rows,
        inputs,
        outputs,
        ..
    } = shape;
    assert_eq!(s.len(), shape.rows() * inputs, "stacked input size");
    assert_eq!(weight.len(), inputs * outputs, "weight size");
    assert_eq!(bias.len(), outputs, "bias size");
    let silu = act == Activation::Silu;
    let with_tangents = shape.tangent_blocks > 0;
    let primal = primal_rows * outputs;
    let block = ROWS_PER_BLOCK * outputs;
    let slope_len = if silu && (keep || with_tangents) {
        primal
    } else {
        0
    };
    let curvature_len = if silu && keep && with_tangents {
        primal
    } else {
        0
    };
    let mut y = Vec::with_capacity(shape.rows() * outputs);
    let (y_primal, y_tangent) =
        y.spare_capacity_mut()[..shape.rows() * outputs].split_at_mut(primal);
    // Z = X W + b and act(Z), act'(Z), act''(Z) per block of primal rows
    let mut saved = Saved::default();
    // SAFETY: each task below writes its block of the slopes and curvatures (`zeroed`).
    let (slope, curvature) = unsafe {
        let mut curvature = Vec::new();
        let slope = written_vec(slope_len, |slopes| {
            curvature = written_vec(curvature_len, |curvatures| {
                let mut slopes = slopes.chunks_mut(block).map(Some);
                let mut curvatures = curvatures.chunks_mut(block).map(Some);
                let tasks: Vec<_> = y_primal
                    .chunks_mut(block)
                    .zip(s.chunks(ROWS_PER_BLOCK * inputs))
                    .map(|(y, x)| (y, x, slopes.next().flatten(), curvatures.next().flatten()))
                    .collect();
                tasks.into_par_iter().for_each(|(y, x, slope, curvature)| {
                    let y = repeated_rows(y, bias);
                    block_product(y, true, x, weight, shape);
                    match (act, slope.map(zeroed), curvature.map(zeroed)) {
                        (Activation::Identity, _, _) => {}
                        (Activation::Silu, Some(slope), Some(curvature)) => {
                            silu_curvature_chunk(y, slope, curvature)
                        }
                        (Activation::Silu, slope, _) => silu_chunk(y, slope),
                    }
                });
            });
        });
        (slope, curvature)
    };
    // U = V W, then Y_k = U_k ⊙ act'(Z) per block of tangent rows
    let s_tangent = &s[primal_rows * inputs..];
    let keep_products = silu && keep && with_tangents;
    let scaled = |j: usize, y: &mut [MaybeUninit<f32>], u: &[f32]| {
        let rows = slope_rows(&slope, j, y.len() / outputs, shape);
        for ((y, u), slope) in y
            .chunks_exact_mut(outputs)
            .zip(u.chunks_exact(outputs))
            .zip(rows)
        {
            for ((y, &u), &s) in y.iter_mut().zip(u).zip(slope) {
                y.write(u * s);
            }
        }
    };
    let tangent_len = if keep_products { y_tangent.len() } else { 0 };
    // SAFETY: each block of the tangent products is written by its GEMM.
    let tangent_products = unsafe {
        written_vec(tangent_len, |products| {
            let tasks = y_tangent
                .par_chunks_mut(block)
                .zip(s_tangent.par_chunks(ROWS_PER_BLOCK * inputs));
            if keep_products {
                tasks
                    .zip(products.par_chunks_mut(block))
                    .enumerate()
                    .for_each(|(j, ((y, v), u))| {
                        scaled(j, y, tangent_product(u, v, weight, shape))
                    });
            } else {
                tasks.enumerate().for_each(|(j, (y, v))| {
                    let u = tangent_product(y, v, weight, shape);
                    if silu {
                        let rows = slope_rows(&slope, j, u.len() / outputs, shape);
                        for (u, slope) in u.chunks_exact_mut(outputs).zip(rows) {
                            u.iter_mut().zip(slope).for_each(|(u, s)| *u *= s);
                        }
                    }
                });
            }
        })
    };
    // SAFETY: every primal block was written (`repeated_rows`) and every tangent block by its
    // product or its scaling.
    unsafe { y.set_len(shape.rows() * outputs) };
    saved.slope = slope;
    saved.curvature = curvature;
    saved.tangent_products = tangent_products;
    (y, saved)
}

/// U = V · W for a block of tangent rows V, into `u`'s unwritten values.
fn tangent_product<'a>(
    u: &'a mut [MaybeUninit<f32>],
    v: &[f32],
    weight: &[f32],
    shape: DenseShape,
) -> &'a mut [f32] {
    let (inputs, outputs) = (shape.inputs, shape.outputs);
    let sizes = (u.len() / outputs, outputs, inputs);
    gemm_into_uninit(u, sizes, v, (inputs, 1), weight, (outputs, 1))
}

/// y [+]= S_rows · W for a block of rows of S (y holds the block's rows of the output).
fn block_product(y: &mut [f32], accumulate: bool, rows: &[f32], weight: &[f32], shape: DenseShape) {
    let (inputs, outputs) = (shape.inputs, shape.outputs);
    let sizes = (y.len() / outputs, outputs, inputs);
    gemm_into(
        y,
        accumulate,
        sizes,
        rows,
        (inputs, 1),
        weight,
        (outputs, 1),
    );
}

/// The gradients with respect to the pre-activations, [G_Z; G_k] of the module comment, each
/// value written once, the primal and the tangent rows side by side.
fn pre_activation_gradient(dy: &[f32], saved: &Saved, shape: DenseShape) -> Vec<f32> {
    let DenseShape {
        primal_rows,
        tangent_blocks,
        outputs,
        ..
    } = shape;
    let primal = primal_rows * outputs;
    let block = ROWS_PER_BLOCK * outputs;
    // SAFETY: both loops below write every value of their blocks.
    unsafe {
        written_vec(shape.rows() * outputs, |g| {
            let (g_primal, g_tangent) = g.split_at_mut(primal);
            // G_Z = ∂L/∂Y_X ⊙ act' + Σ_k ∂L/∂Y_k ⊙ U_k ⊙ act''
            let primal_rows_gradient = || {
                g_primal
                    .par_chunks_mut(block)
                    .enumerate()
                    .for_each(|(j, g)| {
                        let start = j * block;
                        let slope = &saved.slope[start..start + g.len()];
                        let dy_x = &dy[start..start + g.len()];
                        for ((g, &d), &s) in g.iter_mut().zip(dy_x).zip(slope) {
                            g.write(d * s);
                        }
                        let g = g.assume_init_mut();
                        for k in 0..tangent_blocks {
                            let curvature = &saved.curvature[start..start + g.len()];
                            let at = (1 + k) * primal + start;
                            let dyk = &dy[at..at + g.len()];
                            let u = &saved.tangent_products[k * primal + start..][..g.len()];
                            for (((g, &d), &u), &c) in g.iter_mut().zip(dyk).zip(u).zip(curvature) {
                                *g += d * u * c;
                            }
                        }
                    })
            };
            // G_k = ∂L/∂Y_k ⊙ act'
            let tangent_rows_gradient = || {
                let dy_tangent = &dy[primal..];
                g_tangent
                    .par_chunks_mut(block)
                    .zip(dy_tangent.par_chunks(block))
                    .enumerate()
                    .for_each(|(j, (g, dy))| {
                        let rows = slope_rows(&saved.slope, j, g.len() / outputs, shape);
                        let pairs = g.chunks_exact_mut(outputs).zip(dy.chunks_exact(outputs));
                        for ((g, dy), slope) in pairs.zip(rows) {
                            for ((g, &d), &s) in g.iter_mut().zip(dy).zip(slope) {
                                g.write(d * s);
                            }
                        }
                    })
            };
            rayon::join(primal_rows_gradient, tangent_rows_gradient);
        })
    }
}

/// The backward pass for ∂L/∂Y = `dy`: ∂L/∂S (when `need_input`), ∂L/∂W and ∂L/∂b.
pub fn backward(
    s: &[f32],
    weight: &[f32],
    saved: &Saved,
    dy: &[f32],
    shape: DenseShape,
    act: Activation,
    need_input: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let DenseShape {
        primal_rows,
        inputs,
        outputs,
        ..
    } = shape;
    let rows = shape.rows();
    assert_eq!(dy.len(), rows * outputs, "output gradient size");
    let g_owned;
    let g: &[f32] = match act {
        Activation::Identity => dy,
        Activation::Silu => {
            g_owned = pre_activation_gradient(dy, saved, shape);
            &g_owned
        }
    };
    // ∂L/∂S = G Wᵀ per block of rows, with Wᵀ [outputs, inputs] written out once: read
    // through strides instead, W would be transposed into the GEMM's panels for every block
    // ∂L/∂S, ∂L/∂W and ∂L/∂b read only G, S and W: one parallel region for the three, so that
    // the threads balance over all their tasks and meet once instead of three times
    let input_gradient = || {
        need_input.then(|| {
            let weight_t = transposed(weight, inputs, outputs);
            // SAFETY: every block is written by its GEMM.
            unsafe {
                written_vec(rows * inputs, |ds| {
                    ds.par_chunks_mut(ROWS_PER_BLOCK * inputs)
                        .zip(g.par_chunks(ROWS_PER_BLOCK * outputs))
                        .for_each(|(ds, g)| {
                            let r = g.len() / outputs;
                            let sizes = (r, inputs, outputs);
                            gemm_into_uninit(ds, sizes, g, (outputs, 1), &weight_t, (inputs, 1));
                        })
                })
            }
        })
    };
    // ∂L/∂W = Sᵀ G, each block of its rows over all the batch
    // SAFETY: every block is written by its GEMM.
    let weight_gradient = || unsafe {
        written_vec(inputs * outputs, |dw| {
            dw.par_chunks_mut(WEIGHT_ROWS_PER_TASK * outputs)
                .enumerate()
                .for_each(|(j, dw)| {
                    let m = dw.len() / outputs;
                    let first = j * WEIGHT_ROWS_PER_TASK;
                    let sizes = (m, outputs, rows);
                    gemm_into_uninit(dw, sizes, &s[first..], (1, inputs), g, (outputs, 1));
                })
        })
    };
    // ∂L/∂b = Σ_rows G_Z, in row order, in parallel over blocks of columns
    let bias_gradient = || {
        let mut db = vec![0.0f32; outputs];
        db.par_chunks_mut(BIAS_COLUMNS_PER_TASK)
            .enumerate()
            .for_each(|(j, db)| {
                let first = j * BIAS_COLUMNS_PER_TASK;
                for row in g[..primal_rows * outputs].chunks(outputs) {
                    let row = &row[first..first + db.len()];
                    db.iter_mut().zip(row).for_each(|(d, &v)| *d += v);
                }
            });
        db
    };
    let (ds, (dw, db)) = rayon::join(input_gradient, || {
        rayon::join(weight_gradient, bias_gradient)
    });
    (ds, dw, db)
}

/// The shape of a stacked layer from its operands, or `None` when they do not agree.
fn dense_shape(
    rows: usize,
    primal_rows: usize,
    weight: [usize; 2],
    bias: [usize; 1],
    inputs: usize,
) -> Option<DenseShape> {
    let [weight_inputs, outputs] = weight;
    let agree = weight_inputs == inputs && bias == [outputs];
    let non_empty = rows > 0 && inputs > 0 && outputs > 0 && primal_rows > 0;
    (agree && non_empty && rows.is_multiple_of(primal_rows)).then(|| DenseShape {
        primal_rows,
        tangent_blocks: rows / primal_rows - 1,
        inputs,
        outputs,
    })
}

/// The forward pass on flex primitives.
fn forward_flex(
    s: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    shape: DenseShape,
    act: Activation,
    keep: bool,
) -> (FlexTensor, Saved) {
    let (y, saved) = forward(
        &host_values(s),
        &host_values(weight),
        &host_values(bias),
        shape,
        act,
        keep,
    );
    (flex_tensor(y, [shape.rows(), shape.outputs]), saved)
}

/// The backward step of [`stacked_dense`] in burn's autodiff graph.
#[derive(Debug)]
struct StackedDenseBackward;

/// What the backward step keeps: S and W (as checkpointed nodes), the shape, the activation
/// and its derivatives at Z.
#[derive(Clone, Debug)]
struct SavedDense {
    s: NodeId,
    weight: NodeId,
    shape: DenseShape,
    act: Activation,
    saved: Saved,
}

impl Backward<Flex, 3> for StackedDenseBackward {
    type State = SavedDense;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_s, node_weight, node_bias] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let s = checkpointer.retrieve_node_output::<FlexTensor>(state.s);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(state.weight);
        let shape = state.shape;
        let (ds, dw, db) = backward(
            &host_values(&s),
            &host_values(&weight),
            &state.saved,
            &host_values(&dy),
            shape,
            state.act,
            node_s.is_some(),
        );
        if let (Some(node), Some(ds)) = (node_s, ds) {
            grads.register::<Flex>(node.id, flex_tensor(ds, [shape.rows(), shape.inputs]));
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex_tensor(dw, [shape.inputs, shape.outputs]));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex_tensor(db, [shape.outputs]));
        }
    }
}

/// The stacked layer of the module comment for S [(1+K)·B, inputs] (`primal_rows` = B),
/// W [inputs, outputs] and b [outputs]: [act(X W + b); (V_k W) ⊙ act'(X W + b)], on the host
/// kernels when the tensors are on the flex backend (its autodiff included); `None` elsewhere,
/// for empty tensors and for operands whose shapes do not agree, where the caller composes
/// tensor operations.
pub fn stacked_dense(
    s: &Tensor<2>,
    weight: &Tensor<2>,
    bias: &Tensor<1>,
    primal_rows: usize,
    act: Activation,
) -> Option<Tensor<2>> {
    let [rows, inputs] = s.dims();
    let shape = dense_shape(rows, primal_rows, weight.dims(), bias.dims(), inputs)?;
    if !on_flex(&s.device()) {
        return None;
    }
    let primitives = (
        s.clone().try_into_primitive::<Flex>(),
        weight.clone().try_into_primitive::<Flex>(),
        bias.clone().try_into_primitive::<Flex>(),
    );
    if let (Ok(s), Ok(weight), Ok(bias)) = primitives {
        let (y, _) = forward_flex(&s, &weight, &bias, shape, act, false);
        return Some(Tensor::from_primitive::<Flex>(y));
    }
    type Ad = Autodiff<Flex>;
    let s = s.clone().try_into_primitive::<Ad>().ok()?;
    let weight = weight.clone().try_into_primitive::<Ad>().ok()?;
    let bias = bias.clone().try_into_primitive::<Ad>().ok()?;
    let prepared = StackedDenseBackward
        .prepare::<NoCheckpointing>([s.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful();
    let operands = (s.primitive(), weight.primitive(), bias.primitive());
    let tensor = match prepared {
        OpsKind::Tracked(mut prep) => {
            let (y, saved) = forward_flex(operands.0, operands.1, operands.2, shape, act, true);
            let state = SavedDense {
                s: prep.checkpoint(&s),
                weight: prep.checkpoint(&weight),
                shape,
                act,
                saved,
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => {
            let (y, _) = forward_flex(operands.0, operands.1, operands.2, shape, act, false);
            prep.finish(y)
        }
    };
    Some(Tensor::from_primitive::<Ad>(tensor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_test_support::{
        assert_close as close, assert_same_on_any_thread_count, random, values,
    };
    use burn::tensor::activation::sigmoid;
    use burn::tensor::Device;

    /// The stacked layer as tensor operations with burn's own sigmoid: the definition the host
    /// kernels must reproduce.
    fn reference(
        s: Tensor<2>,
        weight: Tensor<2>,
        bias: Tensor<1>,
        primal_rows: usize,
        act: Activation,
    ) -> Tensor<2> {
        let [rows, inputs] = s.dims();
        let outputs = weight.dims()[1];
        let z = s.clone().narrow(0, 0, primal_rows).matmul(weight.clone()) + bias.unsqueeze_dim(0);
        let blocks = rows / primal_rows - 1;
        if blocks == 0 {
            return match act {
                Activation::Identity => z,
                Activation::Silu => z.clone() * sigmoid(z),
            };
        }
        let u = s
            .narrow(0, primal_rows, rows - primal_rows)
            .reshape([blocks, primal_rows, inputs])
            .matmul(weight.unsqueeze_dim(0));
        let (a, slope) = match act {
            Activation::Identity => (z.clone(), z.ones_like()),
            Activation::Silu => {
                let sig = sigmoid(z.clone());
                let slope = sig.clone() * ((-sig.clone() + 1.0) * z.clone() + 1.0);
                (z * sig, slope)
            }
        };
        let tangent = (u * slope.unsqueeze_dim(0)).reshape([rows - primal_rows, outputs]);
        Tensor::cat(vec![a, tangent], 0)
    }

    /// Values and the gradients of Σ r ⊙ Y with respect to S, W and b against autodiff of the
    /// tensor definition, for the plain layer (K = 0) and two tangent blocks, both activations,
    /// with B = 130 primal rows so that blocks of 128 rows straddle the primal and tangent parts.
    #[test]
    fn values_and_gradients_match_the_tensor_definition() {
        let device = Device::flex().autodiff();
        for (blocks, act) in [
            (0, Activation::Silu),
            (2, Activation::Silu),
            (0, Activation::Identity),
            (2, Activation::Identity),
        ] {
            let (b, inputs, outputs) = (130, 5, 7);
            let rows = b * (1 + blocks);
            let s = random([rows, inputs], 1.5, &device).require_grad();
            let weight = random([inputs, outputs], 0.8, &device).require_grad();
            let bias = random::<1>([outputs], 0.5, &device).require_grad();
            let r = random([rows, outputs], 1.0, &device);
            let ours = stacked_dense(&s, &weight, &bias, b, act).expect("the host path");
            let theirs = reference(s.clone(), weight.clone(), bias.clone(), b, act);
            let what = format!("K = {blocks}, {act:?}");
            close(values(ours.clone()), values(theirs.clone()), 1e-5, &what);
            let g_ours = (ours * r.clone()).sum().backward();
            let g_theirs = (theirs * r).sum().backward();
            let grad = |t: &Tensor<2>, g| values(t.grad(g).unwrap());
            close(
                grad(&s, &g_ours),
                grad(&s, &g_theirs),
                1e-4,
                &format!("∂/∂S, {what}"),
            );
            let (ours_w, theirs_w) = (grad(&weight, &g_ours), grad(&weight, &g_theirs));
            close(ours_w, theirs_w, 1e-3, &format!("∂/∂W, {what}"));
            let grad = |t: &Tensor<1>, g| values(t.grad(g).unwrap());
            let (ours_b, theirs_b) = (grad(&bias, &g_ours), grad(&bias, &g_theirs));
            close(ours_b, theirs_b, 1e-3, &format!("∂/∂b, {what}"));
        }
    }

    /// A small stacked problem: S, W, b and the weights r of the loss Σ r ⊙ Y.
    fn problem(shape: DenseShape) -> [Vec<f32>; 4] {
        let pattern = |n: usize, a: usize, m: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * a) % m) as f32 / m as f32 * 2.0 * scale - scale)
                .collect()
        };
        let rows = shape.rows();
        [
            pattern(rows * shape.inputs, 37, 23, 2.0),
            pattern(shape.inputs * shape.outputs, 11, 17, 0.7),
            pattern(shape.outputs, 5, 7, 0.3),
            pattern(rows * shape.outputs, 13, 11, 1.0),
        ]
    }

    /// ∂/∂S and ∂/∂W by central differences of the host forward pass (f64 sums), one tangent
    /// block and SiLU (the curvature term included): step 1e-3, tolerance 2e-3 (values of
    /// order one in f32, so the quotient carries about 1e-4 of rounding).
    #[test]
    fn gradients_match_finite_differences() {
        let shape = DenseShape {
            primal_rows: 3,
            tangent_blocks: 1,
            inputs: 4,
            outputs: 5,
        };
        let [s, weight, bias, r] = problem(shape);
        let loss = |s: &[f32], weight: &[f32]| -> f64 {
            let (y, _) = forward(s, weight, &bias, shape, Activation::Silu, false);
            y.iter().zip(&r).map(|(&y, &r)| y as f64 * r as f64).sum()
        };
        let (_, saved) = forward(&s, &weight, &bias, shape, Activation::Silu, true);
        let (ds, dw, _) = backward(&s, &weight, &saved, &r, shape, Activation::Silu, true);
        let ds = ds.expect("asked for");
        let h = 1e-3f32;
        // central differences of `loss_at` in every entry of `point`, against `analytic`
        let check =
            |point: &[f32], analytic: &[f32], what: &str, loss_at: &dyn Fn(&[f32]) -> f64| {
                for i in 0..point.len() {
                    let (mut up, mut down) = (point.to_vec(), point.to_vec());
                    up[i] += h;
                    down[i] -= h;
                    let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * h as f64);
                    let analytic = analytic[i] as f64;
                    assert!(
                        (numeric - analytic).abs() < 2e-3,
                        "{what}[{i}]: {numeric} vs {analytic}"
                    );
                }
            };
        check(&s, &ds, "∂/∂S", &|s| loss(s, &weight));
        check(&weight, &dw, "∂/∂W", &|w| loss(&s, w));
    }

    /// Values and all gradients do not depend on the number of threads (bit for bit), over
    /// several blocks of rows and of weight rows.
    #[test]
    fn results_are_the_same_on_any_number_of_threads() {
        let shape = DenseShape {
            primal_rows: 300,
            tangent_blocks: 1,
            inputs: 70,
            outputs: 9,
        };
        let [s, weight, bias, r] = problem(shape);
        assert_same_on_any_thread_count(|| {
            let (y, saved) = forward(&s, &weight, &bias, shape, Activation::Silu, true);
            (
                y,
                backward(&s, &weight, &saved, &r, shape, Activation::Silu, true),
            )
        });
    }

    /// Without autodiff the host path gives the definition's values, also for a strided view
    /// (read through a copy).
    #[test]
    fn untracked_values_match_the_tensor_definition() {
        let device = Device::flex();
        let weight = random([6, 4], 1.0, &device);
        let bias = random::<1>([4], 1.0, &device);
        let s = random([20, 6], 1.0, &device);
        let view = random([6, 20], 1.0, &device).swap_dims(0, 1);
        for s in [s, view] {
            let ours = stacked_dense(&s, &weight, &bias, 10, Activation::Silu).expect("host");
            let theirs = reference(s, weight.clone(), bias.clone(), 10, Activation::Silu);
            close(values(ours), values(theirs), 1e-5, "values");
        }
    }

    /// Other devices, and operands the kernel does not take, are left to tensor operations.
    #[test]
    fn declines_what_it_does_not_handle() {
        let device = Device::flex();
        let weight = Tensor::<2>::ones([3, 4], &device);
        let bias = Tensor::<1>::zeros([4], &device);
        let s = random([6, 3], 1.0, &device);
        let act = Activation::Silu;
        assert!(
            stacked_dense(&s, &weight, &bias, 4, act).is_none(),
            "6 rows, B = 4"
        );
        assert!(stacked_dense(&s, &weight, &bias, 0, act).is_none(), "B = 0");
        let short = Tensor::<1>::zeros([3], &device);
        assert!(
            stacked_dense(&s, &weight, &short, 3, act).is_none(),
            "b of 3 for 4 outputs"
        );
        let wide = random([6, 5], 1.0, &device);
        assert!(
            stacked_dense(&wide, &weight, &bias, 3, act).is_none(),
            "5 inputs, W of 3"
        );
        let empty = Tensor::<2>::zeros([0, 3], &device);
        assert!(stacked_dense(&empty, &weight, &bias, 1, act).is_none());
        #[allow(deprecated)]
        let other = Device::ndarray();
        let s = random([6, 3], 1.0, &other);
        let (weight, bias) = (weight.to_device(&other), bias.to_device(&other));
        assert!(
            stacked_dense(&s, &weight, &bias, 3, act).is_none(),
            "ndarray"
        );
    }
}

//! GroupNorm (Wu & He 2018) followed by SiLU, the U-Net's
//!
//!   y = SiLU(z),  z = γ_c (x − μ_g)/s_g + β_c,  s_g = √(var_g + ε),
//!
//! with μ_g and var_g over the channels of group g and the pixels of one image, as one kernel
//! per image on the CPU, and its backward pass written out:
//!
//!   ∂L/∂z = ∂L/∂y · SiLU'(z),  ∂L/∂γ_c = Σ ∂L/∂z · x̂,  ∂L/∂β_c = Σ ∂L/∂z,
//!   ∂L/∂x = (g − mean_g(g) − x̂ · mean_g(g · x̂)) / s_g  with g = γ_c ∂L/∂z, x̂ = (x − μ_g)/s_g.
//!
//! As tensor operations burn-flex runs the mean, centring, variance, scaling, affine map and
//! SiLU (and the backward of each) as a dozen separate passes over the activations, one thread
//! each; here the forward pass makes three passes over each image (mean, variance, output)
//! and the backward pass two, in parallel over the images. ∂L/∂γ and ∂L/∂β are summed per
//! image and then over the images in order, so they do not depend on the number of threads.
//! On `Device::flex()`, with or without autodiff, [`group_norm_silu`] runs these kernels;
//! elsewhere it returns `None` and the caller uses tensor operations.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata};
use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::activation::sigmoid_approx;
use scorelab_core::flex_host::{flex_tensor, host_values, on_flex};
use scorelab_core::host_buffers::par_zeroed_blocks;
use scorelab_core::host_simd::lane_sum;

/// Shape of a group normalisation: images, channels, groups and pixels per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormShape {
    pub batch: usize,
    pub channels: usize,
    pub groups: usize,
    pub pixels: usize,
}

impl NormShape {
    fn per_group(&self) -> usize {
        self.channels / self.groups
    }

    fn image(&self) -> usize {
        self.channels * self.pixels
    }
}

/// (μ, 1/s) of each group of one image, then y = SiLU(a_c x + b_c) with a_c = γ_c/s and
/// b_c = β_c − μ a_c.
#[inline(always)]
fn forward_image(
    x: &[f32],
    (gamma, beta): (&[f32], &[f32]),
    shape: NormShape,
    eps: f32,
    y: &mut [f32],
    stats: &mut [f32],
) {
    let span = shape.per_group() * shape.pixels;
    for (g, stat) in stats.chunks_exact_mut(2).enumerate() {
        let xs = &x[g * span..][..span];
        let mean = lane_sum(xs, |v| v) / span as f32;
        let var = lane_sum(xs, |v| (v - mean) * (v - mean)) / span as f32;
        let inv_std = 1.0 / (var + eps).sqrt();
        stat.copy_from_slice(&[mean, inv_std]);
        for c in g * shape.per_group()..(g + 1) * shape.per_group() {
            let a = gamma[c] * inv_std;
            let b = beta[c] - mean * a;
            let plane = c * shape.pixels..(c + 1) * shape.pixels;
            for (y, &x) in y[plane.clone()].iter_mut().zip(&x[plane]) {
                let z = a * x + b;
                *y = z * sigmoid_approx(z);
            }
        }
    }
}

/// One image's ∂L/∂x (into `dx`) and its terms of ∂L/∂γ and ∂L/∂β (into `dparams`, γ's then
/// β's), from the saved (μ, 1/s) of its groups.
#[inline(always)]
fn backward_image(
    (x, dy): (&[f32], &[f32]),
    (gamma, beta): (&[f32], &[f32]),
    shape: NormShape,
    stats: &[f32],
    dx: &mut [f32],
    dparams: &mut [f32],
) {
    let (dgamma, dbeta) = dparams.split_at_mut(shape.channels);
    let span = shape.per_group() * shape.pixels;
    for (g, stat) in stats.chunks_exact(2).enumerate() {
        let (mean, inv_std) = (stat[0], stat[1]);
        let channels = g * shape.per_group()..(g + 1) * shape.per_group();
        // g_i = γ_c ∂L/∂z_i into dx, with Σ ∂L/∂z and Σ ∂L/∂z · x̂ per channel
        for c in channels.clone() {
            let a = gamma[c] * inv_std;
            let b = beta[c] - mean * a;
            let plane = c * shape.pixels..(c + 1) * shape.pixels;
            // (∂L/∂z, ∂L/∂z · x̂, γ_c ∂L/∂z) at one pixel
            let terms = |x: f32, dy: f32| {
                let z = a * x + b;
                let s = sigmoid_approx(z);
                let dz = dy * s * (1.0 + z * (1.0 - s));
                (dz, dz * (x - mean) * inv_std, gamma[c] * dz)
            };
            let mut sum_dz = [0.0f32; 8];
            let mut sum_dz_xhat = [0.0f32; 8];
            let mut xs = x[plane.clone()].chunks_exact(8);
            let mut dys = dy[plane.clone()].chunks_exact(8);
            let mut outs = dx[plane].chunks_exact_mut(8);
            for ((out, xs), dys) in (&mut outs).zip(&mut xs).zip(&mut dys) {
                for lane in 0..8 {
                    let (dz, dz_xhat, g) = terms(xs[lane], dys[lane]);
                    sum_dz[lane] += dz;
                    sum_dz_xhat[lane] += dz_xhat;
                    out[lane] = g;
                }
            }
            let rest = xs.remainder().iter().zip(dys.remainder());
            for (out, (&x, &dy)) in outs.into_remainder().iter_mut().zip(rest) {
                let (dz, dz_xhat, g) = terms(x, dy);
                sum_dz[0] += dz;
                sum_dz_xhat[0] += dz_xhat;
                *out = g;
            }
            dbeta[c] = sum_dz.iter().sum();
            dgamma[c] = sum_dz_xhat.iter().sum();
        }
        // mean_g(g) = Σ_c γ_c Σ ∂L/∂z / n, mean_g(g x̂) = Σ_c γ_c Σ ∂L/∂z x̂ / n
        let n = span as f32;
        let mean_g: f32 = channels.clone().map(|c| gamma[c] * dbeta[c]).sum::<f32>() / n;
        let mean_gx: f32 = channels.map(|c| gamma[c] * dgamma[c]).sum::<f32>() / n;
        for (d, &x) in dx[g * span..][..span]
            .iter_mut()
            .zip(&x[g * span..][..span])
        {
            let xhat = (x - mean) * inv_std;
            *d = (*d - mean_g - xhat * mean_gx) * inv_std;
        }
    }
}

/// [`forward_image`] and [`backward_image`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_image(
        x: &[f32],
        params: (&[f32], &[f32]),
        shape: NormShape,
        eps: f32,
        y: &mut [f32],
        stats: &mut [f32],
    ) {
        super::forward_image(x, params, shape, eps, y, stats)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward_image(
        inputs: (&[f32], &[f32]),
        params: (&[f32], &[f32]),
        shape: NormShape,
        stats: &[f32],
        dx: &mut [f32],
        dparams: &mut [f32],
    ) {
        super::backward_image(inputs, params, shape, stats, dx, dparams)
    }

    pub(super) fn available() -> bool {
        scorelab_core::host_simd::has_avx2_fma()
    }
}

/// (y, stats) for x [B, C, H·W]: y = SiLU(GN(x)) and (μ, 1/s) per image and group.
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    shape: NormShape,
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let mut stats = vec![0.0f32; shape.batch * shape.groups * 2];
    #[cfg(target_arch = "x86_64")]
    let wide = wide::available();
    let images = stats
        .par_chunks_mut(shape.groups * 2)
        .zip(x.par_chunks(shape.image()));
    let len = shape.batch * shape.image();
    let y = par_zeroed_blocks(len, shape.image(), images, |y, (stats, x)| {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: the processor supports the features the function is compiled for.
            return unsafe { wide::forward_image(x, (gamma, beta), shape, eps, y, stats) };
        }
        forward_image(x, (gamma, beta), shape, eps, y, stats)
    });
    (y, stats)
}

/// (∂L/∂x, ∂L/∂γ, ∂L/∂β) from x, ∂L/∂y and the statistics of [`forward`].
pub fn backward(
    x: &[f32],
    dy: &[f32],
    (gamma, beta): (&[f32], &[f32]),
    shape: NormShape,
    stats: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut per_image = vec![0.0f32; shape.batch * 2 * shape.channels];
    #[cfg(target_arch = "x86_64")]
    let wide = wide::available();
    let images = per_image
        .par_chunks_mut(2 * shape.channels)
        .zip(stats.par_chunks(shape.groups * 2))
        .zip(
            x.par_chunks(shape.image())
                .zip(dy.par_chunks(shape.image())),
        );
    let len = shape.batch * shape.image();
    let dx = par_zeroed_blocks(
        len,
        shape.image(),
        images,
        |dx, ((dparams, stats), inputs)| {
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: the processor supports the features the function is compiled for.
                return unsafe {
                    wide::backward_image(inputs, (gamma, beta), shape, stats, dx, dparams)
                };
            }
            backward_image(inputs, (gamma, beta), shape, stats, dx, dparams)
        },
    );
    let mut dparams = vec![0.0f32; 2 * shape.channels];
    for image in per_image.chunks_exact(2 * shape.channels) {
        dparams.iter_mut().zip(image).for_each(|(t, p)| *t += p);
    }
    let dbeta = dparams.split_off(shape.channels);
    (dx, dparams, dbeta)
}

/// The shape of x [B, C, H, W] in `groups` groups.
fn norm_shape(x: &FlexTensor, groups: usize) -> NormShape {
    let [batch, channels, height, width] = x.shape().dims();
    NormShape {
        batch,
        channels,
        groups,
        pixels: height * width,
    }
}

/// The forward pass on flex primitives: y and the statistics.
fn forward_flex(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    groups: usize,
    eps: f32,
) -> (FlexTensor, Vec<f32>) {
    let shape = norm_shape(x, groups);
    let (y, stats) = forward(
        &host_values(x),
        &host_values(gamma),
        &host_values(beta),
        shape,
        eps,
    );
    (flex_tensor(y, x.shape().dims::<4>()), stats)
}

/// The backward step of [`group_norm_silu`] in burn's autodiff graph.
#[derive(Debug)]
struct GroupNormSiluBackward;

/// What the backward step keeps: x, γ and β (as checkpointed nodes), the groups and the
/// statistics of the forward pass.
#[derive(Clone, Debug)]
struct SavedNorm {
    x: NodeId,
    gamma: NodeId,
    beta: NodeId,
    groups: usize,
    stats: Vec<f32>,
}

impl Backward<Flex, 3> for GroupNormSiluBackward {
    type State = SavedNorm;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let saved = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(saved.x);
        let gamma = checkpointer.retrieve_node_output::<FlexTensor>(saved.gamma);
        let beta = checkpointer.retrieve_node_output::<FlexTensor>(saved.beta);
        let shape = norm_shape(&x, saved.groups);
        let (dx, dgamma, dbeta) = backward(
            &host_values(&x),
            &host_values(&dy),
            (&host_values(&gamma), &host_values(&beta)),
            shape,
            &saved.stats,
        );
        let channels = [shape.channels];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(dx, x.shape().dims::<4>()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(dgamma, channels));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(dbeta, channels));
        }
    }
}

/// SiLU(GroupNorm(x)) for x [B, C, H, W] with per-channel γ and β, on the host kernels when
/// the tensors are on the flex backend (its autodiff included); `None` elsewhere (and for
/// empty tensors), where the caller composes tensor operations.
pub fn group_norm_silu(
    x: &Tensor<4>,
    gamma: &Tensor<1>,
    beta: &Tensor<1>,
    groups: usize,
    eps: f32,
) -> Option<Tensor<4>> {
    let device = x.device();
    let channels = x.dims()[1];
    let per_channel = gamma.dims() == [channels] && beta.dims() == [channels];
    if x.dims().contains(&0) || groups == 0 || !channels.is_multiple_of(groups) || !per_channel {
        return None;
    }
    if !on_flex(&device) {
        return None;
    }
    let primitives = (
        x.clone().try_into_primitive::<Flex>(),
        gamma.clone().try_into_primitive::<Flex>(),
        beta.clone().try_into_primitive::<Flex>(),
    );
    if let (Ok(x), Ok(gamma), Ok(beta)) = primitives {
        let (y, _) = forward_flex(&x, &gamma, &beta, groups, eps);
        return Some(Tensor::from_primitive::<Flex>(y));
    }
    type Ad = Autodiff<Flex>;
    let x = x.clone().try_into_primitive::<Ad>().ok()?;
    let gamma = gamma.clone().try_into_primitive::<Ad>().ok()?;
    let beta = beta.clone().try_into_primitive::<Ad>().ok()?;
    let (y, stats) = forward_flex(
        x.primitive(),
        gamma.primitive(),
        beta.primitive(),
        groups,
        eps,
    );
    let prepared = GroupNormSiluBackward
        .prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful();
    let tensor = match prepared {
        OpsKind::Tracked(mut prep) => {
            let saved = SavedNorm {
                x: prep.checkpoint(&x),
                gamma: prep.checkpoint(&gamma),
                beta: prep.checkpoint(&beta),
                groups,
                stats,
            };
            prep.finish(saved, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(Tensor::from_primitive::<Ad>(tensor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::silu;
    use crate::host_test_support::{
        assert_close as close, assert_same_on_any_thread_count, random, values,
    };
    use burn::tensor::Device;

    const EPS: f32 = 1e-5;

    /// SiLU(GN(x)) as tensor operations: the definition the host kernels must reproduce.
    fn reference(x: Tensor<4>, gamma: Tensor<1>, beta: Tensor<1>, groups: usize) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let grouped = x.reshape([b, groups, c / groups * h * w]);
        let centred = grouped.clone() - grouped.mean_dim(2);
        let var = centred.clone().square().mean_dim(2);
        let xhat = (centred / (var + EPS as f64).sqrt()).reshape([b, c, h, w]);
        silu(xhat * gamma.reshape([1, c, 1, 1]) + beta.reshape([1, c, 1, 1]))
    }

    /// Values and the gradients of Σ r ⊙ y with respect to x, γ and β against autodiff of the
    /// tensor definition, on a non-square image with three channels per group, an offset and
    /// scaled input (GroupNorm must remove both) and γ, β away from their initial values.
    #[test]
    fn values_and_gradients_match_the_tensor_definition() {
        let device = Device::flex().autodiff();
        let x = (random([3, 6, 5, 7], 3.0, &device) + 2.0).require_grad();
        let gamma = (random::<1>([6], 0.5, &device) + 1.0).require_grad();
        let beta = random::<1>([6], 0.5, &device).require_grad();
        let r = random([3, 6, 5, 7], 1.0, &device);
        let ours = group_norm_silu(&x, &gamma, &beta, 2, EPS).expect("the host path");
        let theirs = reference(x.clone(), gamma.clone(), beta.clone(), 2);
        close(values(ours.clone()), values(theirs.clone()), 1e-5, "values");
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        let grad = |t: &Tensor<4>, g| values(t.grad(g).unwrap());
        close(grad(&x, &g_ours), grad(&x, &g_theirs), 1e-4, "∂/∂x");
        let grad = |t: &Tensor<1>, g| values(t.grad(g).unwrap());
        close(grad(&gamma, &g_ours), grad(&gamma, &g_theirs), 1e-4, "∂/∂γ");
        close(grad(&beta, &g_ours), grad(&beta, &g_theirs), 1e-4, "∂/∂β");
    }

    /// ∂/∂x by central differences of the host forward pass in f64 arithmetic around a point
    /// (independent of burn's autodiff): step 1e-3, tolerance 2e-3 (f32 forward values of
    /// order one, so the difference quotient carries about 1e-4 of rounding).
    #[test]
    fn input_gradient_matches_finite_differences() {
        let shape = NormShape {
            batch: 2,
            channels: 4,
            groups: 2,
            pixels: 9,
        };
        let n = shape.batch * shape.image();
        let x: Vec<f32> = (0..n).map(|i| ((i * 37) % 23) as f32 / 6.0 - 1.5).collect();
        let r: Vec<f32> = (0..n).map(|i| ((i * 13) % 11) as f32 / 5.0 - 1.0).collect();
        let gamma = [1.2, 0.7, -0.4, 1.0];
        let beta = [0.1, -0.3, 0.5, 0.0];
        let loss = |x: &[f32]| -> f64 {
            let (y, _) = forward(x, &gamma, &beta, shape, EPS);
            y.iter().zip(&r).map(|(&y, &r)| y as f64 * r as f64).sum()
        };
        let (_, stats) = forward(&x, &gamma, &beta, shape, EPS);
        let (dx, _, _) = backward(&x, &r, (&gamma, &beta), shape, &stats);
        let h = 1e-3f32;
        for i in 0..n {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += h;
            down[i] -= h;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * h as f64);
            assert!(
                (numeric - dx[i] as f64).abs() < 2e-3,
                "element {i}: finite difference {numeric}, backward {}",
                dx[i]
            );
        }
    }

    /// Without autodiff the host path gives the tensor definition's values, also for a
    /// strided view (read through a copy).
    #[test]
    fn untracked_values_match_the_tensor_definition() {
        let device = Device::flex();
        let gamma = random::<1>([8], 1.0, &device);
        let beta = random::<1>([8], 1.0, &device);
        let x = random([2, 8, 3, 4], 2.0, &device);
        let view = random([2, 8, 4, 3], 2.0, &device).swap_dims(2, 3);
        for x in [x, view] {
            let ours = group_norm_silu(&x, &gamma, &beta, 4, EPS).expect("the host path");
            let theirs = reference(x, gamma.clone(), beta.clone(), 4);
            close(values(ours), values(theirs), 1e-5, "values");
        }
    }

    /// ∂L/∂γ and ∂L/∂β do not depend on the number of threads (bit for bit).
    #[test]
    fn parameter_gradients_are_the_same_on_any_number_of_threads() {
        let shape = NormShape {
            batch: 7,
            channels: 6,
            groups: 3,
            pixels: 20,
        };
        let n = shape.batch * shape.image();
        let x: Vec<f32> = (0..n).map(|i| ((i * 37) % 17) as f32 / 7.0 - 1.0).collect();
        let dy: Vec<f32> = (0..n).map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.2).collect();
        let gamma = vec![1.0; 6];
        let beta = vec![0.2; 6];
        assert_same_on_any_thread_count(|| {
            let (_, stats) = forward(&x, &gamma, &beta, shape, EPS);
            backward(&x, &dy, (&gamma, &beta), shape, &stats)
        });
    }

    /// Other devices, and shapes the kernels do not take, are left to tensor operations.
    #[test]
    fn declines_what_it_does_not_handle() {
        let device = Device::flex();
        let gamma = Tensor::<1>::ones([6], &device);
        let beta = Tensor::<1>::zeros([6], &device);
        let x = random([2, 6, 3, 3], 1.0, &device);
        assert!(
            group_norm_silu(&x, &gamma, &beta, 4, EPS).is_none(),
            "6 channels, 4 groups"
        );
        let empty = Tensor::<4>::zeros([0, 6, 3, 3], &device);
        assert!(group_norm_silu(&empty, &gamma, &beta, 3, EPS).is_none());
        let short = Tensor::<1>::ones([3], &device);
        assert!(
            group_norm_silu(&x, &short, &beta, 3, EPS).is_none(),
            "γ of 3 for 6 channels"
        );
    }
}

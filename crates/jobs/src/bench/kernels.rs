//! Kernel throughputs beside the workloads: the matrix product at the peer's shapes and the
//! 3×3 convolution (forward and input gradient, burn's and the host kernels) at the tiny
//! U-Net's shapes, each in GFLOP/s.

use std::time::Instant;

use burn::tensor::module::{conv2d, conv_transpose2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use scorelab_core::device::to_vec;
use scorelab_train::host_conv::{self, ConvShape};

use super::trainers::W5_BATCH;
use super::{median_and_min, record, BenchDevices, BenchOptions};
use crate::error::Result;

/// The median time of `reps` runs of `run` after 3 warm-up runs; `run` must wait for its
/// result (read a value back) so that asynchronous backends are timed too.
fn median_seconds(reps: usize, mut run: impl FnMut()) -> f64 {
    let mut times = Vec::with_capacity(reps);
    for rep in 0..reps + 3 {
        let started = Instant::now();
        run();
        if rep >= 3 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    median_and_min(&mut times).0
}

/// The shapes (m×k×n) of the peer's `matmul_peak.py`: a large square product and the W1
/// network's layer shapes at the training batch and at the W2 sample count.
const MATMUL_SHAPES: [(usize, usize, usize); 3] =
    [(4096, 4096, 4096), (1024, 256, 256), (10000, 256, 256)];

/// The backend's float32 matrix-product throughput at the peer's shapes: the median over
/// `reps` products (20 times more for the small shapes) after 3 warm-up products.
pub(super) fn matmul_peak(args: &BenchOptions, on: &BenchDevices) -> Result<Value> {
    let device = on.device;
    let mut results = Vec::new();
    for (m, k, n) in MATMUL_SHAPES {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let a = normal([m, k], &mut rng, device);
        let b = normal([k, n], &mut rng, device);
        let flops = 2.0 * (m * k * n) as f64;
        let reps = if flops > 1e10 {
            args.reps
        } else {
            20 * args.reps
        };
        let median = median_seconds(reps, || {
            let c = a.clone().matmul(b.clone());
            // reading one value waits for the product on asynchronous backends
            let _ = to_vec(c.slice([0..1, 0..1]));
        });
        results.push(json!({
            "shape": format!("{m}x{k}x{n}"), "seconds": median, "gflops": flops / median / 1e9,
        }));
    }
    Ok(record(
        "matmul",
        json!({ "bench": "matmul_peak", "dtype": "float32", "results": results }),
        on.backend,
    ))
}

/// The 3×3, stride-1, padding-1 convolutions of the tiny U-Net's levels at W5's batch, as
/// (channels in = channels out, image side).
const CONV_SHAPES: [(usize, usize); 3] = [(16, 28), (32, 14), (64, 7)];

/// A standard normal tensor of `shape` from a seeded stream.
fn normal<const D: usize>(
    shape: [usize; D],
    rng: &mut ChaCha8Rng,
    device: &burn::tensor::Device,
) -> Tensor<D> {
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The throughput of the convolutions that dominate W5, in burn's kernels and in the host
/// kernels the U-Net runs on the CPU (`scorelab_train::host_conv`): the forward pass
/// y = conv2d(x, W) + b and the gradient with respect to the input, dx = conv_transpose2d(dy, W)
/// (what reverse-mode differentiation of conv2d runs), each 2·B·H·W·C²·9 FLOPs, median of
/// 20·`reps` runs after 3 warm-ups.
pub(super) fn conv_throughput(args: &BenchOptions, on: &BenchDevices) -> Result<Value> {
    let device = on.device;
    let mut results = Vec::new();
    for (channels, side) in CONV_SHAPES {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let x = normal([W5_BATCH, channels, side, side], &mut rng, device);
        let dy = normal([W5_BATCH, channels, side, side], &mut rng, device);
        let weight = normal([channels, channels, 3, 3], &mut rng, device);
        let bias = Tensor::<1>::zeros([channels], device);
        let flops = 2.0 * (W5_BATCH * side * side * channels * channels * 9) as f64;
        let forward = median_seconds(20 * args.reps, || {
            let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
            let y = conv2d(x.clone(), weight.clone(), Some(bias.clone()), options);
            let _ = to_vec(y.slice([0..1, 0..1, 0..1, 0..1]));
        });
        let input_gradient = median_seconds(20 * args.reps, || {
            let options = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
            let dx = conv_transpose2d(dy.clone(), weight.clone(), None, options);
            let _ = to_vec(dx.slice([0..1, 0..1, 0..1, 0..1]));
        });
        let host = |t: &Tensor<4>| to_vec(t.clone());
        let (x_host, dy_host, weight_host) = (host(&x), host(&dy), host(&weight));
        let shape = ConvShape {
            batch: W5_BATCH,
            inputs: channels,
            outputs: channels,
            height: side,
            width: side,
            kernel: 3,
            stride: 1,
        };
        let zeros = vec![0.0f32; channels];
        let host_forward = median_seconds(20 * args.reps, || {
            let _ = host_conv::forward(&x_host, &weight_host, Some(&zeros), shape);
        });
        let host_input_gradient = median_seconds(20 * args.reps, || {
            let _ = host_conv::input_gradient(&dy_host, &weight_host, shape);
        });
        results.push(json!({
            "shape": format!("{W5_BATCH}x{channels}x{side}x{side}, 3x3"),
            "host_forward_gflops": flops / host_forward / 1e9,
            "host_input_gradient_gflops": flops / host_input_gradient / 1e9,
            "forward_seconds": forward,
            "forward_gflops": flops / forward / 1e9,
            "input_gradient_seconds": input_gradient,
            "input_gradient_gflops": flops / input_gradient / 1e9,
        }));
    }
    Ok(record(
        "conv",
        json!({ "bench": "conv_kernels", "dtype": "float32", "results": results }),
        on.backend,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// The timed input gradient is the one reverse-mode differentiation of the forward
    /// convolution gives: ∂/∂x Σ dy ⊙ conv2d(x, W) = conv_transpose2d(dy, W), to f32 rounding.
    #[test]
    fn the_timed_input_gradient_is_the_gradient_of_the_convolution() {
        let device = Device::flex().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = normal([2, 3, 5, 5], &mut rng, &device).require_grad();
        let dy = normal([2, 3, 5, 5], &mut rng, &device);
        let weight = normal([3, 3, 3, 3], &mut rng, &device);
        let y = conv2d(
            x.clone(),
            weight.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let grads = (y * dy.clone()).sum().backward();
        let autodiff = to_vec(x.grad(&grads).unwrap());
        let options = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
        let timed = to_vec(conv_transpose2d(dy, weight, None, options));
        assert_eq!(autodiff.len(), timed.len());
        for (a, b) in autodiff.iter().zip(&timed) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}

//! SiLU(h) = h·σ(h) and its slope, the networks' activation.
//!
//! burn's CPU backends evaluate σ with one scalar libm `exp` per element, a third of the time
//! of a W1 training step. On those backends σ is evaluated on the host instead, by a
//! branch-free exp that the compiler vectorises, and the results re-enter the graph as
//! constants. For a tracked input the exact first derivative is restored with
//! [`with_derivative`], so gradients (and gradients of tangents) are unchanged; autodiff is
//! first order, which is all that needs.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use scorelab_core::device::to_vec;
use scorelab_core::fast_exp::exp as exp_approx;
use scorelab_core::host_simd::has_avx2_fma;

/// Elements per parallel chunk of the host evaluation.
const CHUNK: usize = 1 << 14;

/// σ(x) = 1/(1 + e^(−x)) on the host, within 3e-7 of the exact value.
#[inline(always)]
pub fn sigmoid_approx(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

/// Whether `device` is one of burn's CPU backends (flex or ndarray), with or without autodiff.
fn on_cpu(device: &Device) -> bool {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    *device == Device::flex() || *device == ndarray
}

/// The values of a tensor on the host (without a copy when `h` is the only handle).
fn host_values<const D: usize>(h: Tensor<D>) -> Vec<f32> {
    to_vec(h.detach())
}

/// The per-element work of the host path: K outputs of one input, written with iterators so
/// that it vectorises.
trait Kernel<const K: usize>: Sync + Copy {
    fn fill(self, values: &[f32], out: &mut [&mut [f32]; K]);
}

/// SiLU(x) and SiLU'(x) = σ(x)(1 + x(1 − σ(x))).
#[derive(Clone, Copy)]
struct SiluAndSlope;

impl Kernel<2> for SiluAndSlope {
    #[inline(always)]
    fn fill(self, values: &[f32], out: &mut [&mut [f32]; 2]) {
        let [value, slope] = out;
        for ((value, slope), &x) in value.iter_mut().zip(slope.iter_mut()).zip(values) {
            let s = sigmoid_approx(x);
            *value = x * s;
            *slope = s * (1.0 + x * (1.0 - s));
        }
    }
}

/// SiLU, SiLU' and SiLU''(x) = σ(x)(1 − σ(x))(2 + x(1 − 2σ(x))).
#[derive(Clone, Copy)]
struct SiluSlopeAndCurvature;

impl Kernel<3> for SiluSlopeAndCurvature {
    #[inline(always)]
    fn fill(self, values: &[f32], out: &mut [&mut [f32]; 3]) {
        let [value, slope, curvature] = out;
        let outputs = value
            .iter_mut()
            .zip(slope.iter_mut())
            .zip(curvature.iter_mut());
        for (((value, slope), curvature), &x) in outputs.zip(values) {
            let s = sigmoid_approx(x);
            *value = x * s;
            *slope = s * (1.0 + x * (1.0 - s));
            *curvature = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s));
        }
    }
}

/// x ← SiLU(x) = x·σ(x) over a chunk.
#[inline(always)]
fn silu_in_place(values: &mut [f32]) {
    for x in values.iter_mut() {
        *x *= sigmoid_approx(*x);
    }
}

/// [`silu_in_place`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_in_place_avx2(values: &mut [f32]) {
    silu_in_place(values)
}

/// x ← SiLU(x) and slope ← SiLU'(x) over a chunk.
#[inline(always)]
fn silu_in_place_with_slope(values: &mut [f32], slope: &mut [f32]) {
    for (x, slope) in values.iter_mut().zip(slope.iter_mut()) {
        let s = sigmoid_approx(*x);
        *slope = s * (1.0 + *x * (1.0 - s));
        *x *= s;
    }
}

/// [`silu_in_place_with_slope`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_in_place_with_slope_avx2(values: &mut [f32], slope: &mut [f32]) {
    silu_in_place_with_slope(values, slope)
}

/// x ← SiLU(x), slope ← SiLU'(x) and curvature ← SiLU''(x) over a chunk.
#[inline(always)]
fn silu_in_place_with_derivatives(values: &mut [f32], slope: &mut [f32], curvature: &mut [f32]) {
    let outputs = values
        .iter_mut()
        .zip(slope.iter_mut())
        .zip(curvature.iter_mut());
    for ((x, slope), curvature) in outputs {
        let s = sigmoid_approx(*x);
        *slope = s * (1.0 + *x * (1.0 - s));
        *curvature = s * (1.0 - s) * (2.0 + *x * (1.0 - 2.0 * s));
        *x *= s;
    }
}

/// [`silu_in_place_with_derivatives`] compiled for AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_in_place_with_derivatives_avx2(
    values: &mut [f32],
    slope: &mut [f32],
    curvature: &mut [f32],
) {
    silu_in_place_with_derivatives(values, slope, curvature)
}

/// x ← SiLU(x), slope ← SiLU'(x) and curvature ← SiLU''(x) over `values` in the calling
/// thread (for layers that propagate tangents, [`crate::host_dense`]).
pub(crate) fn silu_curvature_chunk(values: &mut [f32], slope: &mut [f32], curvature: &mut [f32]) {
    assert!(
        values.len() == slope.len() && values.len() == curvature.len(),
        "one slope and one curvature per value"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the processor supports the features the function is compiled for.
        return unsafe { silu_in_place_with_derivatives_avx2(values, slope, curvature) };
    }
    silu_in_place_with_derivatives(values, slope, curvature)
}

/// x ← SiLU(x) over `values` in the calling thread, and slope ← SiLU'(x) when a slope buffer
/// (of the same length) is given: the activation step of the host kernels
/// ([`crate::host_dense`]).
pub(crate) fn silu_chunk(values: &mut [f32], slope: Option<&mut [f32]>) {
    let wide = has_avx2_fma();
    match slope {
        Some(slope) => {
            assert_eq!(values.len(), slope.len(), "one slope per value");
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: the processor supports the features the function is compiled for.
                return unsafe { silu_in_place_with_slope_avx2(values, slope) };
            }
            silu_in_place_with_slope(values, slope)
        }
        None => {
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: as above.
                return unsafe { silu_in_place_avx2(values) };
            }
            silu_in_place(values)
        }
    }
}

/// SiLU of every value, in place and in parallel chunks (no new buffer), as a tensor of
/// `shape` on `device`.
fn host_silu<const D: usize>(
    mut values: Vec<f32>,
    shape: burn::tensor::Shape,
    device: &Device,
) -> Tensor<D> {
    values
        .par_chunks_mut(CHUNK)
        .for_each(|chunk| silu_chunk(chunk, None));
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// [`Kernel::fill`] compiled for AVX2 and FMA (8 lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fill_avx2<const K: usize>(
    kernel: impl Kernel<K>,
    values: &[f32],
    out: &mut [&mut [f32]; K],
) {
    kernel.fill(values, out)
}

/// [`Kernel::fill`] with the widest vectors the processor has.
fn fill_best<const K: usize>(kernel: impl Kernel<K>, values: &[f32], out: &mut [&mut [f32]; K]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the processor supports the features the function is compiled for.
        return unsafe { fill_avx2(kernel, values, out) };
    }
    kernel.fill(values, out)
}

/// The K outputs of `kernel` for every value, computed in parallel chunks, as constant
/// tensors of `shape` on `device`.
fn host_apply<const D: usize, const K: usize>(
    values: &[f32],
    shape: &burn::tensor::Shape,
    device: &Device,
    kernel: impl Kernel<K>,
) -> [Tensor<D>; K] {
    let n = values.len();
    let mut outputs: [Vec<f32>; K] = std::array::from_fn(|_| vec![0.0f32; n]);
    {
        // split every output at the same chunk boundaries, one task per chunk
        let mut rest: [&mut [f32]; K] = outputs.each_mut().map(|o| o.as_mut_slice());
        let mut tasks = Vec::with_capacity(n.div_ceil(CHUNK));
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let heads: [&mut [f32]; K] = std::array::from_fn(|k| {
                let (head, tail) = std::mem::take(&mut rest[k]).split_at_mut(len);
                rest[k] = tail;
                head
            });
            tasks.push((&values[start..start + len], heads));
            start += len;
        }
        tasks
            .into_par_iter()
            .for_each(|(chunk, mut heads)| fill_best(kernel, chunk, &mut heads));
    }
    outputs.map(|o| Tensor::from_data(TensorData::new(o, shape.clone()), device))
}

/// A tensor whose value is `value` and whose derivative with respect to `h` is `derivative`
/// (elementwise): value + (h − h̄)·derivative, with h̄ = h detached. The second term is zero in
/// value and carries the gradient.
fn with_derivative<const D: usize>(
    h: &Tensor<D>,
    value: Tensor<D>,
    derivative: Tensor<D>,
) -> Tensor<D> {
    value + (h.clone() - h.clone().detach()) * derivative
}

/// SiLU(h) = h·σ(h).
pub fn silu<const D: usize>(h: Tensor<D>) -> Tensor<D> {
    let device = h.device();
    if !on_cpu(&device) {
        return h.clone() * sigmoid(h);
    }
    let shape = h.shape();
    if !h.is_tracked() {
        return host_silu(host_values(h), shape, &device);
    }
    let [value, slope] = host_apply(&host_values(h.clone()), &shape, &device, SiluAndSlope);
    with_derivative(&h, value, slope)
}

/// SiLU(h) and its derivative σ(h)(1 + h(1 − σ(h))), for tangent propagation. For a tracked
/// input the slope carries its own derivative (SiLU''), so gradients through tangents stay
/// exact.
pub fn silu_with_slope<const D: usize>(h: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
    let device = h.device();
    if !on_cpu(&device) {
        let sig = sigmoid(h.clone());
        let value = h.clone() * sig.clone();
        let slope = sig.clone() * ((-sig + 1.0) * h + 1.0);
        return (value, slope);
    }
    let shape = h.shape();
    if !h.is_tracked() {
        let [value, slope] = host_apply(&host_values(h), &shape, &device, SiluAndSlope);
        return (value, slope);
    }
    let values = host_values(h.clone());
    let [value, slope, curvature] = host_apply(&values, &shape, &device, SiluSlopeAndCurvature);
    (
        with_derivative(&h, value, slope.clone()),
        with_derivative(&h, slope, curvature),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact_sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Inputs spread over [−12, 12] and a weight per input.
    fn inputs() -> (Vec<f32>, Vec<f32>) {
        let h: Vec<f32> = (0..240).map(|i| -12.0 + 0.1 * i as f32 + 0.013).collect();
        let w: Vec<f32> = (0..240)
            .map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.4)
            .collect();
        (h, w)
    }

    fn leaf(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(values.to_vec(), [12, 20]), device).require_grad()
    }

    fn grad(loss: Tensor<1>, h: &Tensor<2>) -> Vec<f32> {
        let grads = loss.backward();
        h.grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// The host path's value and gradient of Σ w·SiLU(h) against f64 closed forms.
    #[test]
    fn silu_value_and_gradient_match_closed_forms() {
        let device = Device::flex().autodiff();
        let (h, w) = inputs();
        let leaf_h = leaf(&h, &device);
        let weights = Tensor::<2>::from_data(TensorData::new(w.clone(), [12, 20]), &device);
        let value = silu(leaf_h.clone());
        let values = value.clone().into_data().try_into_vec::<f32>().unwrap();
        let g = grad((value * weights).sum(), &leaf_h);
        for i in 0..h.len() {
            let (x, s) = (h[i] as f64, exact_sigmoid(h[i] as f64));
            assert!((values[i] as f64 - x * s).abs() < 1e-5, "value at {x}");
            let slope = s * (1.0 + x * (1.0 - s));
            assert!(
                (g[i] as f64 - w[i] as f64 * slope).abs() < 1e-5,
                "gradient at {x}"
            );
        }
    }

    /// Σ (a·SiLU(h) + b·SiLU'(h)) has gradient a·SiLU' + b·SiLU'': the slope is differentiable
    /// too, which training through tangents (ssm, hyvarinen, penalties) relies on.
    #[test]
    fn slope_gradient_is_the_second_derivative() {
        let device = Device::flex().autodiff();
        let (h, a) = inputs();
        let b: Vec<f32> = a.iter().rev().copied().collect();
        let leaf_h = leaf(&h, &device);
        let ta = Tensor::<2>::from_data(TensorData::new(a.clone(), [12, 20]), &device);
        let tb = Tensor::<2>::from_data(TensorData::new(b.clone(), [12, 20]), &device);
        let (value, slope) = silu_with_slope(leaf_h.clone());
        let g = grad((value * ta + slope * tb).sum(), &leaf_h);
        for i in 0..h.len() {
            let (x, s) = (h[i] as f64, exact_sigmoid(h[i] as f64));
            let first = s * (1.0 + x * (1.0 - s));
            let second = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s));
            let want = a[i] as f64 * first + b[i] as f64 * second;
            assert!(
                (g[i] as f64 - want).abs() < 1e-5,
                "at {x}: {} vs {want}",
                g[i]
            );
        }
    }

    /// Without autodiff the host path gives the same numbers as burn's own sigmoid.
    #[test]
    fn untracked_host_path_agrees_with_tensor_ops() {
        let device = Device::flex();
        let (h, _) = inputs();
        let t = Tensor::<2>::from_data(TensorData::new(h.clone(), [12, 20]), &device);
        let (value, slope) = silu_with_slope(t.clone());
        let alone = silu(t.clone()).into_data().try_into_vec::<f32>().unwrap();
        let sig = sigmoid(t.clone());
        let reference_value = (t.clone() * sig.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let reference_slope = (sig.clone() * ((-sig + 1.0) * t + 1.0))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let value = value.into_data().try_into_vec::<f32>().unwrap();
        let slope = slope.into_data().try_into_vec::<f32>().unwrap();
        for i in 0..h.len() {
            assert!((value[i] - reference_value[i]).abs() < 1e-5);
            assert!((alone[i] - reference_value[i]).abs() < 1e-5);
            assert!((slope[i] - reference_slope[i]).abs() < 1e-5);
        }
    }

    #[test]
    fn host_sigmoid_matches_the_exact_value() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 5e-4;
            let exact = 1.0 / (1.0 + (-(x as f64)).exp());
            worst = worst.max((sigmoid_approx(x) as f64 - exact).abs());
        }
        assert!(worst < 3e-7, "{worst}");
        // far tails saturate without overflow
        assert_eq!(sigmoid_approx(1e4), 1.0);
        assert!(sigmoid_approx(-1e4) >= 0.0 && sigmoid_approx(-1e4) < 1e-37);
        assert!(sigmoid_approx(f32::NAN).is_nan());
    }
}

//! One Euler–Maruyama step of the reverse dynamics (DESIGN §3) with f(τ, y) = a y + b:
//!
//!   y' = y + h·(c·s − (a·y + b)) + σ·z,   c = ((1 + ε)/2) g(τ)²,   σ = √(εh) g(τ),
//!
//! the drift, the step and the noise as one pass over the values. On the flex backend it runs
//! on the host, in parallel chunks, with the float32 operations of the tensor expression in
//! the same order (so the two agree bit for bit); burn-flex would make six single-threaded
//! passes with a fresh buffer each. Elsewhere it is the tensor expression.

use burn::backend::Flex;
use burn::tensor::Tensor;
use rayon::prelude::*;

use scorelab_core::flex_host::{flex_tensor, host_values, on_flex};
use scorelab_core::host_buffers::par_zeroed_blocks;

/// Values per parallel chunk of the host pass.
const CHUNK: usize = 1 << 14;

/// The coefficients of one step: f(τ, y) = a y + b, the score's factor c, the step h and the
/// noise scale σ (0 for the ODE).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EmStep {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub h: f64,
    pub sigma: f64,
}

impl EmStep {
    /// y' of the module comment for the state `y`, the score `s` at y and the standard normal
    /// noise `z` (none for the ODE).
    pub fn apply(&self, y: Tensor<2>, s: Tensor<2>, z: Option<Tensor<2>>) -> Tensor<2> {
        self.on_host(&y, &s, z.as_ref())
            .unwrap_or_else(|| self.as_tensors(y, s, z))
    }

    /// The reverse drift c·s − (a·y + b) as tensor operations.
    pub fn drift(&self, y: Tensor<2>, s: Tensor<2>) -> Tensor<2> {
        s.mul_scalar(self.c) - y.mul_scalar(self.a).add_scalar(self.b)
    }

    /// The step as tensor operations.
    fn as_tensors(&self, y: Tensor<2>, s: Tensor<2>, z: Option<Tensor<2>>) -> Tensor<2> {
        let drift = self.drift(y.clone(), s);
        let next = y + drift.mul_scalar(self.h);
        match z {
            Some(z) => next + z.mul_scalar(self.sigma),
            None => next,
        }
    }

    /// The step on the host, for plain flex tensors of one shape; `None` otherwise.
    fn on_host(&self, y: &Tensor<2>, s: &Tensor<2>, z: Option<&Tensor<2>>) -> Option<Tensor<2>> {
        let dims = y.dims();
        let same = s.dims() == dims && z.is_none_or(|z| z.dims() == dims);
        if !same || !on_flex(&y.device()) {
            return None;
        }
        let plain = |t: &Tensor<2>| t.clone().try_into_primitive::<Flex>().ok();
        let (y, s) = (plain(y)?, plain(s)?);
        let z = match z {
            Some(z) => Some(plain(z)?),
            None => None,
        };
        let (y, s) = (host_values(&y), host_values(&s));
        let z = z.as_ref().map(host_values);
        // the scalars as the tensor operations convert them
        let (a, b, c, h, sigma) = (
            self.a as f32,
            self.b as f32,
            self.c as f32,
            self.h as f32,
            self.sigma as f32,
        );
        let chunks = (0..y.len().div_ceil(CHUNK)).into_par_iter();
        let next = par_zeroed_blocks(y.len(), CHUNK, chunks, |out, j| {
            let start = j * CHUNK;
            let y = &y[start..start + out.len()];
            let s = &s[start..start + out.len()];
            for ((out, &y), &s) in out.iter_mut().zip(y).zip(s) {
                *out = y + (s * c - (y * a + b)) * h;
            }
            if let Some(z) = &z {
                let z = &z[start..start + out.len()];
                out.iter_mut()
                    .zip(z)
                    .for_each(|(out, &z)| *out += z * sigma);
            }
        });
        Some(Tensor::from_primitive::<Flex>(flex_tensor(next, dims)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The host pass against the tensor expression, bit for bit, with and without noise, on
    /// more values than one chunk; and the expression itself on one value by hand.
    #[test]
    fn host_pass_equals_the_tensor_expression() {
        let device = Device::flex();
        let rows = CHUNK / 2 + 3;
        let wave = |f: f32, scale: f32| {
            let v: Vec<f32> = (0..rows * 3)
                .map(|i| (i as f32 * f).sin() * scale)
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [rows, 3]), &device)
        };
        let (y, s, z) = (wave(0.37, 3.0), wave(0.11, 20.0), wave(0.91, 1.0));
        let step = EmStep {
            a: -0.731,
            b: 0.0123,
            c: 4.17,
            h: 1e-3,
            sigma: 0.0917,
        };
        for z in [Some(z), None] {
            let host = step.on_host(&y, &s, z.as_ref()).expect("the host path");
            let tensor = step.as_tensors(y.clone(), s.clone(), z);
            assert_eq!(values(host), values(tensor));
        }
        let one = |v: f32| Tensor::<2>::from_data(TensorData::new(vec![v], [1, 1]), &device);
        let got = values(step.apply(one(2.0), one(-1.0), Some(one(0.5))))[0];
        let want = 2.0 + (-4.17 - (-0.731 * 2.0 + 0.0123)) * 1e-3 + 0.5 * 0.0917;
        assert!((f64::from(got) - want).abs() < 1e-6, "{got} against {want}");
    }

    /// Tensors of different shapes, and tensors off flex, take the tensor expression.
    #[test]
    fn declines_what_it_does_not_handle() {
        let device = Device::flex();
        let step = EmStep {
            a: 0.0,
            b: 0.0,
            c: 1.0,
            h: 0.1,
            sigma: 0.0,
        };
        let (y, s) = (
            Tensor::<2>::ones([2, 3], &device),
            Tensor::<2>::ones([3, 2], &device),
        );
        assert!(step.on_host(&y, &s, None).is_none(), "shapes");
        let tracked = Device::flex().autodiff();
        let y = Tensor::<2>::ones([2, 3], &tracked).require_grad();
        let s = Tensor::<2>::ones([2, 3], &tracked);
        assert!(step.on_host(&y, &s, None).is_none(), "autodiff");
    }
}

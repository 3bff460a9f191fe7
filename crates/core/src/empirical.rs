//! The empirical score: the exact score of the Gaussian-smoothed training set (DESIGN §4).
//!
//! For training points y_1..y_N and an SDE with X_t | X_0 ~ N(α x0 + c, σ² I):
//!   w = softmax_k(−‖x − α y_k − c‖² / (2σ²)),   s(x) = (α Σ_k w_k y_k + c − x) / σ²,
//!   ∇·s = (α²/σ⁴)(Σ_k w_k ‖y_k‖² − ‖Σ_k w_k y_k‖²) − d/σ².
//! The logits use the matmul expansion (the ‖x − c‖² term is constant per row and cancels in
//! the softmax) and a streaming log-sum-exp over chunks of the training set, so memory is
//! bounded by `query_chunk × data_chunk` whatever N is.

use burn::backend::Flex;
use burn::tensor::{Device, Tensor};

use crate::datasets::Points;
use crate::device::tensor_from_rows;
use crate::empirical_host::HostSums;
use crate::error::{CoreError, Result};
use crate::flex_host::{flex_tensor, host_values, on_flex};
use crate::score::{marginal_columns, ScoreFn, Times};
use crate::sde::Sde;

/// Default number of query rows processed at once.
pub const DEFAULT_QUERY_CHUNK: usize = 1024;
/// Default number of training points per chunk of the streaming softmax.
pub const DEFAULT_DATA_CHUNK: usize = 4096;

/// One chunk of the training set with its squared norms.
struct DataChunk {
    points: Tensor<2>,
    points_t: Tensor<2>,
    sq_norms: Tensor<2>,
}

/// Where the training points of an empirical score live.
enum Store {
    /// Uploaded once, chunk by chunk.
    Resident(Vec<DataChunk>),
    /// Rows of a mapped file, read and uploaded chunk by chunk at every evaluation and used as
    /// (y − shift)/scale.
    Streamed {
        points: Points,
        data_chunk: usize,
        shift: f32,
        scale: f32,
    },
}

impl DataChunk {
    fn new(points: Tensor<2>) -> Self {
        let sq_norms = points.clone().powi_scalar(2).sum_dim(1).transpose();
        DataChunk {
            points_t: points.clone().transpose(),
            points,
            sq_norms,
        }
    }
}

/// The empirical score of a fixed training set under a fixed SDE.
pub struct EmpiricalScore {
    store: Store,
    sde: Sde,
    n: usize,
    dim: usize,
    query_chunk: usize,
    device: Device,
}

/// Running sums of the streaming softmax for one block of queries.
struct Accumulator {
    max: Tensor<2>,
    total: Tensor<2>,
    weighted: Tensor<2>,
    weighted_sq_norm: Option<Tensor<2>>,
}

impl EmpiricalScore {
    /// The empirical score of `data` (N × d) with the default chunk sizes.
    pub fn new(data: Tensor<2>, sde: Sde) -> Result<Self> {
        Self::with_chunks(data, sde, DEFAULT_QUERY_CHUNK, DEFAULT_DATA_CHUNK)
    }

    /// The empirical score with explicit chunk sizes (memory ≈ 4·query_chunk·data_chunk bytes).
    pub fn with_chunks(
        data: Tensor<2>,
        sde: Sde,
        query_chunk: usize,
        data_chunk: usize,
    ) -> Result<Self> {
        let [n, dim] = data.dims();
        if n == 0 || dim == 0 {
            return Err(CoreError::Shape(format!(
                "the empirical score needs at least one training point of dimension >= 1, got {n} x {dim}"
            )));
        }
        if query_chunk == 0 || data_chunk == 0 {
            return Err(CoreError::invalid("chunk size", "must be >= 1"));
        }
        let device = data.device();
        let chunks = (0..n)
            .step_by(data_chunk)
            .map(|start| DataChunk::new(data.clone().narrow(0, start, data_chunk.min(n - start))))
            .collect();
        Ok(EmpiricalScore {
            store: Store::Resident(chunks),
            sde,
            n,
            dim,
            query_chunk,
            device,
        })
    }

    /// The empirical score of host rows of length `dim` used as (y − shift)/scale (a
    /// normalisation into the model's space; (0, 1) leaves them as they are). Rows in memory
    /// are uploaded once, as [`EmpiricalScore::with_chunks`] does; the rows of a mapped file
    /// are read from disk `data_chunk` at a time at every evaluation, so memory stays bounded
    /// by the chunk sizes and N by the disk.
    pub fn from_points(
        points: &Points,
        dim: usize,
        sde: Sde,
        (shift, scale): (f32, f32),
        query_chunk: usize,
        data_chunk: usize,
        device: &Device,
    ) -> Result<Self> {
        let n = points.len().checked_div(dim).unwrap_or(0);
        if !points.is_mapped() || n == 0 {
            let values: Vec<f32> = points.iter().map(|v| (v - shift) / scale).collect();
            let data = tensor_from_rows(&values, n, dim, device);
            return Self::with_chunks(data, sde, query_chunk, data_chunk);
        }
        if query_chunk == 0 || data_chunk == 0 {
            return Err(CoreError::invalid("chunk size", "must be >= 1"));
        }
        Ok(EmpiricalScore {
            store: Store::Streamed {
                points: points.clone(),
                data_chunk,
                shift,
                scale,
            },
            sde,
            n,
            dim,
            query_chunk,
            device: device.clone(),
        })
    }

    /// Whether the training points are read from disk at every evaluation.
    pub fn is_streamed(&self) -> bool {
        matches!(self.store, Store::Streamed { .. })
    }

    /// Calls `visit` on every chunk of the training set, in order.
    fn for_each_chunk(&self, mut visit: impl FnMut(&DataChunk)) {
        match &self.store {
            Store::Resident(chunks) => chunks.iter().for_each(visit),
            Store::Streamed {
                points,
                data_chunk,
                shift,
                scale,
            } => {
                let Ok(()) = points.for_each_chunk(self.dim, *data_chunk, |_, rows| {
                    let values: Vec<f32> = rows.iter().map(|v| (v - shift) / scale).collect();
                    let len = values.len() / self.dim;
                    visit(&DataChunk::new(tensor_from_rows(
                        &values,
                        len,
                        self.dim,
                        &self.device,
                    )));
                    Ok::<(), std::convert::Infallible>(())
                });
            }
        }
    }

    /// The number of training points N.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the training set is empty (never: construction rejects it).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Streams the softmax over all data chunks for one block of queries: on the host
    /// ([`HostSums`]) on the flex backend, as tensor operations elsewhere.
    fn accumulate(
        &self,
        x: &Tensor<2>,
        alpha: &Tensor<2>,
        shift: &Tensor<2>,
        sigma2: &Tensor<2>,
        with_divergence: bool,
    ) -> Accumulator {
        let centred = x.clone() - shift.clone();
        let dot_scale = alpha.clone() / sigma2.clone();
        let norm_scale = alpha.clone().powi_scalar(2) / sigma2.clone().mul_scalar(2.0);
        let scales = (&dot_scale, &norm_scale);
        self.host_accumulate(&centred, scales, with_divergence)
            .unwrap_or_else(|| self.tensor_accumulate(&centred, scales, with_divergence))
    }

    /// [`Self::accumulate`] on the host, for tensors on the flex backend without autodiff;
    /// `None` elsewhere.
    fn host_accumulate(
        &self,
        centred: &Tensor<2>,
        (dot_scale, norm_scale): (&Tensor<2>, &Tensor<2>),
        with_divergence: bool,
    ) -> Option<Accumulator> {
        if !on_flex(&self.device) {
            return None;
        }
        let plain = |t: &Tensor<2>| t.clone().try_into_primitive::<Flex>().ok();
        let (queries, dot_scale, norm_scale) =
            (plain(centred)?, plain(dot_scale)?, plain(norm_scale)?);
        let [rows, dim] = centred.dims();
        let mut sums = HostSums::new(rows, dim, with_divergence);
        let mut complete = true;
        let scales = (host_values(&dot_scale), host_values(&norm_scale));
        let queries = host_values(&queries);
        self.for_each_chunk(
            |chunk| match (plain(&chunk.points), plain(&chunk.sq_norms)) {
                (Some(points), Some(sq_norms)) if complete => {
                    let chunk = (&*host_values(&points), &*host_values(&sq_norms));
                    sums.add_chunk(&queries, chunk, (&scales.0, &scales.1));
                }
                _ => complete = false,
            },
        );
        if !complete {
            return None;
        }
        let column =
            |values: Vec<f32>| Tensor::from_primitive::<Flex>(flex_tensor(values, [rows, 1]));
        Some(Accumulator {
            max: column(sums.max),
            total: column(sums.total),
            weighted: Tensor::from_primitive::<Flex>(flex_tensor(sums.weighted, [rows, dim])),
            weighted_sq_norm: sums.weighted_sq_norm.map(column),
        })
    }

    /// [`Self::accumulate`] as tensor operations, on any backend.
    fn tensor_accumulate(
        &self,
        centred: &Tensor<2>,
        scales: (&Tensor<2>, &Tensor<2>),
        with_divergence: bool,
    ) -> Accumulator {
        let mut acc: Option<Accumulator> = None;
        self.for_each_chunk(|chunk| {
            let g = centred.clone().matmul(chunk.points_t.clone());
            let prev_max = acc.as_ref().map(|a| &a.max);
            let w = tensor_chunk_weights(g, scales, &chunk.sq_norms, prev_max, with_divergence);
            let weighted = w.p.matmul(chunk.points.clone());
            acc = Some(match acc.take() {
                None => Accumulator {
                    total: w.total,
                    weighted,
                    weighted_sq_norm: w.weighted_sq_norm,
                    max: w.max,
                },
                Some(prev) => {
                    let rescale = (prev.max - w.max.clone()).exp();
                    Accumulator {
                        total: prev.total * rescale.clone() + w.total,
                        weighted: prev.weighted * rescale.clone() + weighted,
                        weighted_sq_norm: prev
                            .weighted_sq_norm
                            .zip(w.weighted_sq_norm)
                            .map(|(q, chunk_q)| q * rescale + chunk_q),
                        max: w.max,
                    }
                }
            });
        });
        acc.expect("at least one data chunk")
    }

    /// Score (and optionally divergence) for one block of at most `query_chunk` rows.
    fn block(
        &self,
        x: Tensor<2>,
        t: &Times,
        with_divergence: bool,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let [rows, _] = x.dims();
        let (alpha, shift, sigma2) = marginal_columns(&self.sde, t, rows, &self.device);
        let acc = self.accumulate(&x, &alpha, &shift, &sigma2, with_divergence);
        let mean = acc.weighted / acc.total.clone();
        let score = (mean.clone() * alpha.clone() + shift - x) / sigma2.clone();
        let div = acc.weighted_sq_norm.map(|q| {
            // E‖y‖² − ‖E y‖² is a variance (≥ 0); in float32 the difference of two nearly equal
            // terms can come out slightly negative, which would put ∇·s below −d/σ²
            let spread = (q / acc.total - mean.powi_scalar(2).sum_dim(1)).clamp_min(0.0);
            spread * alpha.powi_scalar(2) / sigma2.clone().powi_scalar(2)
                - sigma2.recip().mul_scalar(self.dim as f64)
        });
        (score, div)
    }

    fn run(
        &self,
        x: Tensor<2>,
        t: &Times,
        with_divergence: bool,
    ) -> (Tensor<2>, Option<Tensor<1>>) {
        let [rows, _] = x.dims();
        let mut scores = Vec::new();
        let mut divs = Vec::new();
        for start in (0..rows).step_by(self.query_chunk) {
            let len = self.query_chunk.min(rows - start);
            let (s, d) = self.block(
                x.clone().narrow(0, start, len),
                &t.slice(start, len),
                with_divergence,
            );
            scores.push(s);
            if let Some(d) = d {
                divs.push(d);
            }
        }
        let score = if scores.len() == 1 {
            scores.pop().expect("one block")
        } else {
            Tensor::cat(scores, 0)
        };
        let div = with_divergence.then(|| Tensor::cat(divs, 0).squeeze_dim(1));
        (score, div)
    }
}

/// The empirical score of `queries` (rows of length d) in f64, directly from the formula, one
/// query at a time: w_k ∝ exp(−‖x − α y_k − c‖²/2σ²), s(x) = (Σ_k w_k α y_k + c − x)/σ² at
/// time `t` of `sde`. The reference that the chunked float32 [`EmpiricalScore`] is measured
/// against (slow: O(N·d) per query, no tensors).
pub fn empirical_score_f64(queries: &[f32], data: &[f32], d: usize, sde: &Sde, t: f64) -> Vec<f64> {
    let (a, c, s2) = (sde.alpha(t), sde.shift(t), sde.sigma2(t));
    let mut out = Vec::with_capacity(queries.len());
    for x in queries.chunks(d) {
        let logits: Vec<f64> = data
            .chunks(d)
            .map(|y| {
                let dist2: f64 = x
                    .iter()
                    .zip(y)
                    .map(|(&xi, &yi)| (xi as f64 - a * yi as f64 - c).powi(2))
                    .sum();
                -dist2 / (2.0 * s2)
            })
            .collect();
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut mean = vec![0.0f64; d];
        for (w, y) in weights.iter().zip(data.chunks(d)) {
            for (acc, &yi) in mean.iter_mut().zip(y) {
                *acc += w / total * a * yi as f64;
            }
        }
        out.extend(
            mean.iter()
                .zip(x)
                .map(|(mu, &xi)| (mu + c - xi as f64) / s2),
        );
    }
    out
}

/// The weights of one chunk: P [B, N], the new running maxima m [B, 1], Σ_k P_bk [B, 1] and,
/// when asked for, Σ_k P_bk ‖y_k‖² [B, 1].
pub(crate) struct ChunkWeights {
    pub p: Tensor<2>,
    pub max: Tensor<2>,
    pub total: Tensor<2>,
    pub weighted_sq_norm: Option<Tensor<2>>,
}

/// The weights of one chunk as tensor operations (on the host: [`HostSums`]):
/// ℓ = G α/σ² − ‖y‖² α²/(2σ²), m = max(m_prev, max_k ℓ), P = exp(ℓ − m) and its row sums.
pub(crate) fn tensor_chunk_weights(
    g: Tensor<2>,
    (dot_scale, norm_scale): (&Tensor<2>, &Tensor<2>),
    sq_norms: &Tensor<2>,
    prev_max: Option<&Tensor<2>>,
    with_divergence: bool,
) -> ChunkWeights {
    // logits_bk = (α x·y_k − α²‖y_k‖²/2) / σ²   (−‖x − c − α y_k‖²/(2σ²) up to a row constant)
    let logits = g * dot_scale.clone() - sq_norms.clone() * norm_scale.clone();
    let chunk_max = logits.clone().max_dim(1);
    let max = match prev_max {
        Some(prev) => prev.clone().max_pair(chunk_max),
        None => chunk_max,
    };
    let p = (logits - max.clone()).exp();
    ChunkWeights {
        total: p.clone().sum_dim(1),
        weighted_sq_norm: with_divergence.then(|| (p.clone() * sq_norms.clone()).sum_dim(1)),
        p,
        max,
    }
}

impl ScoreFn for EmpiricalScore {
    fn dim(&self) -> usize {
        self.dim
    }

    fn sde(&self) -> &Sde {
        &self.sde
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        self.run(x, t, false).0
    }

    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        let (s, d) = self.run(x, t, true);
        (s, d.expect("divergence requested"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// The host streaming softmax against the tensor one on the same chunks (three, the last
    /// short), with the divergence sums, on fixed data: everything within 1e-5 relative (f32
    /// products and sums in another order).
    #[test]
    fn host_and_tensor_streaming_agree() {
        let device = Device::flex();
        let wave = |rows: usize, f: f32, scale: f32| {
            let values: Vec<f32> = (0..rows * 6)
                .map(|i| (i as f32 * f).sin() * scale)
                .collect();
            tensor_from_rows(&values, rows, 6, &device)
        };
        let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
        let score = EmpiricalScore::with_chunks(wave(45, 0.71, 1.0), sde, 8, 16).unwrap();
        let x = wave(7, 0.23, 2.0);
        let column = |v: f32| Tensor::<2>::full([7, 1], v, &device);
        let scales = (&column(1.7), &column(0.6));
        let host = score
            .host_accumulate(&x, scales, true)
            .expect("the host path");
        let tensor = score.tensor_accumulate(&x, scales, true);
        let pairs = [
            (host.max, tensor.max, "m"),
            (host.total, tensor.total, "Σ P"),
            (host.weighted, tensor.weighted, "Σ P y"),
            (
                host.weighted_sq_norm.unwrap(),
                tensor.weighted_sq_norm.unwrap(),
                "Σ P ‖y‖²",
            ),
        ];
        for (ours, theirs, what) in pairs {
            let (ours, theirs) = (values(ours), values(theirs));
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(
                    (a - b).abs() <= 1e-5 * (b.abs() + 1e-3),
                    "{what}: {a} against {b}"
                );
            }
        }
        let tracked = Device::flex().autodiff();
        let x = Tensor::<2>::ones([7, 6], &tracked).require_grad();
        let column = Tensor::<2>::ones([7, 1], &tracked);
        assert!(
            score
                .host_accumulate(&x, (&column, &column), false)
                .is_none(),
            "autodiff"
        );
    }
}

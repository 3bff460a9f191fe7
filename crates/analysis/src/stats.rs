//! Summaries of a list of numbers: mean, standard deviation, quantiles and a moving average.

use serde::{Deserialize, Serialize};

/// Mean, standard deviation and the quantiles of a sample (finite values only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub q10: f64,
    pub median: f64,
    pub q90: f64,
    pub max: f64,
}

impl Summary {
    /// Multiplies every location and spread statistic by `k` > 0 (a change of units).
    pub fn scale(&mut self, k: f64) {
        for v in [
            &mut self.mean,
            &mut self.std,
            &mut self.min,
            &mut self.q10,
            &mut self.median,
            &mut self.q90,
            &mut self.max,
        ] {
            *v *= k;
        }
    }
}

/// The q-quantile of sorted values by linear interpolation between order statistics.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let at = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = at.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (at - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// The arithmetic mean (NaN for no values).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The centred moving average m_i = mean{v_j : |j − i| ≤ h, v_j finite}, the window cut at
/// both ends (NaN where a window holds no finite value).
pub fn moving_average(values: &[f64], half_window: usize) -> Vec<f64> {
    // prefix sums of the finite values and of their count
    let mut sum = vec![0.0; values.len() + 1];
    let mut count = vec![0usize; values.len() + 1];
    for (i, v) in values.iter().enumerate() {
        let finite = v.is_finite();
        sum[i + 1] = sum[i] + if finite { *v } else { 0.0 };
        count[i + 1] = count[i] + usize::from(finite);
    }
    (0..values.len())
        .map(|i| {
            let (lo, hi) = (
                i.saturating_sub(half_window),
                (i + half_window + 1).min(values.len()),
            );
            match count[hi] - count[lo] {
                0 => f64::NAN,
                n => (sum[hi] - sum[lo]) / n as f64,
            }
        })
        .collect()
}

/// Summarises the finite entries of `values`; infinite ones (a d2 with a single reference) are
/// left out.
pub fn summarise(values: impl IntoIterator<Item = f64>) -> Summary {
    let mut sorted: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    let mean = mean(&sorted);
    let var = sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count.max(2) - 1) as f64;
    Summary {
        count,
        mean,
        std: var.sqrt(),
        min: quantile_sorted(&sorted, 0.0),
        q10: quantile_sorted(&sorted, 0.1),
        median: quantile_sorted(&sorted, 0.5),
        q90: quantile_sorted(&sorted, 0.9),
        max: quantile_sorted(&sorted, 1.0),
    }
}

/// Least-squares line y = a + b·x with the standard error of the slope b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    pub intercept: f64,
    pub slope: f64,
    pub slope_std_error: f64,
}

/// Ordinary least squares of `y` on `x` (at least 3 points).
pub fn fit_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    Some(LineFit {
        intercept,
        slope,
        slope_std_error: (rss / (n - 2) as f64 / sxx).sqrt(),
    })
}

/// The finite range of `values` padded for a plot axis (on a log axis: of the positive ones,
/// widened by 1.2 each way; on a linear one: by 5%); a fixed range when none is finite.
pub fn plot_range<'a>(values: impl Iterator<Item = &'a f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values
        .copied()
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return if log { (1e-3, 1.0) } else { (0.0, 1.0) };
    }
    if log {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        (lo / 1.2, hi * 1.2)
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-9 + lo.abs() * 1e-3);
        (lo - pad, hi + pad)
    }
}

/// Several samples binned on shared bins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// The `bins + 1` bin edges, increasing.
    pub edges: Vec<f64>,
    /// The bin centres (geometric on a log axis).
    pub centres: Vec<f64>,
    /// For each sample, the fraction of its finite values in each bin.
    pub fractions: Vec<Vec<f64>>,
}

/// Bins every sample on `bins` equal widths over their common range ([`plot_range`], from 0
/// when every value is ≥ 0 on a linear axis; equal in ln x when `log_x`, with values ≤ 0 in the
/// first bin). Values beyond the range fall in the end bins.
pub fn histogram(samples: &[&[f64]], bins: usize, log_x: bool) -> Histogram {
    let bins = bins.max(1);
    let values = || samples.iter().flat_map(|s| s.iter());
    let (lo, hi) = plot_range(values(), log_x);
    let all_positive = values().all(|v| !v.is_finite() || *v >= 0.0);
    let lo = if all_positive && !log_x { 0.0 } else { lo };
    let to_axis = |v: f64| if log_x { v.ln() } else { v };
    let from_axis = |v: f64| if log_x { v.exp() } else { v };
    let (a, b) = (to_axis(lo), to_axis(hi));
    let width = (b - a) / bins as f64;
    let edges = (0..=bins)
        .map(|k| from_axis(a + k as f64 * width))
        .collect();
    let centres = (0..bins)
        .map(|k| from_axis(a + (k as f64 + 0.5) * width))
        .collect();
    let fractions = samples
        .iter()
        .map(|s| {
            let finite: Vec<f64> = s.iter().copied().filter(|v| v.is_finite()).collect();
            let mut counts = vec![0.0; bins];
            for &v in &finite {
                let at = if log_x && v <= 0.0 { a } else { to_axis(v) };
                let k = (((at - a) / width).max(0.0) as usize).min(bins - 1);
                counts[k] += 1.0;
            }
            let total = finite.len().max(1) as f64;
            counts.iter().map(|c| c / total).collect()
        })
        .collect();
    Histogram {
        edges,
        centres,
        fractions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_is_centred_cut_at_the_ends_and_skips_non_finite_values() {
        let m = moving_average(&[1.0, 2.0, 3.0, 4.0, 5.0], 1);
        assert_eq!(m, vec![1.5, 2.0, 3.0, 4.0, 4.5]);
        let m = moving_average(&[1.0, f64::NAN, 3.0], 1);
        assert_eq!(m, vec![1.0, 2.0, 3.0]);
        assert!(moving_average(&[f64::NAN], 2)[0].is_nan());
        assert_eq!(moving_average(&[7.0, 9.0], 0), vec![7.0, 9.0]);
        // a constant sequence is its own average for any window
        assert!(moving_average(&[0.25; 50], 7).iter().all(|v| *v == 0.25));
    }

    #[test]
    fn histogram_bins_share_edges_and_each_sample_sums_to_one() {
        let a = [0.5, 1.0, 1.5, 2.0];
        let b = [1.0, 3.0];
        let h = histogram(&[&a, &b], 4, false);
        assert_eq!(h.edges.len(), 5);
        assert_eq!(h.edges[0], 0.0, "non-negative values are binned from 0");
        for fractions in &h.fractions {
            assert!((fractions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // the range is padded by 5% above: [0, 3.125] in bins of 0.78125
        assert_eq!(h.fractions[1], vec![0.0, 0.5, 0.0, 0.5]);
        let log = histogram(&[&[1e-3, 1e-2, 1e-1]], 3, true);
        let ratios: Vec<f64> = log.edges.windows(2).map(|w| w[1] / w[0]).collect();
        assert!(
            ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-9 * r),
            "log bins are geometric"
        );
        assert_eq!(log.fractions[0], vec![1.0 / 3.0; 3]);
    }
}

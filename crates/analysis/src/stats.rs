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
}

//! τ grids from T down to t_min.

use serde::{Deserialize, Serialize};

use scorelab_core::CoreError;

/// How the `steps + 1` grid times are spaced between T and t_min.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TauGrid {
    /// τ_i = T − (T − t_min)·i/n.
    Uniform,
    /// τ_i = t_min + (T − t_min)(1 − i/n)²: finer near t_min.
    Quadratic,
    /// τ_i = T (t_min/T)^{i/n}: geometric spacing.
    Log,
}

/// The names accepted on the command line.
pub const GRID_NAMES: [&str; 3] = ["uniform", "quadratic", "log"];

impl std::str::FromStr for TauGrid {
    type Err = CoreError;

    /// Parses a grid name.
    fn from_str(name: &str) -> Result<Self, CoreError> {
        match name {
            "uniform" => Ok(TauGrid::Uniform),
            "quadratic" => Ok(TauGrid::Quadratic),
            "log" => Ok(TauGrid::Log),
            _ => Err(CoreError::UnknownName {
                kind: "grid",
                name: name.to_string(),
                expected: GRID_NAMES.join(", "),
            }),
        }
    }
}

impl TauGrid {
    /// The decreasing times τ_0 = T > τ_1 > ... > τ_n = t_min (requires 0 < t_min < T, n ≥ 1).
    pub fn times(self, t_end: f64, t_min: f64, steps: usize) -> Vec<f64> {
        let n = steps as f64;
        let mut times: Vec<f64> = (0..=steps)
            .map(|i| {
                let u = i as f64 / n;
                match self {
                    TauGrid::Uniform => t_end - (t_end - t_min) * u,
                    TauGrid::Quadratic => t_min + (t_end - t_min) * (1.0 - u).powi(2),
                    TauGrid::Log => t_end * (t_min / t_end).powf(u),
                }
            })
            .collect();
        times[0] = t_end;
        times[steps] = t_min;
        times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_run_from_t_end_to_t_min_and_decrease() {
        for grid in [TauGrid::Uniform, TauGrid::Quadratic, TauGrid::Log] {
            let times = grid.times(1.0, 1e-3, 50);
            assert_eq!(times.len(), 51);
            assert_eq!(times[0], 1.0);
            assert_eq!(times[50], 1e-3);
            assert!(times.windows(2).all(|w| w[0] > w[1]), "{grid:?}");
        }
        let log = TauGrid::Log.times(1.0, 1e-4, 4);
        for (t, expected) in log.iter().zip([1.0, 0.1, 0.01, 0.001, 1e-4]) {
            assert!((t / expected - 1.0).abs() < 1e-12);
        }
    }
}

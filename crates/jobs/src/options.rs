//! Which data and which SDE a set of options means: the typed options shared by every job,
//! and the small text formats of option values (lists, points, parts).

use std::path::PathBuf;

use scorelab_core::datasets::{MnistSplit, DATASET_NAMES};
use scorelab_core::{Dataset, DatasetSpec, Gmm, Sde, SdeParams};
use scorelab_train::training_set::shipped_path;

use crate::error::{JobError, Result};

/// Points on which ve's default σ_max (the largest pairwise distance) is measured.
pub const SIGMA_MAX_POINTS: usize = 2000;

/// Which data, as every job that needs a training set names it (with the `clap` feature:
/// the data flags of the command line).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct DataOptions {
    /// Dataset: swissroll, lemniscate, circle, diracs, gmm, mnist or csv.
    #[cfg_attr(feature = "clap", arg(long, default_value = "swissroll"))]
    pub dataset: String,
    /// Number of training points (circle: number of points K; mnist: a seeded subset;
    /// default for drawn 2-D data: 100 for sample, 10,000 for train; 9 for circle; all of MNIST).
    #[cfg_attr(feature = "clap", arg(long))]
    pub n_train: Option<usize>,
    /// Standard deviation of Gaussian noise added to swissroll (before the /7 scaling) or lemniscate points.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0.0))]
    pub noise: f64,
    /// Points of the diracs dataset: coordinates separated by ',' and points by ';'.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value = "-1,0;1,0", allow_hyphen_values = true)
    )]
    pub points: String,
    /// File of points for --dataset csv: CSV (one point per line) or .npy (float32 or float64,
    /// [N, d] or [N, C, H, W], C or Fortran order).
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_file: Option<PathBuf>,
    /// Folder with the four MNIST .gz files.
    #[cfg_attr(feature = "clap", arg(long, default_value = "datasets/mnist"))]
    pub mnist_dir: PathBuf,
    /// MNIST split: train or test.
    #[cfg_attr(feature = "clap", arg(long, default_value = "train"))]
    pub split: String,
    /// MNIST: only part i of k disjoint parts of the split, "i/k" (e.g. 1/2 and 2/2 with the
    /// same --data-seed are disjoint halves); --n-train then takes the first n of the part.
    #[cfg_attr(feature = "clap", arg(long))]
    pub part: Option<String>,
    /// Seed of the training-set draw or subset (default: --seed).
    #[cfg_attr(feature = "clap", arg(long))]
    pub data_seed: Option<u64>,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            dataset: "swissroll".into(),
            n_train: None,
            noise: 0.0,
            points: "-1,0;1,0".into(),
            data_file: None,
            mnist_dir: PathBuf::from("datasets/mnist"),
            split: "train".into(),
            part: None,
            data_seed: None,
        }
    }
}

impl DataOptions {
    /// The dataset these options describe; `drawn_default` is the size of drawn 2-D datasets
    /// when `n_train` is not given.
    pub fn spec(&self, drawn_default: usize) -> Result<DatasetSpec> {
        let n = |default: usize| self.n_train.unwrap_or(default);
        Ok(match self.dataset.as_str() {
            "swissroll" => DatasetSpec::Swissroll {
                n: n(drawn_default),
                noise: self.noise,
            },
            "lemniscate" => DatasetSpec::Lemniscate {
                n: n(drawn_default),
                noise: self.noise,
            },
            "circle" => DatasetSpec::Circle { k: n(9) },
            "diracs" => DatasetSpec::Diracs {
                points: parse_points(&self.points)?,
            },
            "gmm" => DatasetSpec::Gmm {
                n: n(drawn_default),
                gmm: Gmm::default_ring(),
            },
            "mnist" => DatasetSpec::Mnist {
                dir: shipped_path(&self.mnist_dir),
                split: MnistSplit::parse(&self.split)?,
                n: self.n_train,
                part: self.part.as_deref().map(parse_part).transpose()?,
            },
            "csv" => DatasetSpec::Csv {
                path: self
                    .data_file
                    .clone()
                    .ok_or_else(|| JobError::options("⟨dataset⟩ csv needs ⟨data-file⟩ PATH"))?,
            },
            other => {
                return Err(JobError::options(format!(
                    "unknown dataset '{other}' (expected one of: {})",
                    DATASET_NAMES.join(", ")
                )))
            }
        })
    }
}

/// The forward SDE by name with its parameters (None: the documented default).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct SdeOptions {
    /// Forward SDE: ve, vp, subvp, ou, cou, cvp or heat.
    #[cfg_attr(feature = "clap", arg(long, default_value = "vp"))]
    pub sde: String,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub params: SdeParams,
}

impl Default for SdeOptions {
    fn default() -> Self {
        SdeOptions {
            sde: "vp".into(),
            params: SdeParams::default(),
        }
    }
}

impl SdeOptions {
    /// The SDE; `ve` without σ_max takes the largest pairwise distance of `data`.
    pub fn build(&self, data: &Dataset) -> Result<Sde> {
        let data_sigma_max = (self.sde == "ve" && self.params.sigma_max.is_none())
            .then(|| data.max_pairwise_distance(SIGMA_MAX_POINTS));
        Ok(self.params.build(&self.sde, data_sigma_max)?)
    }
}

/// Parses a comma-separated list of numbers given with option `flag` (named as `⟨name⟩`, see
/// `scorelab_core::options`).
pub fn parse_list(text: &str, flag: &str) -> Result<Vec<f64>> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| JobError::options(format!("{flag}: '{}' is not a number", v.trim())))
        })
        .collect()
}

/// Parses a constant perturbation e (comma-separated) given with `flag` and checks that it has
/// `dim` entries.
pub fn parse_perturbation(text: &str, flag: &str, dim: usize) -> Result<Vec<f64>> {
    let e = parse_list(text, flag)?;
    if e.len() != dim {
        return Err(JobError::options(format!(
            "{flag} has {} entries but the data dimension is {dim}",
            e.len()
        )));
    }
    Ok(e)
}

/// Parses "i/k" (part i of k).
fn parse_part(text: &str) -> Result<(usize, usize)> {
    let bad = || JobError::options(format!("⟨part⟩: expected i/k such as 1/2, got '{text}'"));
    let (i, k) = text.split_once('/').ok_or_else(bad)?;
    Ok((
        i.trim().parse().map_err(|_| bad())?,
        k.trim().parse().map_err(|_| bad())?,
    ))
}

/// Parses "a,b;c,d" into points.
fn parse_points(text: &str) -> Result<Vec<Vec<f64>>> {
    text.split(';')
        .map(|point| parse_list(point, "⟨points⟩"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_points_and_parts_parse_and_bad_ones_name_the_option() {
        assert_eq!(parse_list("1, -2.5,3e-1", "⟨t⟩").unwrap(), [1.0, -2.5, 0.3]);
        let err = parse_list("1,x", "⟨times⟩").unwrap_err().to_string();
        assert_eq!(err, "⟨times⟩: 'x' is not a number");
        assert_eq!(
            parse_points("-1,0;1,0").unwrap(),
            vec![vec![-1.0, 0.0], vec![1.0, 0.0]]
        );
        assert_eq!(parse_part("2/3").unwrap(), (2, 3));
        assert!(parse_part("2").unwrap_err().to_string().contains("⟨part⟩"));
        let err = parse_perturbation("1,2,3", "⟨perturb⟩", 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "⟨perturb⟩ has 3 entries but the data dimension is 2"
        );
    }

    #[test]
    fn data_options_name_the_dataset_and_its_defaults() {
        let options = DataOptions::default();
        assert_eq!(
            options.spec(100).unwrap(),
            DatasetSpec::Swissroll { n: 100, noise: 0.0 }
        );
        let circle = DataOptions {
            dataset: "circle".into(),
            ..DataOptions::default()
        };
        assert_eq!(circle.spec(100).unwrap(), DatasetSpec::Circle { k: 9 });
        let csv = DataOptions {
            dataset: "csv".into(),
            ..DataOptions::default()
        };
        assert!(csv
            .spec(100)
            .unwrap_err()
            .to_string()
            .contains("⟨data-file⟩"));
        let unknown = DataOptions {
            dataset: "cifar".into(),
            ..DataOptions::default()
        };
        assert!(matches!(unknown.spec(100), Err(JobError::Options(_))));
    }
}

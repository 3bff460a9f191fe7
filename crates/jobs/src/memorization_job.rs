//! `analyze memorization` as one call: the training set a samples file belongs to, the
//! memorisation section (d1/d2 criterion, copies, fresh data, on-manifold distance, quality,
//! and the classifier Fréchet distance of images), its files and its summary-table row.

use std::path::PathBuf;

use burn::tensor::Device;
use serde_json::{json, Value};

use scorelab_analysis::memorization::{
    d1_histogram, memorisation_report, validate_threshold, Baselines, Neighbours,
};
use scorelab_analysis::plot::image_grid_png;
use scorelab_core::datasets::load_points_file;
use scorelab_core::device::tensor_from_rows;
use scorelab_core::output::{file_names, OutputDir};
use scorelab_core::{Dataset, DatasetSpec};
use scorelab_train::classifier::PIXELS as FEATURE_INPUT;
use scorelab_train::training_set::{training_set_of_checkpoint, training_set_of_samples};

use crate::error::{JobError, Result};
use crate::options::DataOptions;
use crate::quality::{image_quality, open_classifier};
use crate::score_source::{Warn, POINTS_FOR_SCORES};

/// Columns of the summary-table row of a memorisation run.
pub const TABLE_COLUMNS: [&str; 15] = [
    "label",
    "samples",
    "memorised_fraction",
    "mean_d1",
    "median_d1",
    "fresh_memorised_fraction",
    "fresh_mean_d1",
    "mean_distance_to_curve",
    "fresh_mean_distance_to_curve",
    "sliced_w2_to_fresh",
    "sliced_w2_floor",
    "energy_distance_to_fresh",
    "energy_distance_floor",
    "frechet_distance",
    "frechet_floor",
];

/// What to measure: a samples file against a training set (with the `clap` feature: the
/// flags of `analyze memorization`).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args), group(skip))]
pub struct MemorizationJob {
    /// Samples as .npy (rows of length d, or images [n, 1, 28, 28]) or CSV (x0,x1,... header).
    #[cfg_attr(feature = "clap", arg(long))]
    pub samples: PathBuf,
    /// Take the training set from this checkpoint (or run folder) instead of the data flags.
    #[cfg_attr(feature = "clap", arg(long))]
    pub checkpoint: Option<PathBuf>,
    /// Use the data flags even when a summary.json from `scorelab sample` sits beside the
    /// samples (by default its training set is used).
    #[cfg_attr(feature = "clap", arg(long))]
    pub ignore_summary: bool,
    #[cfg_attr(feature = "clap", command(flatten))]
    pub data: DataOptions,
    /// Default seed of the training-set draw (as in `sample --seed`).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// A sample is memorised when d1/d2 is below this.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 1.0 / 3.0))]
    pub threshold: f64,
    /// Size of the fresh reference draw [default: as many as samples].
    #[cfg_attr(feature = "clap", arg(long))]
    pub fresh: Option<usize>,
    /// Classifier checkpoint (from `scorelab train-classifier`) for the quality of MNIST
    /// samples [default: the reference classifier shipped in checkpoints/mnist-classifier].
    #[cfg_attr(feature = "clap", arg(long))]
    pub classifier: Option<PathBuf>,
}

/// Samples and their training set, checked against each other.
pub struct LoadedSamples<'a> {
    job: &'a MemorizationJob,
    values: Vec<f32>,
    n: usize,
    data: Dataset,
    spec: DatasetSpec,
    seed: u64,
    origin: String,
}

/// The measured section with the neighbours behind it.
pub struct Memorization<'a> {
    loaded: LoadedSamples<'a>,
    pub section: Value,
    own: Neighbours,
    fresh: Option<Neighbours>,
}

impl MemorizationJob {
    /// The training set: a checkpoint's, the summary's beside the samples, or the options'.
    /// Returns the dataset, its spec and seed, and where it came from.
    fn training_set(&self) -> Result<(Dataset, DatasetSpec, u64, String)> {
        let found = match &self.checkpoint {
            Some(dir) => Some(training_set_of_checkpoint(dir)?),
            None if self.ignore_summary => None,
            None => training_set_of_samples(&self.samples)?,
        };
        if let Some(f) = found {
            return Ok((f.data, f.spec, f.seed, f.origin));
        }
        let spec = self.data.spec(POINTS_FOR_SCORES)?;
        let seed = self.data.data_seed.unwrap_or(self.seed);
        let data = spec.load(seed)?;
        Ok((data, spec, seed, "the data flags".into()))
    }

    /// Reads the samples and their training set and checks that they can be compared.
    pub fn load(&self) -> Result<LoadedSamples<'_>> {
        let samples = load_points_file(&self.samples)?;
        let (values, dim) = (samples.points.into_vec(), samples.dim);
        let (data, spec, seed, origin) = self.training_set()?;
        if dim != data.dim {
            return Err(JobError::failed(format!(
                "{}: samples have dimension {dim} but the training set ({origin}) has dimension {}",
                self.samples.display(),
                data.dim
            )));
        }
        validate_threshold(self.threshold)?;
        if data.n < 2 {
            return Err(JobError::options(
                "the training set needs at least two points for d1/d2",
            ));
        }
        Ok(LoadedSamples {
            job: self,
            n: values.len() / dim,
            values,
            data,
            spec,
            seed,
            origin,
        })
    }
}

impl<'a> LoadedSamples<'a> {
    /// Memorisation, on-manifold distance and quality of the samples next to the same numbers
    /// for fresh data, and the classifier's image quality for MNIST-sized images.
    pub fn measure(self, device: &Device, warn: Warn) -> Result<Memorization<'a>> {
        let (job, data, spec) = (self.job, &self.data, &self.spec);
        let samples = tensor_from_rows(&self.values, self.n, data.dim, device);
        let baselines = Baselines::draw(spec, self.seed, job.fresh.unwrap_or(self.n), device)?;
        let report = memorisation_report(&samples, data, spec, &baselines, job.threshold)?;
        let mut section = json!(report);
        if data.image_shape.is_some() && data.dim == FEATURE_INPUT {
            if let Some(classifier) = open_classifier(job.classifier.as_ref(), device, warn)? {
                section["quality"] = image_quality(classifier, &samples, spec, &baselines, device)?;
            }
        }
        Ok(Memorization {
            loaded: self,
            section,
            own: report.neighbours,
            fresh: report.fresh_neighbours,
        })
    }
}

impl Memorization<'_> {
    /// Writes neighbours.csv, copies.csv, d1_histogram.png, nearest_pairs.png (images) and
    /// memorization.json.
    pub fn write(&self, out: &OutputDir) -> Result<()> {
        let l = &self.loaded;
        let (n, dim, own) = (l.n, l.data.dim, &self.own);
        let mut written = Vec::new();
        let mut csv = String::from("sample,d1,d2,ratio,nearest,second_nearest\n");
        for i in 0..n {
            let t = &own.nearest;
            csv.push_str(&format!(
                "{i},{},{},{},{},{}\n",
                t.d1[i], t.d2[i], own.ratio[i], t.i1[i], t.i2[i]
            ));
        }
        written.push(out.write("neighbours.csv", csv.as_bytes())?);
        if let Some(counts) = self.section["copies"]["counts"].as_array() {
            let mut text = String::from("training_point,copies\n");
            for (i, c) in counts.iter().enumerate() {
                text.push_str(&format!("{i},{c}\n"));
            }
            written.push(out.write("copies.csv", text.as_bytes())?);
        }
        let title = format!("{n} samples against {} training points", l.data.n);
        let histogram = d1_histogram(&title, own, self.fresh.as_ref())?;
        written.push(out.write("d1_histogram.png", &histogram)?);
        if let Some([1, h, w]) = l.data.image_shape {
            // each sample next to its nearest training image, 8 pairs per row
            let shown = n.min(32);
            let mut pairs = Vec::with_capacity(2 * shown * h * w);
            for i in 0..shown {
                pairs.extend_from_slice(&l.values[i * dim..(i + 1) * dim]);
                pairs.extend_from_slice(l.data.row(own.nearest.i1[i]));
            }
            let caption = format!(
                "the first {shown} samples, each (left) beside its nearest training image (right)"
            );
            let picture = image_grid_png(&caption, &pairs, (h, w), 16, 2, 2)?;
            written.push(out.write("nearest_pairs.png", &picture)?);
        }
        let files = file_names(&written);
        let report = json!({
            "command": "analyze memorization",
            "samples_file": l.job.samples,
            "samples": n,
            "training_set": { "spec": l.spec, "seed": l.seed, "n": l.data.n, "dim": dim, "from": l.origin },
            "memorization": self.section,
            "files": files,
        });
        out.write_json("memorization.json", &report)?;
        Ok(())
    }

    /// The summary-table row ([`TABLE_COLUMNS`]); absent numbers are empty cells.
    pub fn table_row(&self, label: &str) -> Vec<String> {
        let section = &self.section;
        let cell = |v: &Value| v.as_f64().map(|x| format!("{x}")).unwrap_or_default();
        let q = &section["quality"];
        vec![
            label.to_string(),
            self.loaded.n.to_string(),
            cell(&section["samples"]["memorised_fraction"]),
            cell(&section["samples"]["d1"]["mean"]),
            cell(&section["samples"]["d1"]["median"]),
            cell(&section["fresh"]["memorised_fraction"]),
            cell(&section["fresh"]["d1"]["mean"]),
            cell(&section["on_manifold"]["samples"]["mean"]),
            cell(&section["on_manifold"]["fresh"]["mean"]),
            cell(&q["samples_vs_fresh"]["sliced_w2"]),
            cell(&q["noise_floor_fresh_vs_fresh"]["sliced_w2"]),
            cell(&q["samples_vs_fresh"]["energy_distance"]),
            cell(&q["noise_floor_fresh_vs_fresh"]["energy_distance"]),
            cell(&q["frechet_distance_to_test_split"]),
            cell(&q["noise_floor_test_subset_of_the_same_size"]),
        ]
    }

    /// One line: the memorised fraction and mean d1 of the samples and of fresh data.
    pub fn headline(&self) -> String {
        let stats = &self.section;
        let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        format!(
            "memorised fraction {:.3} (d1/d2 < {:.3}), mean d1 {:.4}{}",
            number(&stats["samples"]["memorised_fraction"]),
            self.loaded.job.threshold,
            number(&stats["samples"]["d1"]["mean"]),
            match stats.get("fresh") {
                Some(f) => format!(
                    "; fresh data: memorised fraction {:.3}, mean d1 {:.4}",
                    number(&f["memorised_fraction"]),
                    number(&f["d1"]["mean"])
                ),
                None => String::new(),
            },
        )
    }
}

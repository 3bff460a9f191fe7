//! `analyze memorization`: the training set of the samples, the memorisation section, the classifier Fréchet distance of images and the summary-table row.

use super::*;

/// The training set of `memorization`: a checkpoint's, the summary's beside the samples, or
/// the flags'. Returns the dataset, its spec and seed, and where it came from.
fn training_set(args: &MemorizationArgs) -> CliResult<(Dataset, DatasetSpec, u64, String)> {
    let found = match &args.checkpoint {
        Some(dir) => Some(training_set_of_checkpoint(dir)?),
        None if args.ignore_summary => None,
        None => training_set_of_samples(&args.samples)?,
    };
    if let Some(f) = found {
        return Ok((f.data, f.spec, f.seed, f.origin));
    }
    let spec = dataset_spec(&args.data, 100)?;
    let seed = args.data.data_seed.unwrap_or(args.seed);
    let data = spec.load(seed)?;
    Ok((data, spec, seed, "the data flags".into()))
}

/// Memorisation, on-manifold distance and quality of `samples` (data space) against
/// `training`, next to the same numbers for fresh data (`memorisation_report`). Returns the
/// JSON section and the per-sample neighbours (and the fresh points' ones).
pub fn memorisation_section(
    samples: &Tensor<2>,
    training: &Dataset,
    spec: &DatasetSpec,
    baselines: &Baselines,
    threshold: f64,
) -> CliResult<(Value, Neighbours, Option<Neighbours>)> {
    let report = memorisation_report(samples, training, spec, baselines, threshold)?;
    Ok((json!(report), report.neighbours, report.fresh_neighbours))
}

/// The Fréchet distance in a classifier's penultimate features to a fixed reference set of
/// images; samples are mapped from model space to pixels in [0, 1] first.
pub struct FrechetTo {
    classifier: Classifier,
    reference: Vec<f32>,
    normalisation: Normalisation,
}

impl FrechetTo {
    pub fn new(
        classifier: Classifier,
        reference: &Tensor<2>,
        normalisation: Normalisation,
    ) -> Self {
        let reference = to_vec(classifier.features(reference.clone()));
        FrechetTo {
            classifier,
            reference,
            normalisation,
        }
    }

    fn features(&self, images: &Tensor<2>) -> Vec<f32> {
        to_vec(self.classifier.features(images.clone()))
    }
}

impl QualityMetric for FrechetTo {
    fn name(&self) -> &str {
        "classifier Fréchet distance"
    }

    fn evaluate(&self, samples: &Tensor<2>) -> scorelab_analysis::Result<f64> {
        let [n, d] = samples.dims();
        let pixels = self.normalisation.to_data(&to_vec(samples.clone()));
        let pixels = tensor_from_rows(&pixels, n, d, &samples.device());
        frechet_distance(&self.features(&pixels), &self.reference, FEATURES)
    }
}

/// Fréchet distance of image samples (pixels in [0, 1]) to the whole MNIST test split, the
/// same for a test subset of the same size (the noise floor: the estimate is biased upwards at
/// small n), and the predicted-class frequencies of both.
fn image_quality(
    classifier: Classifier,
    samples: &Tensor<2>,
    spec: &DatasetSpec,
    baselines: &Baselines,
    device: &Device,
) -> CliResult<Value> {
    let (Some(test), Some(floor)) = (spec.fresh(10_000), &baselines.floor) else {
        return Ok(Value::Null);
    };
    let test = test.load(0)?.to_tensor(device);
    let classes = |x: &Tensor<2>| class_histogram(&classifier.predict(x), CLASSES);
    let (sample_classes, test_classes) = (classes(samples), classes(&test));
    let metric = FrechetTo::new(classifier, &test, Normalisation::IDENTITY);
    Ok(json!({
        "frechet_distance_to_test_split": metric.evaluate(samples)?,
        "noise_floor_test_subset_of_the_same_size": metric.evaluate(floor)?,
        "feature_dim": FEATURES,
        "predicted_class_frequencies": sample_classes,
        "test_class_frequencies": test_classes,
    }))
}

/// Columns of `analyze memorization --table`.
const TABLE_COLUMNS: [&str; 15] = [
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

/// One row of `--table` from a memorisation section; absent numbers are empty cells.
fn table_row(label: &str, n: usize, section: &Value) -> Vec<String> {
    let cell = |v: &Value| v.as_f64().map(|x| format!("{x}")).unwrap_or_default();
    let q = &section["quality"];
    vec![
        label.to_string(),
        n.to_string(),
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

pub(super) fn memorization(args: &MemorizationArgs) -> CliResult<()> {
    let table = table_from_flags(&args.table, &TABLE_COLUMNS)?;
    let device = open(&args.output)?;
    let (values, dim) = read_samples(&args.samples)?;
    let (data, spec, seed, origin) = training_set(args)?;
    if dim != data.dim {
        return Err(Failure::runtime(format!(
            "{}: samples have dimension {dim} but the training set ({origin}) has dimension {}",
            args.samples.display(),
            data.dim
        )));
    }
    validate_threshold(args.threshold)?;
    let n = values.len() / dim;
    if data.n < 2 {
        return Err(Failure::usage(
            "the training set needs at least two points for d1/d2",
        ));
    }
    let out = out_dir(&args.output, "memorization")?;
    let samples = tensor_from_rows(&values, n, dim, &device);
    let baselines = Baselines::draw(&spec, seed, args.fresh.unwrap_or(n), &device)?;
    let (mut section, own, fresh) =
        memorisation_section(&samples, &data, &spec, &baselines, args.threshold)?;
    if data.image_shape.is_some() && dim == FEATURE_INPUT {
        if let Some(classifier) = open_classifier(&args.classifier, &device)? {
            section["quality"] = image_quality(classifier, &samples, &spec, &baselines, &device)?;
        }
    }

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
    if let Some(counts) = section["copies"]["counts"].as_array() {
        let mut text = String::from("training_point,copies\n");
        for (i, c) in counts.iter().enumerate() {
            text.push_str(&format!("{i},{c}\n"));
        }
        written.push(out.write("copies.csv", text.as_bytes())?);
    }
    written.push(out.write(
        "d1_histogram.png",
        &d1_histogram(
            &format!("{n} samples against {} training points", data.n),
            &own,
            fresh.as_ref(),
        )?,
    )?);
    if let Some([1, h, w]) = data.image_shape {
        // each sample next to its nearest training image, 8 pairs per row
        let shown = n.min(32);
        let mut pairs = Vec::with_capacity(2 * shown * h * w);
        for i in 0..shown {
            pairs.extend_from_slice(&values[i * dim..(i + 1) * dim]);
            pairs.extend_from_slice(data.row(own.nearest.i1[i]));
        }
        let caption = format!(
            "the first {shown} samples, each (left) beside its nearest training image (right)"
        );
        written.push(out.write(
            "nearest_pairs.png",
            &image_grid_png(&caption, &pairs, (h, w), 16, 2, 2)?,
        )?);
    }
    let report = json!({
        "command": "analyze memorization",
        "samples_file": args.samples,
        "samples": n,
        "training_set": { "spec": spec, "seed": seed, "n": data.n, "dim": dim, "from": origin },
        "memorization": section,
        "files": file_names(&written),
    });
    out.write_json("memorization.json", &report)?;
    let stats = &report["memorization"];
    if let Some((table, label)) = &table {
        table.append(&table_row(label, n, stats))?;
    }
    println!(
        "memorised fraction {:.3} (d1/d2 < {:.3}), mean d1 {:.4}{}; wrote {}",
        stats["samples"]["memorised_fraction"]
            .as_f64()
            .unwrap_or(f64::NAN),
        args.threshold,
        stats["samples"]["d1"]["mean"].as_f64().unwrap_or(f64::NAN),
        match stats.get("fresh") {
            Some(f) => format!(
                "; fresh data: memorised fraction {:.3}, mean d1 {:.4}",
                f["memorised_fraction"].as_f64().unwrap_or(f64::NAN),
                f["d1"]["mean"].as_f64().unwrap_or(f64::NAN)
            ),
            None => String::new(),
        },
        out.file("").display()
    );
    Ok(())
}

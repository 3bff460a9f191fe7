//! Image quality in a trained classifier's feature space (it needs a network of scorelab-train
//! and a metric of scorelab-analysis together): the Fréchet distance to a reference set and
//! the predicted-class frequencies, next to the noise floor of a test subset of the same size.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde_json::{json, Value};

use scorelab_analysis::frechet::{class_histogram, frechet_distance};
use scorelab_analysis::memorization::Baselines;
use scorelab_analysis::quality::{QualityMetric, SlicedW2To, SLICED_W2_MAX_DIM};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::DatasetSpec;
use scorelab_train::classifier::{CLASSES, CLASSIFIER_MODEL_FILE, FEATURES, PIXELS};
use scorelab_train::training_set::shipped_path;
use scorelab_train::{load_classifier, Classifier, Normalisation};

use crate::error::Result;
use crate::score_source::{ScoreSource, Warn};

/// The default location of the reference classifier.
pub const SHIPPED_CLASSIFIER: &str = "checkpoints/mnist-classifier";

/// The Fréchet distance in a classifier's penultimate features to a fixed reference set of
/// images (Heusel et al. 2017, ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)); samples are mapped from
/// model space to pixels in [0, 1] first.
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
}

impl QualityMetric for FrechetTo {
    fn name(&self) -> &str {
        "classifier Fréchet distance"
    }

    fn evaluate(&self, samples: &Tensor<2>) -> scorelab_analysis::Result<f64> {
        let [n, d] = samples.dims();
        let pixels = self.normalisation.to_data(&to_vec(samples.clone()));
        let pixels = tensor_from_rows(&pixels, n, d, &samples.device());
        let features = to_vec(self.classifier.features(pixels));
        frechet_distance(&features, &self.reference, FEATURES)
    }
}

/// Fréchet distance of image samples (pixels in [0, 1]) to the whole MNIST test split, the
/// same for a test subset of the same size (the noise floor: the estimate is biased upwards at
/// small n), and the predicted-class frequencies of both; null for data without a test split.
pub fn image_quality(
    classifier: Classifier,
    samples: &Tensor<2>,
    spec: &DatasetSpec,
    baselines: &Baselines,
    device: &Device,
) -> Result<Value> {
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

/// The classifier at `dir`, or the shipped one; None (with a warning) when no folder is named
/// and the shipped one is absent.
pub fn open_classifier(
    dir: Option<&PathBuf>,
    device: &Device,
    warn: Warn,
) -> Result<Option<Classifier>> {
    match dir {
        Some(dir) => Ok(Some(load_classifier(dir, device)?.0)),
        None => {
            let dir = shipped_path(Path::new(SHIPPED_CLASSIFIER));
            if dir.join(CLASSIFIER_MODEL_FILE).exists() {
                Ok(Some(load_classifier(&dir, device)?.0))
            } else {
                warn(&format!(
                    "no classifier at {}; image quality is not measured (see scorelab train-classifier)",
                    dir.display()
                ));
                Ok(None)
            }
        }
    }
}

/// The quality of samples of `source` (in its model space) against fresh data: sliced W2 to a
/// fresh draw of `n` points for low-dimensional data, the classifier Fréchet distance to the
/// whole test split for MNIST-sized images, None where there is no fresh data (or no
/// classifier).
pub fn fresh_quality_metric(
    source: &ScoreSource,
    n: usize,
    classifier: Option<&PathBuf>,
    device: &Device,
    warn: Warn,
) -> Result<Option<Box<dyn QualityMetric>>> {
    // images are compared with the whole test split; points with a draw as large as the sample
    let reference_size = if source.data.image_shape.is_some() {
        10_000
    } else {
        n
    };
    let fresh = source
        .spec
        .fresh(reference_size)
        .map(|s| s.load(source.data_seed.wrapping_add(1)))
        .transpose()?;
    Ok(match &fresh {
        Some(f) if f.dim <= SLICED_W2_MAX_DIM => Some(Box::new(SlicedW2To {
            reference: source.normalisation.to_model_tensor(f, device),
            seed: 0,
        })),
        Some(f) if f.image_shape.is_some() && f.dim == PIXELS => {
            open_classifier(classifier, device, warn)?.map(|classifier| {
                Box::new(FrechetTo::new(
                    classifier,
                    &f.to_tensor(device),
                    source.normalisation,
                )) as Box<dyn QualityMetric>
            })
        }
        _ => None,
    })
}

//! A small MNIST classifier whose penultimate activations give the feature space of the
//! Fréchet distance and whose predictions give the class frequencies of generated digits
//! (DESIGN §6).
//!
//! Architecture on 1×28×28 images, pixels x ∈ [0, 1] standardised as (x − 0.1307)/0.3081:
//! conv 3×3 1→16, ReLU, max-pool 2×2 → conv 3×3 16→32, ReLU, max-pool 2×2 →
//! dense 32·7·7→128, ReLU (the features) → dense 128→10 (the logits).
//!
//! Trained with cross-entropy, Adam and a cosine learning-rate decay; every random choice
//! (weights, batch order) comes from the seed. Saved as a folder `model.bpk` + `meta.json`,
//! written atomically through a `.NAME.partial` folder.

use std::fs;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::error::require_positive;
use scorelab_core::{CoreError, Dataset};

use crate::adam::{AdamConfig, AdamState, LrDecay};
use crate::error::{Result, TrainError};
use crate::integrity::{file_sha256, first_mismatch, verify, FileDigests};
use crate::mlp::Dense;
use crate::params::{flatten, flatten_grads, replace};
use crate::unet::Conv;

/// Identifies the file format of a classifier's `meta.json`.
pub const CLASSIFIER_FORMAT: &str = "scorelab-classifier";
/// Version of the classifier layout written by this build.
pub const CLASSIFIER_VERSION: u32 = 1;
pub const CLASSIFIER_META_FILE: &str = "meta.json";
pub const CLASSIFIER_MODEL_FILE: &str = "model.bpk";

/// Image side, pixels per image and number of classes.
pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
pub const CLASSES: usize = 10;
/// Size of the penultimate feature vector.
pub const FEATURES: usize = 128;
const CHANNELS: [usize; 2] = [16, 32];
/// Mean and standard deviation of the MNIST training pixels.
const PIXEL_MEAN: f64 = 0.1307;
const PIXEL_STD: f64 = 0.3081;
/// Images per forward pass in [`Classifier::logits`], [`Classifier::features`] and evaluation.
const CHUNK: usize = 500;

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak Adam learning rate; it decays as lr·½(1 + cos(π k / K)) over the K steps.
    pub lr: f64,
    /// Seed of the weights and of the batch order.
    pub seed: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            epochs: 8,
            batch_size: 64,
            lr: 2e-3,
            seed: 0,
        }
    }
}

impl ClassifierConfig {
    pub fn validate(&self) -> std::result::Result<(), CoreError> {
        require_positive("epochs", self.epochs as f64)?;
        require_positive("batch-size", self.batch_size as f64)?;
        require_positive("lr", self.lr)?;
        if !self.lr.is_finite() {
            return Err(CoreError::invalid("lr", "must be finite"));
        }
        Ok(())
    }
}

/// The MNIST classifier (see the module documentation).
#[derive(Module, Debug)]
pub struct Classifier {
    pub conv1: Conv,
    pub conv2: Conv,
    pub hidden: Dense,
    pub output: Dense,
}

fn pool2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([2, 2]))
}

/// Applies `f` to blocks of at most [`CHUNK`] rows and concatenates the results.
fn chunked(images: Tensor<2>, f: impl Fn(Tensor<2>) -> Tensor<2>) -> Tensor<2> {
    let [n, _] = images.dims();
    if n <= CHUNK {
        return f(images);
    }
    let parts = (0..n)
        .step_by(CHUNK)
        .map(|start| f(images.clone().narrow(0, start, CHUNK.min(n - start))))
        .collect();
    Tensor::cat(parts, 0)
}

impl Classifier {
    /// A freshly initialised classifier (PyTorch's default uniform initialisation) with weights
    /// drawn on the host from `seed`, identical on every backend.
    pub fn init(seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let [c1, c2] = CHANNELS;
        let pooled = c2 * (SIDE / 4) * (SIDE / 4);
        Self {
            conv1: Conv::init(1, c1, 3, 1, 1.0, &mut rng, device),
            conv2: Conv::init(c1, c2, 3, 1, 1.0, &mut rng, device),
            hidden: Dense::init(pooled, FEATURES, &mut rng, device),
            output: Dense::init(FEATURES, CLASSES, &mut rng, device),
        }
    }

    fn check(images: &Tensor<2>) {
        let [_, d] = images.dims();
        assert_eq!(d, PIXELS, "the classifier takes [n, {PIXELS}] images");
    }

    /// Features of one block of images, without chunking.
    fn block_features(&self, images: Tensor<2>) -> Tensor<2> {
        let [n, _] = images.dims();
        let x = ((images - PIXEL_MEAN) / PIXEL_STD).reshape([n, 1, SIDE, SIDE]);
        let h = pool2(relu(self.conv1.forward(x)));
        let h = pool2(relu(self.conv2.forward(h)));
        let [_, c, hh, ww] = h.dims();
        relu(self.hidden.forward(h.reshape([n, c * hh * ww])))
    }

    fn block_logits(&self, images: Tensor<2>) -> Tensor<2> {
        self.output.forward(self.block_features(images))
    }

    /// Class scores [n, 10] of images [n, 784] with pixels in [0, 1].
    ///
    /// Panics if the images do not have 784 columns.
    pub fn logits(&self, images: Tensor<2>) -> Tensor<2> {
        Self::check(&images);
        chunked(images, |x| self.block_logits(x))
    }

    /// The 128 penultimate ReLU activations [n, 128] of images [n, 784] with pixels in [0, 1].
    ///
    /// Panics if the images do not have 784 columns.
    pub fn features(&self, images: Tensor<2>) -> Tensor<2> {
        Self::check(&images);
        chunked(images, |x| self.block_features(x))
    }

    /// The most likely class of each image, argmax of the logits.
    pub fn predict(&self, images: &Tensor<2>) -> Vec<usize> {
        let logits = to_vec(self.logits(images.clone()));
        logits
            .chunks(CLASSES)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                        if v > best.1 {
                            (i, v)
                        } else {
                            best
                        }
                    })
                    .0
            })
            .collect()
    }

    /// Fraction of `data`'s images whose predicted class is their label.
    pub fn accuracy(&self, data: &Dataset, device: &Device) -> Result<f64> {
        let labels = labels_of(data)?;
        let predictions = self.predict(&data.to_tensor(device));
        let correct = predictions
            .iter()
            .zip(labels)
            .filter(|(p, &l)| **p == l as usize)
            .count();
        Ok(correct as f64 / data.n.max(1) as f64)
    }
}

/// The labels of an MNIST-shaped dataset, checked.
fn labels_of(data: &Dataset) -> Result<&[u8]> {
    if data.dim != PIXELS {
        return Err(CoreError::Shape(format!(
            "{} has dimension {}, the classifier takes {PIXELS}-pixel images",
            data.name, data.dim
        ))
        .into());
    }
    let labels = data
        .labels
        .as_deref()
        .ok_or_else(|| TrainError::invalid("dataset", format!("{} has no labels", data.name)))?;
    if labels.len() != data.n {
        return Err(CoreError::Shape(format!(
            "{} has {} labels for {} images",
            data.name,
            labels.len(),
            data.n
        ))
        .into());
    }
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= CLASSES) {
        return Err(TrainError::invalid(
            "dataset",
            format!("{} has label {bad}, outside 0..{CLASSES}", data.name),
        ));
    }
    Ok(labels)
}

/// Progress of [`train_classifier`], reported after every step.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierProgress {
    /// 1-based epoch.
    pub epoch: usize,
    pub epochs: usize,
    /// 1-based step over the whole run.
    pub step: u64,
    pub steps: u64,
    /// Cross-entropy of this step's batch.
    pub loss: f64,
}

/// What a training run achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierReport {
    /// Fraction of the test images classified correctly.
    pub test_accuracy: f64,
    /// Wall-clock seconds of training (without the final test evaluation).
    pub train_seconds: f64,
    /// Optimisation steps taken.
    pub steps: u64,
    /// Mean cross-entropy over the last epoch's batches.
    pub final_loss: f64,
    /// Training images used.
    pub train_images: usize,
}

/// The number of scalar parameters of the classifier.
pub fn parameter_count(model: &Classifier) -> usize {
    model.num_params()
}

/// Mean cross-entropy −(1/n) Σ_i log softmax(z_i)_{y_i} of logits `z` and one-hot targets.
fn cross_entropy(logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    (log_softmax(logits, 1) * one_hot).sum().neg() / n as f64
}

/// Trains a classifier on `train` (images with labels) and measures its accuracy on `test`.
/// `device` is a plain device; training runs on its autodiff counterpart.
pub fn train_classifier(
    config: &ClassifierConfig,
    train: &Dataset,
    test: &Dataset,
    device: &Device,
    progress: &mut dyn FnMut(&ClassifierProgress),
) -> Result<(Classifier, ClassifierReport)> {
    config.validate()?;
    let labels = labels_of(train)?;
    labels_of(test)?;
    if train.n == 0 {
        return Err(TrainError::invalid("n-train", "the training set is empty"));
    }
    let autodiff = device.clone().autodiff();
    let batches_per_epoch = train.n.div_ceil(config.batch_size);
    let steps = (batches_per_epoch * config.epochs) as u64;
    let started = Instant::now();
    let mut model = Classifier::init(config.seed, &autodiff);
    let mut adam = AdamState::zeros(&flatten(&model));
    // lr·½(1 + cos(π (k−1)/steps)) at step k: Adam's cosine decay without warm-up
    let adam_config = AdamConfig {
        lr: config.lr,
        decay: LrDecay::Cosine,
        ..AdamConfig::default()
    };
    let mut order: Vec<usize> = (0..train.n).collect();
    let mut step = 0u64;
    let mut final_loss = 0.0;
    for epoch in 1..=config.epochs {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64);
        order.shuffle(&mut rng);
        let mut epoch_loss = 0.0;
        for batch in order.chunks(config.batch_size) {
            step += 1;
            let b = batch.len();
            let mut pixels = Vec::with_capacity(b * PIXELS);
            let mut one_hot = vec![0f32; b * CLASSES];
            for (row, &i) in batch.iter().enumerate() {
                pixels.extend_from_slice(train.row(i));
                one_hot[row * CLASSES + labels[i] as usize] = 1.0;
            }
            let x = tensor_from_rows(&pixels, b, PIXELS, &autodiff);
            let y = Tensor::<2>::from_data(TensorData::new(one_hot, [b, CLASSES]), &autodiff);
            let loss = cross_entropy(model.block_logits(x), y);
            let value = to_vec(loss.clone().inner())[0] as f64;
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    what: "the cross-entropy".into(),
                    value,
                });
            }
            let mut grads = loss.backward();
            let g = flatten_grads(&model, &mut grads);
            let lr = adam_config.lr_at(step, steps);
            let new = adam.update(&adam_config, lr, flatten(&model), g, 1.0);
            model = replace(model, new);
            epoch_loss += value;
            progress(&ClassifierProgress {
                epoch,
                epochs: config.epochs,
                step,
                steps,
                loss: value,
            });
        }
        final_loss = epoch_loss / batches_per_epoch as f64;
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let model = model.valid();
    let test_accuracy = model.accuracy(test, device)?;
    Ok((
        model,
        ClassifierReport {
            test_accuracy,
            train_seconds,
            steps,
            final_loss,
            train_images: train.n,
        },
    ))
}

/// The content of a classifier's `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMeta {
    pub format: String,
    pub version: u32,
    pub config: ClassifierConfig,
    /// Accuracy on the MNIST test set at the end of training.
    pub test_accuracy: f64,
    /// Training images used.
    pub train_images: usize,
    /// Wall-clock seconds of training.
    pub train_seconds: f64,
    /// The command line that produced the classifier.
    pub command: String,
    /// SHA-256 of `model.bpk`, checked on load (absent in older folders).
    #[serde(default, skip_serializing_if = "FileDigests::is_empty")]
    pub sha256: FileDigests,
}

impl ClassifierMeta {
    /// Metadata of a classifier trained with `config` that achieved `report`.
    pub fn new(config: &ClassifierConfig, report: &ClassifierReport, command: &str) -> Self {
        Self {
            format: CLASSIFIER_FORMAT.to_string(),
            version: CLASSIFIER_VERSION,
            config: config.clone(),
            test_accuracy: report.test_accuracy,
            train_images: report.train_images,
            train_seconds: report.train_seconds,
            command: command.to_string(),
            sha256: FileDigests::new(),
        }
    }
}

fn io_error(path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Core(CoreError::io(path, e))
}

/// Writes `model.bpk` and `meta.json` into the folder `dir`, replacing it atomically: the
/// files are assembled in a sibling `.NAME.partial` folder that is then renamed to `dir`.
pub fn save_classifier(dir: &Path, model: &Classifier, meta: &ClassifierMeta) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| TrainError::checkpoint(dir, "not a folder name"))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    fs::create_dir_all(&parent).map_err(|e| io_error(&parent, e))?;
    let partial = parent.join(format!(".{name}.partial"));
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
    }
    fs::create_dir(&partial).map_err(|e| io_error(&partial, e))?;
    let model_path = partial.join(CLASSIFIER_MODEL_FILE);
    model
        .valid()
        .into_record()
        .save(&model_path)
        .map_err(|e| TrainError::checkpoint(&model_path, e.to_string()))?;
    let mut meta = meta.clone();
    meta.sha256
        .insert(CLASSIFIER_MODEL_FILE.to_string(), file_sha256(&model_path)?);
    let meta_path = partial.join(CLASSIFIER_META_FILE);
    let text = serde_json::to_string_pretty(&meta).expect("meta serialises");
    fs::write(&meta_path, text + "\n").map_err(|e| io_error(&meta_path, e))?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    fs::rename(&partial, dir).map_err(|e| io_error(dir, e))?;
    Ok(())
}

/// Parses and checks the text of a classifier's `meta.json`; `path` names it in errors.
pub fn parse_classifier_meta(text: &str, path: &Path) -> Result<ClassifierMeta> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| TrainError::checkpoint(path, format!("not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(CLASSIFIER_FORMAT) {
        return Err(TrainError::checkpoint(
            path,
            format!("not a scorelab classifier (\"format\" is not \"{CLASSIFIER_FORMAT}\")"),
        ));
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == CLASSIFIER_VERSION as u64 => {}
        Some(v) => {
            return Err(TrainError::checkpoint(
                path,
                format!(
                    "format version {v} is not supported (this build reads version {CLASSIFIER_VERSION})"
                ),
            ))
        }
        None => return Err(TrainError::checkpoint(path, "missing field `version`")),
    }
    let meta: ClassifierMeta = serde_json::from_value(value)
        .map_err(|e| TrainError::checkpoint(path, format!("invalid metadata: {e}")))?;
    meta.config
        .validate()
        .map_err(|e| TrainError::checkpoint(path, format!("invalid metadata: {e}")))?;
    Ok(meta)
}

/// Loads a classifier folder written by [`save_classifier`].
pub fn load_classifier(dir: &Path, device: &Device) -> Result<(Classifier, ClassifierMeta)> {
    if !dir.is_dir() {
        return Err(TrainError::checkpoint(dir, "no such classifier folder"));
    }
    let meta_path = dir.join(CLASSIFIER_META_FILE);
    let text = fs::read_to_string(&meta_path)
        .map_err(|e| TrainError::checkpoint(&meta_path, format!("cannot read: {e}")))?;
    let meta = parse_classifier_meta(&text, &meta_path)?;
    let model_path = dir.join(CLASSIFIER_MODEL_FILE);
    if !model_path.exists() {
        return Err(TrainError::checkpoint(&model_path, "file is missing"));
    }
    let record = ModuleRecord::load(&model_path).map_err(|e| {
        TrainError::checkpoint(&model_path, format!("unreadable or truncated: {e}"))
    })?;
    // a damaged file that still parses is caught by its digest
    verify(dir, CLASSIFIER_MODEL_FILE, &meta.sha256)?;
    let model = Classifier::init(0, device)
        .try_load_record(record)
        .map_err(|e| {
            TrainError::checkpoint(
                &model_path,
                format!(
                    "does not match the classifier architecture: {}",
                    first_mismatch(&e.to_string())
                ),
            )
        })?;
    Ok((model, meta))
}

//! The MNIST classifier: the committed checkpoint's accuracy, short reproducible training runs,
//! save/load round trips and damaged folders.

use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use scorelab_core::datasets::{load_mnist, MnistSplit};
use scorelab_core::device::to_vec;
use scorelab_core::Dataset;
use scorelab_train::classifier::{parameter_count, CLASSES, FEATURES};
use scorelab_train::{
    load_classifier, save_classifier, train_classifier, Classifier, ClassifierConfig,
    ClassifierMeta, ClassifierProgress, ClassifierReport, TrainError,
};

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn repo() -> PathBuf {
    manifest_dir().join("../..")
}

fn mnist(split: MnistSplit) -> Dataset {
    load_mnist(&repo().join("datasets/mnist"), split).expect("the shipped MNIST files load")
}

fn cpu() -> Device {
    Device::flex()
}

#[test]
fn committed_checkpoint_reaches_its_accuracy() {
    let device = cpu();
    let (model, meta) = load_classifier(&repo().join("checkpoints/mnist-classifier"), &device)
        .expect("the committed classifier loads");
    assert_eq!(meta.format, "scorelab-classifier");
    assert_eq!(meta.version, 1);
    let test = mnist(MnistSplit::Test);
    assert_eq!(test.n, 10_000);
    let accuracy = model.accuracy(&test, &device).unwrap();
    assert!(accuracy >= 0.985, "test accuracy {accuracy}");
    // the recorded accuracy is the one measured here (up to backend rounding)
    assert!(
        (accuracy - meta.test_accuracy).abs() <= 0.0005,
        "{accuracy} vs {meta:?}"
    );
    assert!(parameter_count(&model) < 500_000);
}

/// A short run on 600 training images (3 epochs of 10 steps).
fn short_run(
    seed: u64,
    train: &Dataset,
    test: &Dataset,
) -> (Classifier, ClassifierReport, Vec<f64>) {
    let config = ClassifierConfig {
        epochs: 3,
        batch_size: 60,
        lr: 3e-3,
        seed,
    };
    let mut losses = Vec::new();
    let (model, report) = train_classifier(
        &config,
        train,
        test,
        &cpu(),
        &mut |p: &ClassifierProgress| losses.push(p.loss),
    )
    .unwrap();
    (model, report, losses)
}

#[test]
fn short_training_learns_and_is_reproducible() {
    let device = cpu();
    let train = mnist(MnistSplit::Train).subset(600, 1);
    let test = mnist(MnistSplit::Test).subset(1000, 2);
    let (model, report, losses) = short_run(5, &train, &test);
    assert_eq!(losses.len(), 30);
    assert_eq!(report.steps, 30);
    assert_eq!(report.train_images, 600);
    let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
    let last: f64 = losses[27..].iter().sum::<f64>() / 3.0;
    // cross-entropy starts near ln 10 ≈ 2.3
    assert!(first > 1.5 && last < 0.6 * first, "{first} → {last}");
    // chance is 10%
    assert!(report.test_accuracy > 0.6, "{report:?}");

    let (again, report_again, losses_again) = short_run(5, &train, &test);
    assert_eq!(losses, losses_again);
    assert_eq!(report.test_accuracy, report_again.test_accuracy);
    let images = test.to_tensor(&device);
    let logits = to_vec(model.logits(images.clone()));
    assert_eq!(logits, to_vec(again.logits(images.clone())));

    let (other, _, losses_other) = short_run(6, &train, &test);
    assert_ne!(losses, losses_other);
    assert_ne!(logits, to_vec(other.logits(images)));
}

#[test]
fn outputs_have_the_documented_shapes_and_chunking_changes_nothing() {
    let device = cpu();
    let model = Classifier::init(3, &device);
    let test = mnist(MnistSplit::Test).subset(1200, 3);
    let images = test.to_tensor(&device);
    let logits = model.logits(images.clone());
    assert_eq!(logits.dims(), [1200, CLASSES]);
    assert_eq!(model.features(images.clone()).dims(), [1200, FEATURES]);
    let predictions = model.predict(&images);
    assert_eq!(predictions.len(), 1200);
    assert!(predictions.iter().all(|&p| p < CLASSES));
    // rows 1100.. lie in the last chunk; the same rows alone give the same logits
    let tail = model.logits(images.narrow(0, 1100, 100));
    let all = to_vec(logits.narrow(0, 1100, 100));
    for (a, b) in all.iter().zip(to_vec(tail)) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
    }
    // features are ReLU activations
    let features = to_vec(model.features(Tensor::zeros([2, 784], &device)));
    assert!(features.iter().all(|&f| f >= 0.0));
}

fn sample_meta() -> ClassifierMeta {
    let config = ClassifierConfig::default();
    let report = ClassifierReport {
        test_accuracy: 0.5,
        train_seconds: 1.0,
        steps: 10,
        final_loss: 1.0,
        train_images: 100,
    };
    ClassifierMeta::new(&config, &report, "scorelab train-classifier --test")
}

#[test]
fn save_then_load_gives_identical_logits() {
    let device = cpu();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clf");
    let model = Classifier::init(9, &device);
    let meta = sample_meta();
    save_classifier(&path, &model, &meta).unwrap();
    // saving again replaces the folder; no partial folder remains
    save_classifier(&path, &model, &meta).unwrap();
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["clf".to_string()]);
    let (loaded, mut loaded_meta) = load_classifier(&path, &device).unwrap();
    // the digest of model.bpk is recorded on saving
    let digest = loaded_meta.sha256.remove("model.bpk").unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(loaded_meta, meta);
    let images = mnist(MnistSplit::Test).subset(64, 4).to_tensor(&device);
    assert_eq!(
        to_vec(model.logits(images.clone())),
        to_vec(loaded.logits(images))
    );
}

/// The error of loading `dir`, which must name `file`.
fn load_error(dir: &Path, file: &str) -> String {
    let err = match load_classifier(dir, &cpu()) {
        Ok(_) => panic!("{} loaded although damaged", dir.display()),
        Err(e) => e,
    };
    assert!(matches!(err, TrainError::Checkpoint { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(file), "{message} does not name {file}");
    message
}

#[test]
fn damaged_folders_are_errors_naming_the_file() {
    let device = cpu();
    let root = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let path = root.path().join(name);
        save_classifier(&path, &Classifier::init(1, &device), &sample_meta()).unwrap();
        path
    };

    load_error(&root.path().join("nowhere"), "nowhere");

    let dir = fresh("no-model");
    fs::remove_file(dir.join("model.bpk")).unwrap();
    assert!(load_error(&dir, "model.bpk").contains("missing"));

    let dir = fresh("truncated-model");
    let bytes = fs::read(dir.join("model.bpk")).unwrap();
    fs::write(dir.join("model.bpk"), &bytes[..bytes.len() / 3]).unwrap();
    load_error(&dir, "model.bpk");

    // one flipped bit in the last weight still parses; its digest does not match
    let dir = fresh("bitflip-model");
    let mut bytes = fs::read(dir.join("model.bpk")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(dir.join("model.bpk"), bytes).unwrap();
    assert!(load_error(&dir, "model.bpk").contains("SHA-256"));

    let dir = fresh("garbage-model");
    fs::write(dir.join("model.bpk"), b"not a burnpack file").unwrap();
    load_error(&dir, "model.bpk");

    let dir = fresh("no-meta");
    fs::remove_file(dir.join("meta.json")).unwrap();
    load_error(&dir, "meta.json");

    let dir = fresh("garbled-meta");
    fs::write(dir.join("meta.json"), "{ \"format\": \"scorelab-clas").unwrap();
    assert!(load_error(&dir, "meta.json").contains("JSON"));

    let dir = fresh("wrong-version");
    let text = fs::read_to_string(dir.join("meta.json")).unwrap();
    fs::write(
        dir.join("meta.json"),
        text.replace("\"version\": 1", "\"version\": 2"),
    )
    .unwrap();
    assert!(load_error(&dir, "meta.json").contains("version 2"));

    let dir = fresh("wrong-format");
    let text = fs::read_to_string(dir.join("meta.json")).unwrap();
    fs::write(
        dir.join("meta.json"),
        text.replace("scorelab-classifier", "scorelab-checkpoint"),
    )
    .unwrap();
    load_error(&dir, "meta.json");

    let dir = fresh("bad-config");
    let text = fs::read_to_string(dir.join("meta.json")).unwrap();
    fs::write(
        dir.join("meta.json"),
        text.replace("\"epochs\": 8", "\"epochs\": 0"),
    )
    .unwrap();
    load_error(&dir, "meta.json");
}

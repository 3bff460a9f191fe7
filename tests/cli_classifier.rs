//! End-to-end tests of `scorelab train-classifier`.

use std::fs;

mod common;

use common::{manifest_dir, scorelab, stderr};

/// The MNIST files shipped with the sources.
fn mnist() -> String {
    manifest_dir()
        .join("datasets/mnist")
        .to_string_lossy()
        .into_owned()
}

/// The accuracy printed as `test accuracy 12.34%`.
fn printed_accuracy(stdout: &str) -> f64 {
    let rest = stdout
        .split("test accuracy ")
        .nth(1)
        .unwrap_or_else(|| panic!("no accuracy in {stdout:?}"));
    rest.split('%').next().unwrap().parse().unwrap()
}

#[test]
fn trains_a_small_classifier_and_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clf");
    let mnist = mnist();
    let args = [
        "train-classifier",
        "--mnist-dir",
        &mnist,
        "--n-train",
        "1000",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--seed",
        "4",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = scorelab(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let accuracy = printed_accuracy(&stdout);
    // 20 steps on 1,000 images: far above chance (10%), far below a trained model
    assert!(accuracy > 40.0, "{stdout}");
    assert!(stdout.contains("on 10000 test images"), "{stdout}");
    assert!(out.join("model.bpk").is_file());
    let meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["format"], "scorelab-classifier");
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["config"]["epochs"], 1);
    assert_eq!(meta["config"]["batch_size"], 50);
    assert_eq!(meta["config"]["seed"], 4);
    assert_eq!(meta["train_images"], 1000);
    let saved = meta["test_accuracy"].as_f64().unwrap();
    assert!(
        (100.0 * saved - accuracy).abs() < 0.006,
        "{saved} vs {accuracy}"
    );
    assert!(meta["command"]
        .as_str()
        .unwrap()
        .starts_with("scorelab train-classifier"));
    // no partial folder is left behind
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("clf")]);

    // an existing classifier is kept unless --force
    let again = scorelab(&args);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clf");
    let out = out.to_str().unwrap();
    for (flags, message) in [
        (vec!["--epochs", "0"], "epochs"),
        (vec!["--lr", "0"], "lr"),
        (vec!["--device", "tpu"], "device"),
        (vec!["--n-train", "0"], "n-train"),
        (vec!["--batch-size", "many"], "batch-size"),
    ] {
        let mnist = mnist();
        let mut args = vec!["train-classifier", "--mnist-dir", &mnist, "--out", out];
        args.extend(flags.iter().copied());
        let output = scorelab(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flags:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{flags:?}: {}",
            stderr(&output)
        );
    }
    assert!(!dir.path().join("clf").exists());
}

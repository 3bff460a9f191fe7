//! The checkpoints shipped under checkpoints/ load and sample right after cloning, and each
//! records the command that made it.

mod common;

use std::fs;

use common::{scorelab, stderr};

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

#[test]
fn every_shipped_checkpoint_samples_and_names_its_command() {
    let root = manifest_dir().join("checkpoints");
    let mut score_checkpoints = 0;
    for entry in fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let meta: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
        match meta["format"].as_str() {
            Some("scorelab-checkpoint") => {
                let commands = meta["commands"].as_array().expect("commands recorded");
                assert!(
                    commands[0].as_str().unwrap().starts_with("scorelab train "),
                    "{}: {commands:?}",
                    dir.display()
                );
                let out = tempfile::tempdir().unwrap();
                let output = scorelab(&[
                    "sample",
                    "--score",
                    "checkpoint",
                    "--checkpoint",
                    dir.to_str().unwrap(),
                    "--n",
                    "4",
                    "--steps",
                    "5",
                    "--out",
                    out.path().to_str().unwrap(),
                    "--force",
                ]);
                assert!(
                    output.status.success(),
                    "{}: {}",
                    dir.display(),
                    stderr(&output)
                );
                assert!(out.path().join("samples.npy").exists());
                score_checkpoints += 1;
            }
            Some("scorelab-classifier") => {
                assert!(meta["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("scorelab train-classifier"));
            }
            other => panic!("{}: unknown format {other:?}", dir.display()),
        }
    }
    assert!(score_checkpoints >= 1);
}

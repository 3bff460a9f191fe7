//! The checkpoints shipped under checkpoints/ load and sample right after cloning, and each
//! records the command that made it.

mod common;

use std::fs;

use common::{manifest_dir, scorelab, stderr};

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

//! Runs every row of docs/errors.md: the command, its exit code, and its one-line message.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{flip_last_bit, manifest_dir, scorelab, stderr};

/// One row of the catalogue table.
struct Row {
    situation: String,
    command: String,
    exit: i32,
    fragment: String,
}

fn catalogue() -> Vec<Row> {
    let path = manifest_dir().join("docs/errors.md");
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "malformed row: {l}");
            Row {
                situation: cells[0].to_string(),
                command: cells[1].trim_matches('`').to_string(),
                exit: cells[2].parse().unwrap(),
                fragment: cells[3].to_string(),
            }
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8], path: &Path) {
    let mut encoder =
        flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap();
}

fn edit_meta(ckpt: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = ckpt.join("meta.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    fs::write(path, value.to_string()).unwrap();
}

/// The damaged files the catalogue refers to.
fn fixtures(dir: &Path) {
    fs::write(dir.join("malformed.csv"), "0.1,0.2\n0.3,0.4\n0.5,abc\n").unwrap();
    fs::write(dir.join("nan.csv"), "0.1,0.2\nnan,0.4\n").unwrap();
    fs::write(dir.join("ragged.csv"), "0.1,0.2\n0.3,0.4\n0.5,0.6,0.7\n").unwrap();
    fs::write(dir.join("huge.csv"), "0.1,0.2\n1e300,0\n").unwrap();
    fs::write(dir.join("unknown-key.toml"), "stepz = 3\n").unwrap();
    fs::write(dir.join("train-only.toml"), "lr = 0.1\n").unwrap();
    fs::write(dir.join("force.toml"), "force = true\n").unwrap();
    fs::write(dir.join("garbled.toml"), "steps = = 3\n").unwrap();
    fs::write(dir.join("wrong-type.toml"), "steps = \"three\"\n").unwrap();
    fs::write(dir.join("a-file"), "not a folder").unwrap();
    fs::write(dir.join("three-d.csv"), "0.1,0.2,0.3\n0.3,0.4,0.5\n").unwrap();
    fs::write(
        dir.join("two-d.csv"),
        "0.1,0.2\n0.3,0.4\n0.5,0.6\n0.7,0.8\n",
    )
    .unwrap();
    fs::write(dir.join("header-only.csv"), "a,b\n").unwrap();
    fs::write(dir.join("garbage.npy"), "this is not an array").unwrap();
    fs::create_dir(dir.join("occupied")).unwrap();
    fs::write(dir.join("occupied/keep.txt"), "earlier work").unwrap();

    // MNIST test split copies with a damaged labels file
    let mnist = manifest_dir().join("datasets/mnist");
    let images = "t10k-images-idx3-ubyte.gz";
    let labels = "t10k-labels-idx1-ubyte.gz";
    fs::create_dir(dir.join("mnist-empty")).unwrap();
    let raw = gunzip(&mnist.join(labels));
    type Damage<'a> = Box<dyn Fn(&Path) + 'a>;
    let variants: [(&str, Damage); 3] = [
        (
            "mnist-truncated",
            Box::new(|p: &Path| {
                let gz = fs::read(mnist.join(labels)).unwrap();
                fs::write(p, &gz[..gz.len() / 2]).unwrap();
            }),
        ),
        (
            "mnist-magic",
            Box::new(|p: &Path| {
                let mut bytes = raw.clone();
                bytes[3] = 0x07;
                gzip(&bytes, p);
            }),
        ),
        (
            "mnist-checksum",
            Box::new(|p: &Path| {
                let mut bytes = raw.clone();
                let last = bytes.len() - 1;
                bytes[last] = (bytes[last] + 1) % 10;
                gzip(&bytes, p);
            }),
        ),
    ];
    for (name, damage) in variants {
        let folder = dir.join(name);
        fs::create_dir(&folder).unwrap();
        fs::copy(mnist.join(images), folder.join(images)).unwrap();
        damage(&folder.join(labels));
    }

    // a small trained run and damaged copies of its checkpoint
    let run = dir.join("run");
    let small = "train --n-train 100 --width 16 --depth 1 --embedding 4 --batch-size 8 --steps 2";
    let mut args: Vec<&str> = small.split_whitespace().collect();
    args.extend(["--out", run.to_str().unwrap()]);
    let output = scorelab(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let ckpt = run.join("ckpt-00000002");
    for name in [
        "ckpt",
        "ckpt-no-model",
        "ckpt-no-meta",
        "ckpt-truncated",
        "ckpt-version",
        "ckpt-no-sde",
        "ckpt-garbled",
        "ckpt-dim",
        "ckpt-bitflip",
    ] {
        copy_dir(&ckpt, &dir.join(name));
    }
    fs::remove_file(dir.join("ckpt-no-model/model.bpk")).unwrap();
    fs::remove_file(dir.join("ckpt-no-meta/meta.json")).unwrap();
    let model = fs::read(ckpt.join("model.bpk")).unwrap();
    fs::write(
        dir.join("ckpt-truncated/model.bpk"),
        &model[..model.len() / 3],
    )
    .unwrap();
    // one bit of the last byte (a weight's value) flipped: the record still parses
    flip_last_bit(&dir.join("ckpt-bitflip/model.bpk"));
    edit_meta(&dir.join("ckpt-version"), |m| m["version"] = 99.into());
    edit_meta(&dir.join("ckpt-no-sde"), |m| {
        m.as_object_mut().unwrap().remove("sde");
    });
    fs::write(dir.join("ckpt-garbled/meta.json"), "{ \"format\": ").unwrap();
    edit_meta(&dir.join("ckpt-dim"), |m| {
        m["train"]["model"]["dim"] = 3.into()
    });

    // a run whose learning rate blew the weights up after its first checkpoint
    let diverged = dir.join("diverged");
    let blown =
        "train --n-train 100 --width 16 --batch-size 16 --lr 1e30 --steps 20 --checkpoint-every 1";
    let mut args: Vec<&str> = blown.split_whitespace().collect();
    args.extend(["--out", diverged.to_str().unwrap()]);
    let output = scorelab(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn every_catalogued_error_gives_its_exit_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixtures");
    fs::create_dir(&fixture_dir).unwrap();
    fixtures(&fixture_dir);
    let rows = catalogue();
    assert!(rows.len() >= 50, "the catalogue has {} rows", rows.len());
    for (i, row) in rows.iter().enumerate() {
        let out: PathBuf = dir.path().join(format!("out-{i}"));
        let command = row
            .command
            .replace("{out}", out.to_str().unwrap())
            .replace("{fixtures}", fixture_dir.to_str().unwrap());
        let mut words = command.split_whitespace().peekable();
        let mut env = Vec::new();
        while let Some((key, value)) = words.peek().and_then(|w| w.split_once('=')) {
            if !key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                break;
            }
            env.push((key.to_string(), value.to_string()));
            words.next();
        }
        assert_eq!(words.next(), Some("scorelab"), "{}", row.command);
        let args: Vec<&str> = words.collect();
        let output = Command::new(env!("CARGO_BIN_EXE_scorelab"))
            .args(&args)
            .envs(env)
            .output()
            .unwrap();
        let message = stderr(&output);
        let what = format!("row '{}' ({}): {message}", row.situation, row.command);
        assert_eq!(output.status.code(), Some(row.exit), "{what}");
        assert!(
            !message.contains("panicked") && !message.contains("backtrace"),
            "{what}"
        );
        let errors: Vec<&str> = message
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        let ours: Vec<&&str> = errors
            .iter()
            .filter(|l| !l.contains("XDG_RUNTIME_DIR")) // printed by the system's graphics driver
            .collect();
        assert_eq!(ours.len(), 1, "{what}");
        assert!(ours[0].contains(&row.fragment), "{what}");
        if row.exit == 2 {
            assert!(
                !out.exists(),
                "{what}: a usage error must not write anything"
            );
        }
        // `sample` creates its folder only once the samples exist: a failed run leaves none
        if row.command.starts_with("scorelab sample") {
            assert!(!out.exists(), "{what}: a failed sample run left its folder");
        }
    }
}

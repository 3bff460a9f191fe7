//! Helpers shared by the command-line tests.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the scorelab binary with `args` and collects its output.
pub fn scorelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scorelab"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A JSON file written by a command.
pub fn json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Flips one bit of the last byte of a file (in a burnpack file, part of the last weight): the
/// file still parses, only its digest tells.
pub fn flip_last_bit(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

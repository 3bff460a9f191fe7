//! SHA-256 digests of the weight files of a checkpoint or classifier folder, stored in its
//! `meta.json` when written and checked when loaded, so that a damaged or replaced weights file
//! (a flipped bit still parses as a valid burnpack record) is an error, not a silent change of
//! the model. Folders written before digests were recorded load without the check.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use scorelab_core::CoreError;

use crate::error::{Result, TrainError};

/// File name → lowercase hexadecimal SHA-256 of its bytes.
pub type FileDigests = BTreeMap<String, String>;

/// The SHA-256 of the file at `path`, in lowercase hexadecimal.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| TrainError::Core(CoreError::io(path, e)))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks the file `name` in `dir` against its digest in `digests`, when there is one.
pub fn verify(dir: &Path, name: &str, digests: &FileDigests) -> Result<()> {
    let Some(expected) = digests.get(name) else {
        return Ok(());
    };
    let path = dir.join(name);
    let actual = file_sha256(&path)?;
    if &actual != expected {
        return Err(TrainError::checkpoint(
            &path,
            format!(
                "SHA-256 {actual} differs from the {expected} recorded in meta.json: the file \
                 was damaged or replaced after it was written"
            ),
        ));
    }
    Ok(())
}

/// burn's record-loading error lists every mismatched tensor (seven lines for a changed MLP
/// width); this keeps the first one, in plain words, and counts the rest.
pub fn first_mismatch(message: &str) -> String {
    let items: Vec<&str> = message
        .split('"')
        .filter(|part| part.contains("mismatch"))
        .collect();
    let Some(first) = items.first() else {
        return message.to_string();
    };
    let plain = first
        .replace("Shape { dims: ", "")
        .replace(" }", "")
        .replace("record has", "the file has");
    match items.len() {
        1 => plain,
        n => format!("{plain} (and {} more tensors)", n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::first_mismatch;

    #[test]
    fn a_list_of_mismatches_becomes_its_first_one() {
        let burn = r#"Record validation error: Apply errors: ["input.weight: shape mismatch, expected Shape { dims: [34, 64] } but record has Shape { dims: [34, 128] }", "input.bias: shape mismatch, expected Shape { dims: [64] } but record has Shape { dims: [128] }"]"#;
        assert_eq!(
            first_mismatch(burn),
            "input.weight: shape mismatch, expected [34, 64] but the file has [34, 128] (and 1 more tensors)"
        );
        assert_eq!(first_mismatch("other trouble"), "other trouble");
    }
}

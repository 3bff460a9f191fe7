//! The warnings of a score's choice on stderr, and the score the flags name.

use burn::tensor::Device;

use scorelab_core::options::{as_flag, spell_options};
use scorelab_jobs::{ScoreOptions, ScoreSource};

use crate::failure::CliResult;

/// Prints a warning on stderr (options named by a library spelled as flags).
pub fn warn(line: &str) {
    eprintln!("warning: {}", spell_options(line, as_flag));
}

/// The score the flags name (`seed`: the default seed of the training-set draw).
pub fn open_source(options: &ScoreOptions, seed: u64, device: &Device) -> CliResult<ScoreSource> {
    Ok(ScoreSource::open(options, seed, device, &mut warn)?)
}

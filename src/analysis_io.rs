//! What the analysis commands share: their device, their output folder (with the default
//! shown in --help), samples files, the head of their reports and the reference classifier.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::{json, Value};

use scorelab_core::datasets::load_points_file;
use scorelab_core::BackendKind;
use scorelab_train::classifier::CLASSIFIER_MODEL_FILE;
use scorelab_train::training_set::shipped_path;
use scorelab_train::{load_classifier, Classifier};

use crate::cli::{ClassifierArgs, OutputArgs, ScoreArgs};
use crate::failure::CliResult;
use crate::output::OutputDir;
use crate::score_source::ScoreSource;

/// The device of an analysis command (`--device`).
pub fn open(output: &OutputArgs) -> CliResult<Device> {
    crate::backend::open_backend(BackendKind::parse(&output.device)?)
}

/// The output folder of `analyze NAME` when --out is not given: `out/NAME` (the training
/// curves: `out/training-curves`).
pub fn default_out(name: &str) -> String {
    match name {
        "training" => "out/training-curves".into(),
        other => format!("out/{other}"),
    }
}

/// The output folder of `analyze NAME`: --out, else [`default_out`].
pub fn out_dir(output: &OutputArgs, name: &str) -> CliResult<OutputDir> {
    let path = output
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_out(name)));
    Ok(OutputDir::create(&path, output.force)?)
}

/// Shows each analysis command's default output folder in its --help.
pub fn with_default_out_help(command: clap::Command) -> clap::Command {
    command.mut_subcommand("analyze", |analyze| {
        analyze.mut_subcommands(|sub| {
            let folder = default_out(sub.get_name());
            sub.mut_arg("out", |arg| {
                arg.help(format!("Output folder [default: {folder}]"))
            })
        })
    })
}

/// Reads samples from .npy ([n, d] or [n, c, h, w], C or Fortran order) or CSV, as rows of
/// length `dim`.
pub fn read_samples(path: &Path) -> CliResult<(Vec<f32>, usize)> {
    let data = load_points_file(path)?;
    Ok((data.points.into_vec(), data.dim))
}

/// The names of written files, for a report's "files" entry.
pub fn file_names(written: &[PathBuf]) -> Vec<String> {
    written
        .iter()
        .filter_map(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .collect()
}

/// The head of a report: the command, the score, its SDE and training set, and the files.
pub fn source_json(
    command: &str,
    args: &ScoreArgs,
    source: &ScoreSource,
    written: &[PathBuf],
) -> Value {
    json!({
        "command": command,
        "score": args.score_name(),
        "checkpoint": args.checkpoint,
        "perturbation": args.perturb,
        "sde": source.sde,
        "training_set": { "spec": source.spec, "seed": source.data_seed, "n": source.data.n },
        "files": file_names(written),
    })
}

/// The default location of the reference classifier.
const SHIPPED_CLASSIFIER: &str = "checkpoints/mnist-classifier";

/// Loads the classifier named by the flag, or the shipped one; None (with a warning) when the
/// flag is not given and the shipped one is absent.
pub fn open_classifier(args: &ClassifierArgs, device: &Device) -> CliResult<Option<Classifier>> {
    match &args.classifier {
        Some(dir) => Ok(Some(load_classifier(dir, device)?.0)),
        None => {
            let dir = shipped_path(Path::new(SHIPPED_CLASSIFIER));
            if dir.join(CLASSIFIER_MODEL_FILE).exists() {
                Ok(Some(load_classifier(&dir, device)?.0))
            } else {
                eprintln!(
                    "warning: no classifier at {}; image quality is not measured (see scorelab train-classifier)",
                    dir.display()
                );
                Ok(None)
            }
        }
    }
}

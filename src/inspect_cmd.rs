//! `scorelab inspect PATH`: what a checkpoint, a run folder or a classifier folder holds, on one
//! screen (model, SDE, data, steps, last logged loss, EMA age, weights digests, commands).

use std::path::Path;

use serde_json::Value;

use scorelab_train::checkpoint::{
    check_checkpoint, list_checkpoints, read_meta, resolve_checkpoint, Meta,
};
use scorelab_train::classifier::{CLASSIFIER_FORMAT, CLASSIFIER_META_FILE, CLASSIFIER_MODEL_FILE};
use scorelab_train::integrity::verify;
use scorelab_train::load_classifier;
use scorelab_train::trainer::LOG_FILE;

use crate::cli::InspectArgs;
use crate::failure::{CliResult, Failure};

/// A JSON value on one line, without the quotes of a plain string.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k} {}", compact(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn row(name: &str, text: impl AsRef<str>) {
    println!("{name:<12}{}", text.as_ref());
}

/// The last line of the run's log.csv with its header, as "name value" pairs.
fn last_logged(run: &Path) -> Option<String> {
    let text = std::fs::read_to_string(run.join(LOG_FILE)).ok()?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let last: Vec<&str> = lines.next_back()?.split(',').collect();
    Some(
        header
            .iter()
            .zip(&last)
            .map(|(h, v)| format!("{h} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn digests(dir: &Path, meta: &Meta) -> String {
    if meta.sha256.is_empty() {
        return "no digests recorded (written before they were)".into();
    }
    meta.sha256
        .keys()
        .map(|name| {
            let state = match verify(dir, name, &meta.sha256) {
                Ok(()) => "ok",
                Err(_) => "DIFFERS",
            };
            format!("{name} {state}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn checkpoint(path: &Path) -> CliResult<()> {
    let resolved = resolve_checkpoint(path, None)?;
    let dir = resolved.dir;
    let run = if dir == path {
        dir.parent()
    } else {
        Some(path)
    };
    let meta = read_meta(&dir)?;
    let value = serde_json::to_value(&meta).expect("meta serialises");
    row("checkpoint", dir.display().to_string());
    if let Some(run) = run {
        let steps: Vec<String> = list_checkpoints(run)
            .unwrap_or_default()
            .iter()
            .map(|(s, d)| match check_checkpoint(d) {
                Ok(()) => s.to_string(),
                Err(_) => format!("{s} (damaged)"),
            })
            .collect();
        if !steps.is_empty() {
            row(
                "run",
                format!("{} (steps {})", run.display(), steps.join(", ")),
            );
        }
        if let Some(log) = last_logged(run) {
            row("last log", log);
        }
    }
    let train = &value["train"];
    row("model", compact(&train["model"]));
    row("output", compact(&train["parameterisation"]));
    row("sde", compact(&value["sde"]));
    row(
        "data",
        format!(
            "{}; n {}, dim {}, seed {}, sha256 {}",
            compact(&value["data"]["spec"]),
            value["data"]["n"],
            value["data"]["dim"],
            value["data"]["seed"],
            value["data"]["sha256"].as_str().unwrap_or("?")
        ),
    );
    row("loss", compact(&train["loss"]));
    row(
        "optimiser",
        format!(
            "adam {}; batch {}",
            compact(&train["adam"]),
            train["batch_size"]
        ),
    );
    row("steps", format!("{} of {}", meta.step, meta.train.steps));
    let decay = meta.train.ema_decay;
    let horizon = 1.0 / (1.0 - decay);
    let age = meta.step as f64 / horizon;
    let mut ema = format!(
        "decay {decay}: {} steps = {age:.1} × its horizon 1/(1 − decay) = {horizon:.0}",
        meta.step
    );
    if age < 3.0 {
        ema.push_str(" (young: the average still remembers the initialisation; try --weights raw)");
    }
    row("ema", ema);
    row("weights", digests(&dir, &meta));
    for (k, command) in meta.commands.iter().enumerate() {
        row(if k == 0 { "commands" } else { "" }, command);
    }
    for (skipped, reason) in &resolved.skipped {
        row("passed over", format!("{} ({reason})", skipped.display()));
    }
    Ok(())
}

fn classifier(path: &Path) -> CliResult<()> {
    let (_, meta) = load_classifier(path, &burn::tensor::Device::flex())?;
    row("classifier", path.display().to_string());
    row(
        "trained",
        format!(
            "{} images, {:.0} s, test accuracy {:.4}",
            meta.train_images, meta.train_seconds, meta.test_accuracy
        ),
    );
    row(
        "config",
        compact(&serde_json::to_value(&meta.config).expect("config serialises")),
    );
    row(
        "weights",
        match meta.sha256.get(CLASSIFIER_MODEL_FILE) {
            Some(_) => format!("{CLASSIFIER_MODEL_FILE} ok (digest checked on load)"),
            None => "no digest recorded".into(),
        },
    );
    row("command", &meta.command);
    Ok(())
}

pub fn run(args: &InspectArgs) -> CliResult<()> {
    let path = &args.path;
    if !path.exists() {
        return Err(Failure::runtime(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    let meta_text = std::fs::read_to_string(path.join(CLASSIFIER_META_FILE)).unwrap_or_default();
    if meta_text.contains(&format!("\"{CLASSIFIER_FORMAT}\"")) {
        classifier(path)
    } else {
        checkpoint(path)
    }
}

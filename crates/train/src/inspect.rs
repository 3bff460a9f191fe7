//! What a checkpoint, a run folder or a classifier folder holds, as named rows for one screen
//! (model, SDE, data, steps, last logged loss, EMA age, weights digests, commands).

use std::path::Path;

use serde_json::Value;

use scorelab_core::CoreError;

use crate::checkpoint::{check_checkpoint, list_checkpoints, read_meta, resolve_checkpoint, Meta};
use crate::classifier::{CLASSIFIER_FORMAT, CLASSIFIER_META_FILE, CLASSIFIER_MODEL_FILE};
use crate::error::Result;
use crate::integrity::verify;
use crate::load_classifier;
use crate::trainer::LOG_FILE;

/// Named rows: (name, text); a continuation row has an empty name.
pub type Rows = Vec<(String, String)>;

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

fn push(rows: &mut Rows, name: &str, text: impl AsRef<str>) {
    rows.push((name.to_string(), text.as_ref().to_string()));
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

/// The run folder's checkpoints (damaged ones marked) and its last logged line.
fn run_rows(run: &Path, rows: &mut Rows) {
    let steps: Vec<String> = list_checkpoints(run)
        .unwrap_or_default()
        .iter()
        .map(|(s, d)| match check_checkpoint(d) {
            Ok(()) => s.to_string(),
            Err(_) => format!("{s} (damaged)"),
        })
        .collect();
    if !steps.is_empty() {
        let text = format!("{} (steps {})", run.display(), steps.join(", "));
        push(rows, "run", text);
    }
    if let Some(log) = last_logged(run) {
        push(rows, "last log", log);
    }
}

fn checkpoint(path: &Path, rows: &mut Rows) -> Result<()> {
    let resolved = resolve_checkpoint(path, None)?;
    let dir = resolved.dir;
    let run = if dir == path {
        dir.parent()
    } else {
        Some(path)
    };
    let meta = read_meta(&dir)?;
    let value = serde_json::to_value(&meta).expect("meta serialises");
    push(rows, "checkpoint", dir.display().to_string());
    if let Some(run) = run {
        run_rows(run, rows);
    }
    let train = &value["train"];
    push(rows, "model", compact(&train["model"]));
    push(rows, "output", compact(&train["parameterisation"]));
    push(rows, "sde", compact(&value["sde"]));
    push(
        rows,
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
    push(rows, "loss", compact(&train["loss"]));
    push(
        rows,
        "optimiser",
        format!(
            "adam {}; batch {}",
            compact(&train["adam"]),
            train["batch_size"]
        ),
    );
    push(
        rows,
        "steps",
        format!("{} of {}", meta.step, meta.train.steps),
    );
    let decay = meta.train.ema_decay;
    let horizon = 1.0 / (1.0 - decay);
    let age = meta.step as f64 / horizon;
    let mut ema = format!(
        "decay {decay}: {} steps = {age:.1} × its horizon 1/(1 − decay) = {horizon:.0}",
        meta.step
    );
    if meta.train.ema_bias_correction {
        ema.push_str(" (bias-corrected: the average of the steps taken, not the initialisation)");
    } else if meta.train.ema_is_young(meta.step) {
        ema.push_str(" (young: the average still remembers the initialisation; try ⟨weights⟩ raw)");
    }
    push(rows, "ema", ema);
    push(rows, "weights", digests(&dir, &meta));
    for (k, command) in meta.commands.iter().enumerate() {
        push(rows, if k == 0 { "commands" } else { "" }, command);
    }
    for (skipped, reason) in &resolved.skipped {
        push(
            rows,
            "passed over",
            format!("{} ({reason})", skipped.display()),
        );
    }
    Ok(())
}

fn classifier(path: &Path, rows: &mut Rows) -> Result<()> {
    let (_, meta) = load_classifier(path, &burn::tensor::Device::flex())?;
    push(rows, "classifier", path.display().to_string());
    push(
        rows,
        "trained",
        format!(
            "{} images, {:.0} s, test accuracy {:.4}",
            meta.train_images, meta.train_seconds, meta.test_accuracy
        ),
    );
    push(
        rows,
        "config",
        compact(&serde_json::to_value(&meta.config).expect("config serialises")),
    );
    push(
        rows,
        "weights",
        match meta.sha256.get(CLASSIFIER_MODEL_FILE) {
            Some(_) => format!("{CLASSIFIER_MODEL_FILE} ok (digest checked on load)"),
            None => "no digest recorded".into(),
        },
    );
    push(rows, "command", &meta.command);
    Ok(())
}

/// What `path` holds: a classifier folder, a checkpoint, or a run folder (its newest valid
/// checkpoint, with the run's steps and last logged loss).
pub fn inspect(path: &Path) -> Result<Rows> {
    if !path.exists() {
        return Err(CoreError::bad_file(path, "no such file or folder").into());
    }
    let mut rows = Rows::new();
    let meta_text = std::fs::read_to_string(path.join(CLASSIFIER_META_FILE)).unwrap_or_default();
    if meta_text.contains(&format!("\"{CLASSIFIER_FORMAT}\"")) {
        classifier(path, &mut rows)?;
    } else {
        checkpoint(path, &mut rows)?;
    }
    Ok(rows)
}

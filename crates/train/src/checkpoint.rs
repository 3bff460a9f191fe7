//! Checkpoints (DESIGN §7): a folder `ckpt-STEP/` holding
//! - `model.bpk`: the EMA weights (what sampling uses), a burnpack record;
//! - `weights.bpk`, `adam-m.bpk`, `adam-v.bpk`: raw weights and Adam moments, for `--resume`;
//! - `meta.json`: format version, model, parameterisation, SDE, data identity and
//!   normalisation, the whole training configuration, the step, and the SHA-256 of each weights
//!   file (checked on load).
//!
//! A checkpoint is assembled in `.ckpt-STEP.partial/` and renamed into place, so a crash never
//! leaves a half-written checkpoint under its final name.

use std::fs;
use std::path::{Path, PathBuf};

use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use scorelab_core::{CoreError, ScoreFn, Sde, Times};

use crate::config::{DataInfo, ModelConfig, TrainConfig};
use crate::error::{Result, TrainError};
use crate::integrity::{file_sha256, first_mismatch, verify, FileDigests};
use crate::mlp::Mlp;
use crate::network::{
    network_score, network_score_and_divergence, network_score_jvp, Marginals, Parameterisation,
    ScoreNetwork,
};
use crate::params::{flatten, replace};
use crate::unet::UNet;

/// Identifies the file format of `meta.json`.
pub const FORMAT: &str = "scorelab-checkpoint";
/// Version of the checkpoint layout written by this build.
pub const VERSION: u32 = 1;

pub const META_FILE: &str = "meta.json";
pub const EMA_FILE: &str = "model.bpk";
pub const WEIGHTS_FILE: &str = "weights.bpk";
pub const ADAM_M_FILE: &str = "adam-m.bpk";
pub const ADAM_V_FILE: &str = "adam-v.bpk";

/// The content of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub format: String,
    pub version: u32,
    /// Optimisation steps taken.
    pub step: u64,
    pub sde: Sde,
    pub data: DataInfo,
    pub train: TrainConfig,
    /// The command lines that made the checkpoint: the one that started the run, then one per
    /// `--resume`. Empty for checkpoints written by library code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// SHA-256 of each weights file, checked on load (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "FileDigests::is_empty")]
    pub sha256: FileDigests,
}

impl Meta {
    pub fn model(&self) -> &ModelConfig {
        &self.train.model
    }

    pub fn parameterisation(&self) -> Parameterisation {
        self.train.parameterisation
    }
}

/// The flat parameter lists a checkpoint stores.
pub struct CheckpointState {
    pub ema: Vec<Tensor<1>>,
    pub weights: Vec<Tensor<1>>,
    pub adam_m: Vec<Tensor<1>>,
    pub adam_v: Vec<Tensor<1>>,
}

/// The folder name of the checkpoint at `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("ckpt-{step:08}")
}

fn io_error(path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Core(CoreError::io(path, e))
}

/// Writes a checkpoint into `run_dir/ckpt-STEP` atomically and prunes all but the newest `keep`.
pub fn write_checkpoint<N: ScoreNetwork>(
    run_dir: &Path,
    meta: &Meta,
    template: &N,
    state: CheckpointState,
) -> Result<PathBuf> {
    fs::create_dir_all(run_dir).map_err(|e| io_error(run_dir, e))?;
    let name = checkpoint_name(meta.step);
    let partial = run_dir.join(format!(".{name}.partial"));
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(|e| io_error(&partial, e))?;
    }
    fs::create_dir(&partial).map_err(|e| io_error(&partial, e))?;
    let template = template.valid();
    let mut meta = meta.clone();
    for (file, values) in [
        (EMA_FILE, state.ema),
        (WEIGHTS_FILE, state.weights),
        (ADAM_M_FILE, state.adam_m),
        (ADAM_V_FILE, state.adam_v),
    ] {
        let path = partial.join(file);
        replace(template.clone(), values)
            .into_record()
            .save(&path)
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        meta.sha256.insert(file.to_string(), file_sha256(&path)?);
    }
    let meta_path = partial.join(META_FILE);
    let text = serde_json::to_string_pretty(&meta).expect("meta serialises");
    fs::write(&meta_path, text).map_err(|e| io_error(&meta_path, e))?;
    let target = run_dir.join(&name);
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| io_error(&target, e))?;
    }
    fs::rename(&partial, &target).map_err(|e| io_error(&target, e))?;
    prune(run_dir, meta.train.keep)?;
    Ok(target)
}

/// The checkpoint folders of a run, oldest first.
pub fn list_checkpoints(run_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = fs::read_dir(run_dir).map_err(|e| io_error(run_dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(step) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ckpt-"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.path().is_dir() {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn prune(run_dir: &Path, keep: usize) -> Result<()> {
    let all = list_checkpoints(run_dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    for (_, path) in &all[..excess] {
        fs::remove_dir_all(path).map_err(|e| io_error(path, e))?;
    }
    Ok(())
}

/// Checks that a checkpoint folder can be used: its `meta.json` parses, `model.bpk` exists and
/// every weights file with a recorded digest matches it.
pub fn check_checkpoint(dir: &Path) -> Result<()> {
    let meta = read_meta(dir)?;
    let model = dir.join(EMA_FILE);
    if !model.exists() {
        return Err(TrainError::checkpoint(&model, "file is missing"));
    }
    for name in meta.sha256.keys() {
        if !dir.join(name).exists() {
            return Err(TrainError::checkpoint(dir.join(name), "file is missing"));
        }
        verify(dir, name, &meta.sha256)?;
    }
    Ok(())
}

/// The checkpoint folder a path names, and the newer checkpoints passed over on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub dir: PathBuf,
    /// Newer checkpoints of the run that could not be used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Resolves a checkpoint folder, or a run folder: its checkpoint at `step` when given, else
/// its newest valid one ([`check_checkpoint`]), passing over damaged or incomplete newer ones.
/// A folder that holds both a checkpoint (`meta.json`) and `ckpt-*` folders is refused.
pub fn resolve_checkpoint(path: &Path, step: Option<u64>) -> Result<Resolved> {
    let flat = path.join(META_FILE).exists();
    if !path.is_dir() {
        return Err(TrainError::checkpoint(
            path,
            "no such folder (expected a checkpoint folder or a training run folder)",
        ));
    }
    let runs = list_checkpoints(path)?;
    if flat && !runs.is_empty() {
        return Err(TrainError::checkpoint(
            path,
            format!(
                "holds both a checkpoint ({META_FILE}) and {} ckpt-* folders; name one of them",
                runs.len()
            ),
        ));
    }
    if flat {
        if let Some(step) = step {
            return Err(TrainError::checkpoint(
                path,
                format!("is a single checkpoint; step {step} can only be chosen in a run folder"),
            ));
        }
        return Ok(Resolved {
            dir: path.to_path_buf(),
            skipped: Vec::new(),
        });
    }
    if runs.is_empty() {
        return Err(TrainError::checkpoint(
            path,
            format!("no {META_FILE} and no ckpt-* folder inside: not a checkpoint"),
        ));
    }
    if let Some(step) = step {
        return match runs.iter().find(|(s, _)| *s == step) {
            Some((_, dir)) => Ok(Resolved {
                dir: dir.clone(),
                skipped: Vec::new(),
            }),
            None => Err(TrainError::checkpoint(
                path,
                format!(
                    "has no checkpoint at step {step} (it has steps {})",
                    runs.iter()
                        .map(|(s, _)| s.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    }
    let mut skipped = Vec::new();
    for (_, dir) in runs.iter().rev() {
        match check_checkpoint(dir) {
            Ok(()) => {
                return Ok(Resolved {
                    dir: dir.clone(),
                    skipped,
                })
            }
            Err(e) => skipped.push((dir.clone(), e.to_string())),
        }
    }
    Err(TrainError::checkpoint(
        path,
        format!(
            "none of its {} checkpoints is usable; the newest: {}",
            runs.len(),
            skipped[0].1
        ),
    ))
}

/// Resolves a checkpoint folder, or a run folder (its newest valid checkpoint).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    Ok(resolve_checkpoint(path, None)?.dir)
}

/// Reads and checks `meta.json` of a checkpoint folder.
pub fn read_meta(dir: &Path) -> Result<Meta> {
    let path = dir.join(META_FILE);
    let text = fs::read_to_string(&path)
        .map_err(|e| TrainError::checkpoint(&path, format!("cannot read: {e}")))?;
    parse_meta(&text, &path)
}

/// Parses and checks the text of a `meta.json`; `path` names it in errors.
pub fn parse_meta(text: &str, path: &Path) -> Result<Meta> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| TrainError::checkpoint(path, format!("not valid JSON: {e}")))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        _ => {
            return Err(TrainError::checkpoint(
                path,
                format!("not a scorelab checkpoint (\"format\" is not \"{FORMAT}\")"),
            ))
        }
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => {
            return Err(TrainError::checkpoint(
                path,
                format!("format version {v} is not supported (this build reads version {VERSION})"),
            ))
        }
        None => return Err(TrainError::checkpoint(path, "missing field `version`")),
    }
    let meta: Meta = serde_json::from_value(value)
        .map_err(|e| TrainError::checkpoint(path, format!("invalid metadata: {e}")))?;
    meta.train
        .validate(&meta.sde)
        .map_err(|e| TrainError::checkpoint(path, format!("invalid metadata: {e}")))?;
    if meta.train.model.dim() == 0 {
        return Err(TrainError::checkpoint(
            path,
            "invalid metadata: zero data dimension",
        ));
    }
    Ok(meta)
}

/// Loads one burnpack record of a checkpoint into a module shaped like `template`, checking the
/// file against its digest in `digests` (the checkpoint's `meta.json`).
pub fn load_module<N: ScoreNetwork>(
    dir: &Path,
    file: &str,
    template: N,
    digests: &FileDigests,
) -> Result<N> {
    let path = dir.join(file);
    if !path.exists() {
        return Err(TrainError::checkpoint(&path, "file is missing"));
    }
    let record = ModuleRecord::load(&path)
        .map_err(|e| TrainError::checkpoint(&path, format!("unreadable or truncated: {e}")))?;
    // a damaged file that still parses is caught by its digest
    verify(dir, file, digests)?;
    template.try_load_record(record).map_err(|e| {
        TrainError::checkpoint(
            &path,
            format!(
                "does not match the model in {META_FILE}: {}",
                first_mismatch(&e.to_string())
            ),
        )
    })
}

/// Loads the flat parameter lists of a checkpoint (for resuming), each file checked against
/// its digest in `meta`.
pub fn load_state<N: ScoreNetwork>(
    dir: &Path,
    template: &N,
    meta: &Meta,
) -> Result<CheckpointState> {
    let load = |file| -> Result<Vec<Tensor<1>>> {
        Ok(flatten(&load_module(
            dir,
            file,
            template.valid(),
            &meta.sha256,
        )?))
    };
    Ok(CheckpointState {
        ema: load(EMA_FILE)?,
        weights: load(WEIGHTS_FILE)?,
        adam_m: load(ADAM_M_FILE)?,
        adam_v: load(ADAM_V_FILE)?,
    })
}

/// A trained network as a [`ScoreFn`] in model space (see [`crate::config::Normalisation`]).
pub struct NetworkScore<N> {
    net: N,
    sde: Sde,
    param: Parameterisation,
    dim: usize,
}

/// Rows per block when computing exact divergences (d tangents per row).
const DIVERGENCE_BLOCK_ELEMENTS: usize = 1 << 16;

impl<N: ScoreNetwork> NetworkScore<N> {
    /// Wraps a network (its autodiff state is dropped).
    pub fn new(net: N, sde: Sde, param: Parameterisation) -> Self {
        let net = net.valid();
        let dim = net.dim();
        Self {
            net,
            sde,
            param,
            dim,
        }
    }

    pub fn network(&self) -> &N {
        &self.net
    }

    pub fn parameterisation(&self) -> Parameterisation {
        self.param
    }
}

impl<N: ScoreNetwork> ScoreFn for NetworkScore<N> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn sde(&self) -> &Sde {
        &self.sde
    }

    fn score(&self, x: Tensor<2>, t: &Times) -> Tensor<2> {
        let [rows, _] = x.dims();
        let m = Marginals::new(&self.sde, &t.per_row(rows), &x.device());
        network_score(&self.net, self.param, x, &m)
    }

    fn score_and_divergence(&self, x: Tensor<2>, t: &Times) -> (Tensor<2>, Tensor<1>) {
        let [rows, d] = x.dims();
        let block = (DIVERGENCE_BLOCK_ELEMENTS / d.max(1)).max(1);
        let mut scores = Vec::new();
        let mut divs = Vec::new();
        let mut start = 0;
        while start < rows {
            let len = block.min(rows - start);
            let xs = x.clone().narrow(0, start, len);
            let m = Marginals::new(&self.sde, &t.slice(start, len).per_row(len), &x.device());
            let (s, div) = network_score_and_divergence(&self.net, self.param, xs, &m);
            scores.push(s);
            divs.push(div);
            start += len;
        }
        (Tensor::cat(scores, 0), Tensor::cat(divs, 0))
    }

    fn score_and_divergence_estimate(
        &self,
        x: Tensor<2>,
        t: &Times,
        probes: &Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>) {
        let [rows, _] = x.dims();
        let [probe_rows, _] = probes.dims();
        let k = probe_rows / rows.max(1);
        let m = Marginals::new(&self.sde, &t.per_row(rows), &x.device());
        let (s, js) = network_score_jvp(&self.net, self.param, x, &m, probes.clone());
        // v_kᵀ (∂s/∂x) v_k for every block and row, averaged over the K blocks
        let quadratic = (js * probes.clone()).sum_dim(1).reshape([k, rows]);
        (s, quadratic.mean_dim(0).reshape([rows]))
    }
}

/// The EMA network of a checkpoint (or of a run's newest checkpoint) as a score function.
pub fn load_score(path: &Path, device: &Device) -> Result<(Box<dyn ScoreFn>, Meta)> {
    load_score_weights(path, EMA_FILE, device)
}

/// The network of a checkpoint with the weights in `file` ([`EMA_FILE`] or [`WEIGHTS_FILE`]).
pub fn load_score_weights(
    path: &Path,
    file: &str,
    device: &Device,
) -> Result<(Box<dyn ScoreFn>, Meta)> {
    let dir = resolve(path)?;
    let meta = read_meta(&dir)?;
    let (sde, param) = (meta.sde.clone(), meta.parameterisation());
    let score: Box<dyn ScoreFn> = match meta.model() {
        ModelConfig::Mlp(config) => {
            let template: Mlp = config.init(0, device)?;
            let net = load_module(&dir, file, template, &meta.sha256)?;
            Box::new(NetworkScore::new(net, sde, param))
        }
        ModelConfig::Unet(config) => {
            let template: UNet = config.init(0, device)?;
            let net = load_module(&dir, file, template, &meta.sha256)?;
            Box::new(NetworkScore::new(net, sde, param))
        }
    };
    Ok((score, meta))
}

//! Output folders and summary tables: a folder is refused if it exists unless forced, and
//! every file is written to a temporary name first and renamed, so no half-written file ever
//! has the final name; a summary table gets one row per run under a fixed header.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{CoreError, Result};

fn write_error(action: &'static str, path: &Path, source: std::io::Error) -> CoreError {
    CoreError::Write {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The list of files a command wrote into its output folder, kept in the folder, so that
/// `--force` can remove what an earlier run wrote (and nothing else).
pub const MANIFEST: &str = ".scorelab-outputs";

/// A folder that receives a command's outputs.
pub struct OutputDir {
    path: PathBuf,
    written: std::cell::RefCell<Vec<String>>,
}

impl OutputDir {
    /// Checks that `path` may receive outputs without creating it: an existing non-empty
    /// folder is refused unless `force`.
    pub fn check(path: &Path, force: bool) -> Result<()> {
        if path.exists() {
            if !path.is_dir() {
                return Err(CoreError::OutputRefused(format!(
                    "output path {} exists and is not a folder",
                    path.display()
                )));
            }
            let non_empty = std::fs::read_dir(path)
                .map_err(|e| CoreError::io(path, e))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(CoreError::OutputOccupied(path.to_path_buf()));
            }
        }
        Ok(())
    }

    /// Creates `path`; an existing non-empty folder is refused unless `force`, and with
    /// `force` the files an earlier run listed in its manifest are removed first (other files
    /// in the folder are left alone).
    pub fn create(path: &Path, force: bool) -> Result<Self> {
        Self::check(path, force)?;
        let manifest = path.join(MANIFEST);
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            for name in text.lines().filter(|n| is_plain_name(n)) {
                let stale = path.join(name);
                if stale.is_file() {
                    std::fs::remove_file(&stale).map_err(|e| write_error("remove", &stale, e))?;
                }
            }
            let _ = std::fs::remove_file(&manifest);
        }
        std::fs::create_dir_all(path).map_err(|e| write_error("create output folder", path, e))?;
        Ok(OutputDir {
            path: path.to_path_buf(),
            written: Default::default(),
        })
    }

    /// The full path of a file in this folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `bytes` to `name` atomically (temporary file + rename).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let target = self.file(name);
        let temp = self.file(&format!(".{name}.partial"));
        let fail = |e: std::io::Error| write_error("write", &target, e);
        std::fs::write(&temp, bytes).map_err(fail)?;
        std::fs::rename(&temp, &target).map_err(fail)?;
        self.record(name)?;
        Ok(target)
    }

    /// Adds `name` to the folder's manifest of written files.
    fn record(&self, name: &str) -> Result<()> {
        let mut written = self.written.borrow_mut();
        if !written.iter().any(|n| n == name) {
            written.push(name.to_string());
        }
        let manifest = self.file(MANIFEST);
        std::fs::write(&manifest, written.join("\n") + "\n")
            .map_err(|e| write_error("write", &manifest, e))
    }

    /// Writes a value as pretty JSON.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<PathBuf> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| write_error("serialise", Path::new(name), std::io::Error::other(e)))?;
        self.write(name, format!("{text}\n").as_bytes())
    }

    /// Writes an f32 array of the given shape as a NumPy .npy file.
    pub fn write_npy(&self, name: &str, shape: &[u64], values: &[f32]) -> Result<PathBuf> {
        let bytes = crate::datasets::encode_npy(shape, values)
            .map_err(|e| write_error("encode", Path::new(name), e))?;
        self.write(name, &bytes)
    }

    /// Writes points as CSV with a header x0,x1,...
    pub fn write_csv(&self, name: &str, values: &[f32], dim: usize) -> Result<PathBuf> {
        let mut text: String = (0..dim)
            .map(|j| format!("x{j}"))
            .collect::<Vec<_>>()
            .join(",");
        text.push('\n');
        for row in values.chunks(dim) {
            let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            text.push_str(&line.join(","));
            text.push('\n');
        }
        self.write(name, text.as_bytes())
    }
}

/// The names of written files, for a report's "files" entry.
pub fn file_names(written: &[PathBuf]) -> Vec<String> {
    written
        .iter()
        .filter_map(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .collect()
}

/// A CSV table that several runs append one row each to (an experiment's summary table).
pub struct SummaryTable {
    path: PathBuf,
    header: String,
}

impl SummaryTable {
    /// Checks, before any work, that `path` is either absent or a table with this `header`.
    pub fn open(path: &Path, columns: &[&str]) -> Result<Self> {
        let header = columns.join(",");
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| write_error("read", path, e))?;
            if text.lines().next() != Some(header.as_str()) {
                return Err(CoreError::OutputRefused(format!(
                    "table {} exists with other columns than {header}; choose another file",
                    path.display()
                )));
            }
        }
        Ok(SummaryTable {
            path: path.to_path_buf(),
            header,
        })
    }

    /// Appends one row (the header first when the file is new). Cells must not contain
    /// commas or line breaks.
    pub fn append(&self, cells: &[String]) -> Result<()> {
        use std::io::Write;
        let fail = |e: std::io::Error| write_error("write", &self.path, e);
        let new = !self.path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        let mut text = String::new();
        if new {
            text.push_str(&self.header);
            text.push('\n');
        }
        text.push_str(&cells.join(","));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(fail)
    }
}

/// Rewrites the per-step CSV table at `path` (created if absent) as `header` followed by its
/// rows whose first field, the step, is at most `step`: what a run resumed at `step` keeps of
/// a log that went further than its last checkpoint. Written atomically.
pub fn keep_rows_up_to(path: &Path, header: &str, step: u64) -> Result<()> {
    let io = |e| CoreError::io(path, e);
    let mut kept = vec![header.to_string()];
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(io)?;
        kept.extend(
            text.lines()
                .skip(1)
                .filter(|line| {
                    line.split(',')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_some_and(|s| s <= step)
                })
                .map(str::to_string),
        );
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&partial, kept.join("\n") + "\n").map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

/// A file name without folders or parent references (what a manifest may list).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

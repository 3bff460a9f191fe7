//! The output folder: refused if it exists unless --force, and every file written to a
//! temporary name first and renamed, so no half-written file ever has the final name.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::TableArgs;
use crate::failure::{CliResult, Failure};

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
    pub fn check(path: &Path, force: bool) -> CliResult<()> {
        if path.exists() {
            if !path.is_dir() {
                return Err(Failure::usage(format!(
                    "output path {} exists and is not a folder",
                    path.display()
                )));
            }
            let non_empty = std::fs::read_dir(path)
                .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?
                .next()
                .is_some();
            if non_empty && !force {
                return Err(Failure::usage(format!(
                    "output folder {} exists; pass --force to overwrite its files",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Creates `path`; an existing non-empty folder is refused unless `force`, and with
    /// `force` the files an earlier run listed in its manifest are removed first (other files
    /// in the folder are left alone).
    pub fn create(path: &Path, force: bool) -> CliResult<Self> {
        Self::check(path, force)?;
        let manifest = path.join(MANIFEST);
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            for name in text.lines().filter(|n| is_plain_name(n)) {
                let stale = path.join(name);
                if stale.is_file() {
                    std::fs::remove_file(&stale).map_err(|e| {
                        Failure::runtime(format!("cannot remove {}: {e}", stale.display()))
                    })?;
                }
            }
            let _ = std::fs::remove_file(&manifest);
        }
        std::fs::create_dir_all(path).map_err(|e| {
            Failure::runtime(format!(
                "cannot create output folder {}: {e}",
                path.display()
            ))
        })?;
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
    pub fn write(&self, name: &str, bytes: &[u8]) -> CliResult<PathBuf> {
        let target = self.file(name);
        let temp = self.file(&format!(".{name}.partial"));
        let fail =
            |e: std::io::Error| Failure::runtime(format!("cannot write {}: {e}", target.display()));
        std::fs::write(&temp, bytes).map_err(fail)?;
        std::fs::rename(&temp, &target).map_err(fail)?;
        self.record(name)?;
        Ok(target)
    }

    /// Adds `name` to the folder's manifest of written files.
    fn record(&self, name: &str) -> CliResult<()> {
        let mut written = self.written.borrow_mut();
        if !written.iter().any(|n| n == name) {
            written.push(name.to_string());
        }
        let manifest = self.file(MANIFEST);
        std::fs::write(&manifest, written.join("\n") + "\n")
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", manifest.display())))
    }

    /// Writes a value as pretty JSON.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> CliResult<PathBuf> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Failure::runtime(format!("cannot serialise {name}: {e}")))?;
        self.write(name, format!("{text}\n").as_bytes())
    }

    /// Writes an f32 array of the given shape as a NumPy .npy file.
    pub fn write_npy(&self, name: &str, shape: &[u64], values: &[f32]) -> CliResult<PathBuf> {
        let bytes = scorelab_core::datasets::encode_npy(shape, values)
            .map_err(|e| Failure::runtime(format!("cannot encode {name}: {e}")))?;
        self.write(name, &bytes)
    }

    /// Writes points as CSV with a header x0,x1,...
    pub fn write_csv(&self, name: &str, values: &[f32], dim: usize) -> CliResult<PathBuf> {
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

/// A CSV table that several runs append one row each to (an experiment's summary table).
pub struct SummaryTable {
    path: PathBuf,
    header: String,
}

impl SummaryTable {
    /// Checks, before any work, that `path` is either absent or a table with this `header`.
    pub fn open(path: &Path, columns: &[&str]) -> CliResult<Self> {
        let header = columns.join(",");
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", path.display())))?;
            if text.lines().next() != Some(header.as_str()) {
                return Err(Failure::usage(format!(
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

    /// The table of a command's `--table FILE --label NAME` flags (both or neither), with the
    /// label checked; None when they are absent.
    pub fn from_flags<'a>(
        flags: &'a TableArgs,
        columns: &[&str],
    ) -> CliResult<Option<(Self, &'a str)>> {
        match (&flags.table, &flags.label) {
            (Some(path), Some(label)) => {
                validate_label(label)?;
                Ok(Some((Self::open(path, columns)?, label.as_str())))
            }
            (None, None) => Ok(None),
            _ => Err(Failure::usage("--table and --label go together")),
        }
    }

    /// Appends one row (the header first when the file is new). Cells must not contain
    /// commas or line breaks.
    pub fn append(&self, cells: &[String]) -> CliResult<()> {
        use std::io::Write;
        let fail = |e: std::io::Error| {
            Failure::runtime(format!("cannot write {}: {e}", self.path.display()))
        };
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

/// Refuses a table label that would break its CSV row.
fn validate_label(label: &str) -> CliResult<()> {
    if label.is_empty() || label.contains([',', '\n', '\r', '"']) {
        return Err(Failure::usage(format!(
            "invalid --label {label:?}: must be non-empty, without commas, quotes or line breaks"
        )));
    }
    Ok(())
}

/// A file name without folders or parent references (what a manifest may list).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != ".."
}

//! The `--table FILE --label NAME` flags of the analysis commands over the library's
//! summary table (`scorelab_core::output`).

pub use scorelab_core::output::{OutputDir, SummaryTable};

use crate::cli::TableArgs;
use crate::failure::{CliResult, Failure};

/// The table of a command's `--table FILE --label NAME` flags (both or neither), with the
/// label checked; None when they are absent.
pub fn table_from_flags<'a>(
    flags: &'a TableArgs,
    columns: &[&str],
) -> CliResult<Option<(SummaryTable, &'a str)>> {
    match (&flags.table, &flags.label) {
        (Some(path), Some(label)) => {
            validate_label(label)?;
            Ok(Some((SummaryTable::open(path, columns)?, label.as_str())))
        }
        (None, None) => Ok(None),
        _ => Err(Failure::usage("--table and --label go together")),
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

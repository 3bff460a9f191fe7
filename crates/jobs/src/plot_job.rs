//! `scorelab plot` as a library call: columns of a CSV table (an experiment's summary table)
//! drawn as curves against one of them, written atomically as a PNG.

use std::path::PathBuf;

use scorelab_analysis::plot::{curves_png, Axes, Series};
use scorelab_core::CoreError;

use crate::error::{JobError, Result};

/// Which columns of which table, and where the picture goes.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotJob {
    /// A CSV file with a header line.
    pub csv: PathBuf,
    /// The abscissa's column, and the drawn columns (comma-separated).
    pub x: String,
    pub y: String,
    pub log_x: bool,
    pub log_y: bool,
    pub title: String,
    /// The PNG file to write.
    pub out: PathBuf,
}

/// The numeric columns of a CSV file with a header, by name.
fn read_columns(args: &PlotJob, names: &[&str]) -> Result<Vec<Vec<f64>>> {
    let path = &args.csv;
    let fail = |reason: String| JobError::from(CoreError::bad_file(path, reason));
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| fail("empty file".into()))?
        .split(',')
        .map(str::trim)
        .collect();
    let indices: Vec<usize> = names
        .iter()
        .map(|name| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                JobError::options(format!(
                    "{}: no column '{name}' (columns: {})",
                    path.display(),
                    header.join(", ")
                ))
            })
        })
        .collect::<Result<_>>()?;
    let mut columns = vec![Vec::new(); names.len()];
    for (k, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        for (column, &i) in columns.iter_mut().zip(&indices) {
            let value = fields
                .get(i)
                .and_then(|f| f.trim().parse::<f64>().ok())
                .ok_or_else(|| fail(format!("line {}: column {} is not a number", k + 2, i + 1)))?;
            column.push(value);
        }
    }
    Ok(columns)
}

impl PlotJob {
    /// Reads the columns, draws them and writes the PNG (through a temporary file).
    pub fn run(&self) -> Result<()> {
        let args = self;
        if !args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        {
            return Err(JobError::options(format!(
                "plot writes PNG images: give an --out ending in .png, not {}",
                args.out.display()
            )));
        }
        let ys: Vec<&str> = args.y.split(',').map(str::trim).collect();
        let names: Vec<&str> = std::iter::once(args.x.as_str())
            .chain(ys.iter().copied())
            .collect();
        let columns = read_columns(args, &names)?;
        if columns[0].is_empty() {
            return Err(JobError::failed(format!(
                "{}: the columns {} are empty (the file has a header and no rows)",
                args.csv.display(),
                names.join(", ")
            )));
        }
        let series: Vec<Series> = ys
            .iter()
            .zip(&columns[1..])
            .map(|(label, values)| Series { label, values })
            .collect();
        let png = curves_png(
            &args.title,
            &args.x,
            if ys.len() == 1 { ys[0] } else { "value" },
            &columns[0],
            &series,
            Axes {
                log_x: args.log_x,
                log_y: args.log_y,
            },
        )?;
        let temp = args.out.with_extension("png.partial");
        let fail = |e: std::io::Error| {
            JobError::failed(format!("cannot write {}: {e}", args.out.display()))
        };
        std::fs::write(&temp, png).map_err(fail)?;
        std::fs::rename(&temp, &args.out).map_err(fail)?;
        Ok(())
    }
}

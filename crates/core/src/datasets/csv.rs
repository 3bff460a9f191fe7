//! Points from a CSV file: one point per line, d comma-separated numbers; blank lines and lines
//! starting with '#' are skipped, and a first line that is not numeric is taken as a header.

use std::path::Path;

use super::Dataset;
use crate::error::{CoreError, Result};

/// Loads a CSV of points; errors name the file and the line.
pub fn load_csv(path: &Path) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::io(path, e))?;
    parse_csv(&text, path)
}

/// Parses CSV text of points; `path` names the source in errors.
pub fn parse_csv(text: &str, path: &Path) -> Result<Dataset> {
    let mut points = Vec::new();
    let mut dim: Option<usize> = None;
    let mut first_content = true;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: std::result::Result<Vec<f64>, _> =
            fields.iter().map(|f| f.parse::<f64>()).collect();
        let row = match parsed {
            Ok(row) => row,
            Err(_) if first_content && fields.iter().all(|f| f.parse::<f64>().is_err()) => {
                first_content = false;
                continue; // header
            }
            Err(_) => {
                let bad = fields
                    .iter()
                    .find(|f| f.parse::<f64>().is_err())
                    .unwrap_or(&"");
                return Err(CoreError::bad_file(
                    path,
                    format!("line {line_no}: '{bad}' is not a number"),
                ));
            }
        };
        first_content = false;
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(CoreError::bad_file(
                path,
                format!("line {line_no}: non-finite value {v}"),
            ));
        }
        // points are stored as f32: a finite f64 beyond its range would become infinite
        if let Some(v) = row.iter().find(|v| !(**v as f32).is_finite()) {
            return Err(CoreError::bad_file(
                path,
                format!("line {line_no}: {v:e} is outside the float32 range (±3.4e38)"),
            ));
        }
        match dim {
            None => dim = Some(row.len()),
            Some(d) if d != row.len() => {
                return Err(CoreError::bad_file(
                    path,
                    format!(
                        "line {line_no}: {} columns, earlier lines have {d}",
                        row.len()
                    ),
                ))
            }
            Some(_) => {}
        }
        points.extend(row.iter().map(|&v| v as f32));
    }
    let dim = dim.ok_or_else(|| CoreError::bad_file(path, "no data rows"))?;
    Ok(Dataset::from_points(
        format!("csv:{}", path.display()),
        points,
        dim,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the csv fuzz target: 2e300 is a finite f64 but not a finite f32.
    #[test]
    fn values_beyond_the_f32_range_are_rejected() {
        let err = parse_csv("\0\0x,\n0.2e301\n", Path::new("fuzz.csv")).expect_err("out of range");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("float32 range"), "{err}");
    }

    fn write(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("points.csv");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_points_with_header_comments_and_blank_lines() {
        let (_dir, path) = write("x,y\n# a comment\n1,2\n\n3.5, -4\n");
        let data = load_csv(&path).unwrap();
        assert_eq!((data.n, data.dim), (2, 2));
        assert_eq!(data.points, vec![1.0, 2.0, 3.5, -4.0]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("1,2\n3,oops\n", "line 2: 'oops' is not a number"),
            ("1,2\n3,4,5\n", "line 2: 3 columns, earlier lines have 2"),
            ("1,2\nNaN,1\n", "line 2: non-finite value NaN"),
            ("x,y\n", "no data rows"),
        ];
        for (content, expected) in cases {
            let (_dir, path) = write(content);
            let message = load_csv(&path).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        }
    }
}

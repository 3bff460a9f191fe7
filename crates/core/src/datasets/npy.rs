//! Points from a `.npy` file: float32 or float64, shape [N, d], [N, C, H, W] (images) or any
//! [N, ...] (rows of the product of the trailing sizes), in C
//! or Fortran order. A Fortran-order array stores its first index fastest; it is reordered to
//! the row-major layout of [`Dataset`], so both orders give the same points.
//!
//! [`open_npy`] maps a little-endian float32 C-order file into memory instead of reading it
//! (its rows are then read from disk as they are used, [`super::points`]); other files are
//! read and converted.

use std::io::Seek;
use std::path::Path;

use super::points::{MappedValues, Points, STREAM_CHUNK_ROWS};
use super::Dataset;
use crate::error::{CoreError, Result};

/// Opens a `.npy` file of points: memory-mapped where it holds little-endian float32 values
/// in C order, else read into memory as [`load_npy`] does. Every value is checked finite
/// (for a mapped file in one chunked pass that keeps little resident).
pub fn open_npy(path: &Path) -> Result<Dataset> {
    let fail = |reason: String| CoreError::bad_file(path, reason);
    let mut file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let header = match npyz::NpyHeader::from_reader(&mut file) {
        Ok(header) => header,
        Err(e) => return Err(fail(format!("not a .npy file: {e}"))),
    };
    let offset = file.stream_position().map_err(|e| CoreError::io(path, e))? as usize;
    let npy = npyz::NpyFile::with_header(header, std::io::empty());
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    let little_f32 = matches!(npy.dtype(), npyz::DType::Plain(t)
        if t.type_char() == npyz::TypeChar::Float
            && t.size_field() == 4
            && t.endianness() == npyz::Endianness::Little);
    let mappable = little_f32
        && npy.order() == npyz::Order::C
        && shape.len() >= 2
        && !shape.contains(&0)
        && cfg!(target_endian = "little");
    if !mappable {
        return load_npy(path);
    }
    let dim: usize = shape[1..].iter().product();
    let Some(mapped) = MappedValues::open(path, offset, shape[0] * dim)? else {
        return load_npy(path);
    };
    let points = Points::Mapped(mapped);
    points.for_each_chunk(dim, STREAM_CHUNK_ROWS, |start, rows| {
        match rows.iter().position(|v| !v.is_finite()) {
            Some(k) => Err(fail(format!(
                "row {} has a non-finite value",
                start + k / dim
            ))),
            None => Ok(()),
        }
    })?;
    Ok(npy_dataset(points, &shape))
}

/// The dataset of an array of `shape` ([N, d] or [N, C, H, W] images, or any [N, ...]).
fn npy_dataset(points: Points, shape: &[usize]) -> Dataset {
    let dim: usize = shape[1..].iter().product();
    let mut data = Dataset::from_points("npy", Vec::new(), dim);
    data.points = points;
    data.n = shape[0];
    if let [_, c, h, w] = shape[..] {
        data.image_shape = Some([c, h, w]);
    }
    data
}

/// Row-major (C-order) values of an array stored in Fortran order with `shape`.
pub fn fortran_to_c_order(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let total: usize = shape.iter().product();
    let mut out = vec![0.0f32; total];
    // C strides: the last index fastest; F strides: the first index fastest
    let mut c_strides = vec![1usize; shape.len()];
    for k in (0..shape.len().saturating_sub(1)).rev() {
        c_strides[k] = c_strides[k + 1] * shape[k + 1];
    }
    let mut index = vec![0usize; shape.len()];
    for &value in values.iter().take(total) {
        let c: usize = index.iter().zip(&c_strides).map(|(i, s)| i * s).sum();
        out[c] = value;
        // advance the Fortran-order multi-index
        for (k, i) in index.iter_mut().enumerate() {
            *i += 1;
            if *i < shape[k] {
                break;
            }
            *i = 0;
        }
    }
    out
}

/// Parses the bytes of a `.npy` file of points; `path` names the source in errors.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<Dataset> {
    let fail = |reason: String| CoreError::bad_file(path, reason);
    let npy = npyz::NpyFile::new(bytes).map_err(|e| fail(format!("not a .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
    if shape.len() < 2 || shape.contains(&0) {
        return Err(fail(format!(
            "expected an array of shape [n, d] or [n, c, h, w] with n >= 1, got {shape:?}"
        )));
    }
    let fortran = npy.order() == npyz::Order::Fortran;
    let values: Vec<f32> = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            npy.into_vec::<f64>()
                .map_err(|e| fail(e.to_string()))?
                .into_iter()
                .map(|v| v as f32)
                .collect()
        }
        _ => npy
            .into_vec::<f32>()
            .map_err(|e| fail(format!("expected float32 or float64 values: {e}")))?,
    };
    let values = if fortran {
        fortran_to_c_order(&values, &shape)
    } else {
        values
    };
    let dim: usize = shape[1..].iter().product();
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(fail(format!("row {} has a non-finite value", k / dim)));
    }
    Ok(npy_dataset(values.into(), &shape))
}

/// The bytes of a `.npy` file (format 1.0, little-endian float32, C order) of `values` with
/// `shape`.
pub fn encode_npy(shape: &[u64], values: &[f32]) -> std::io::Result<Vec<u8>> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut bytes)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    Ok(bytes)
}

/// Loads a `.npy` file of points; errors name the file.
pub fn load_npy(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_npy(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::fortran_to_c_order;

    #[test]
    fn fortran_order_is_transposed_to_rows() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column
        let f = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        assert_eq!(
            fortran_to_c_order(&f, &[2, 3]),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        // a [2, 1, 1, 2] array: element (i, 0, 0, j) at i + 2 j in Fortran order
        let f = [1.0, 3.0, 2.0, 4.0];
        assert_eq!(
            fortran_to_c_order(&f, &[2, 1, 1, 2]),
            vec![1.0, 2.0, 3.0, 4.0]
        );
    }
}

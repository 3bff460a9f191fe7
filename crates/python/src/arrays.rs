//! numpy arrays ↔ row-major float32 matrices and burn tensors.

use burn::tensor::{Device, Tensor};
use numpy::ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::PyUntypedArrayMethods;
use numpy::{AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayLikeDyn};
use pyo3::prelude::*;

use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::Times;

use crate::errors::value_error;

/// A batch of points, one per row (images flattened to rows).
pub struct Rows {
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// The shape of one row before flattening ([d], or [C, H, W] for images).
    pub row_shape: Vec<usize>,
}

impl Rows {
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        tensor_from_rows(&self.values, self.rows, self.cols, device)
    }
}

/// Reads `obj` (any array-like of numbers, shape (n, d) or (n, C, H, W)) as float32 rows;
/// `name` is the argument's name in the error.
pub fn rows(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Rows> {
    let array: PyArrayLikeDyn<'_, f32, AllowTypeChange> = obj
        .extract()
        .map_err(|_| value_error(format!("{name} must be an array of numbers")))?;
    let shape = array.shape().to_vec();
    if shape.len() < 2 {
        return Err(value_error(format!(
            "{name} must have shape (n, d) (or (n, C, H, W) for images), got shape {}",
            shape_text(&shape)
        )));
    }
    let values: Vec<f32> = array.as_array().iter().copied().collect();
    Ok(Rows {
        values,
        rows: shape[0],
        cols: shape[1..].iter().product(),
        row_shape: shape[1..].to_vec(),
    })
}

/// Optional rows: `None` stays `None`.
pub fn optional_rows(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Rows>> {
    obj.map(|o| rows(o, name)).transpose()
}

/// The times of a batch of `rows`: a number (one time for every row) or an array of one time
/// per row.
pub fn times(obj: &Bound<'_, PyAny>, rows: usize) -> PyResult<Times> {
    if let Ok(t) = obj.extract::<f64>() {
        return Ok(Times::Same(t));
    }
    let array: PyArrayLikeDyn<'_, f64, AllowTypeChange> = obj
        .extract()
        .map_err(|_| value_error("t must be a number or an array of numbers"))?;
    let shape = array.shape().to_vec();
    if shape.len() != 1 || shape[0] != rows {
        return Err(value_error(format!(
            "t must be a number or have one time per row, shape ({rows},), got shape {}",
            shape_text(&shape)
        )));
    }
    Ok(Times::Each(array.as_array().iter().copied().collect()))
}

/// A Python-style shape, "(3, 2)".
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A float32 matrix of `rows` rows as a numpy array of shape (rows, cols).
pub fn matrix(
    py: Python<'_>,
    values: Vec<f32>,
    rows: usize,
    cols: usize,
) -> Bound<'_, PyArray2<f32>> {
    Array2::from_shape_vec((rows, cols), values)
        .expect("rows × cols values")
        .into_pyarray(py)
}

/// A tensor [rows, cols] as a numpy array.
pub fn tensor_matrix(py: Python<'_>, tensor: Tensor<2>) -> Bound<'_, PyArray2<f32>> {
    let [rows, cols] = tensor.dims();
    matrix(py, to_vec(tensor), rows, cols)
}

/// A vector as a 1-D numpy array.
pub fn vector<T: numpy::Element>(py: Python<'_>, values: Vec<T>) -> Bound<'_, PyArray1<T>> {
    Array1::from(values).into_pyarray(py)
}

/// `rows` points of shape `row_shape` each as a numpy array of shape (rows, *row_shape).
pub fn batch<'py>(
    py: Python<'py>,
    values: Vec<f32>,
    rows: usize,
    row_shape: &[usize],
) -> Bound<'py, PyArrayDyn<f32>> {
    let mut shape = vec![rows];
    shape.extend_from_slice(row_shape);
    ArrayD::from_shape_vec(IxDyn(&shape), values)
        .expect("rows × row_shape values")
        .into_pyarray(py)
}

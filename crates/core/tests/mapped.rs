//! Training sets mapped from `.npy` files: read where they lie, in chunks, with the same
//! results as the same points in memory.

use std::io::Write;
use std::path::Path;

use burn::tensor::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use scorelab_core::datasets::{load_npy, open_npy, Points};
use scorelab_core::device::{tensor_from_rows, to_vec};
use scorelab_core::nearest::{k_nearest, k_nearest_in};
use scorelab_core::{DatasetSpec, EmpiricalScore, ScoreFn, Sde, Times};

/// Writes a version-1.0 `.npy` file of little-endian values of type `descr` ('<f4', '<f8').
fn write_npy(path: &Path, descr: &str, shape: &[usize], fortran: bool, payload: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_text}, }}",
        if fortran { "True" } else { "False" }
    );
    // magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(b"\x93NUMPY\x01\x00").unwrap();
    file.write_all(&(header.len() as u16).to_le_bytes())
        .unwrap();
    file.write_all(header.as_bytes()).unwrap();
    file.write_all(payload).unwrap();
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn random_rows(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

#[test]
fn a_float32_file_is_mapped_and_reads_as_the_loaded_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.npy");
    let values = random_rows(300, 5, 1);
    write_npy(&path, "<f4", &[300, 5], false, &f32_bytes(&values));
    let mapped = open_npy(&path).unwrap();
    assert!(mapped.points.is_mapped());
    assert_eq!((mapped.n, mapped.dim), (300, 5));
    assert_eq!(mapped.points, values);
    assert_eq!(mapped, load_npy(&path).unwrap());
    // the spec of --dataset csv --data-file maps it too
    let spec = DatasetSpec::Csv { path: path.clone() };
    assert!(spec.load(0).unwrap().points.is_mapped());

    // images keep their shape
    let images = dir.path().join("images.npy");
    write_npy(
        &images,
        "<f4",
        &[4, 1, 2, 3],
        false,
        &f32_bytes(&values[..24]),
    );
    let data = open_npy(&images).unwrap();
    assert_eq!(data.image_shape, Some([1, 2, 3]));
    assert_eq!(data.points.len(), 24);
}

#[test]
fn other_layouts_are_read_into_memory_with_the_same_points() {
    let dir = tempfile::tempdir().unwrap();
    let values = random_rows(7, 3, 2);
    // float64
    let path = dir.path().join("f64.npy");
    let bytes: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as f64).to_le_bytes())
        .collect();
    write_npy(&path, "<f8", &[7, 3], false, &bytes);
    let data = open_npy(&path).unwrap();
    assert!(!data.points.is_mapped());
    assert_eq!(data.points, values);
    // Fortran order: column by column
    let path = dir.path().join("fortran.npy");
    let columns: Vec<f32> = (0..3)
        .flat_map(|j| (0..7).map(move |i| (i, j)))
        .map(|(i, j)| values[i * 3 + j])
        .collect();
    write_npy(&path, "<f4", &[7, 3], true, &f32_bytes(&columns));
    let data = open_npy(&path).unwrap();
    assert!(!data.points.is_mapped());
    assert_eq!(data.points, values);
}

#[test]
fn damaged_mapped_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut values = random_rows(50, 4, 3);
    // truncated: the header promises more values than the file holds
    let path = dir.path().join("short.npy");
    write_npy(&path, "<f4", &[60, 4], false, &f32_bytes(&values));
    let err = open_npy(&path).unwrap_err().to_string();
    assert!(err.contains("short.npy") && err.contains("bytes"), "{err}");
    // a NaN in row 37
    values[37 * 4 + 2] = f32::NAN;
    let path = dir.path().join("nan.npy");
    write_npy(&path, "<f4", &[50, 4], false, &f32_bytes(&values));
    let err = open_npy(&path).unwrap_err().to_string();
    assert!(
        err.contains("row 37") && err.contains("non-finite"),
        "{err}"
    );
    // not a .npy file at all
    let path = dir.path().join("text.npy");
    std::fs::write(&path, "1,2\n3,4\n").unwrap();
    let err = open_npy(&path).unwrap_err().to_string();
    assert!(err.contains("not a .npy file"), "{err}");
}

#[test]
fn chunked_passes_visit_every_row_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.npy");
    let values = random_rows(1000, 3, 4);
    write_npy(&path, "<f4", &[1000, 3], false, &f32_bytes(&values));
    let data = open_npy(&path).unwrap();
    let mut seen = Vec::new();
    let mut starts = Vec::new();
    data.points
        .for_each_chunk(3, 128, |start, rows| {
            starts.push(start);
            seen.extend_from_slice(rows);
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(starts, (0..1000).step_by(128).collect::<Vec<_>>());
    assert_eq!(seen, values);
    // the values are still readable after their pages were released
    assert_eq!(data.points, values);
}

#[test]
fn nearest_neighbours_of_a_mapped_set_over_several_chunks_match_the_tensor_path() {
    // d = 16 reads 8,192 reference rows per chunk: 20,000 rows take three passes
    let (n, d, m) = (20_000, 16, 300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("references.npy");
    let references = random_rows(n, d, 5);
    write_npy(&path, "<f4", &[n, d], false, &f32_bytes(&references));
    let mapped = open_npy(&path).unwrap();
    assert!(mapped.points.is_mapped());
    let device = Device::flex();
    let queries = tensor_from_rows(&random_rows(m, d, 6), m, d, &device);
    let streamed = k_nearest_in(&queries, &mapped.points, 3);
    let resident = k_nearest(&queries, &tensor_from_rows(&references, n, d, &device), 3);
    assert_eq!(streamed, resident);
    // and against an exhaustive f64 search for a few queries
    let host = to_vec(queries.clone());
    for (q, best) in streamed.iter().enumerate().take(20) {
        let mut all: Vec<(f64, usize)> = (0..n)
            .map(|j| {
                let d2 = (0..d)
                    .map(|k| (host[q * d + k] as f64 - references[j * d + k] as f64).powi(2))
                    .sum();
                (d2, j)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let indices: Vec<usize> = best.iter().map(|b| b.1).collect();
        assert_eq!(indices, all[..3].iter().map(|b| b.1).collect::<Vec<_>>());
    }
}

#[test]
fn the_streamed_empirical_score_equals_the_resident_one() {
    let (n, d) = (1000, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.npy");
    let values = random_rows(n, d, 7);
    write_npy(&path, "<f4", &[n, d], false, &f32_bytes(&values));
    let mapped = open_npy(&path).unwrap();
    let device = Device::flex();
    let sde = Sde::vp(0.1, 20.0, 1.0).unwrap();
    let (shift, scale) = (0.25f32, 0.5f32);
    // 1,000 rows in chunks of 96: eleven passes per evaluation
    let streamed = EmpiricalScore::from_points(
        &mapped.points,
        d,
        sde.clone(),
        (shift, scale),
        64,
        96,
        &device,
    )
    .unwrap();
    assert!(streamed.is_streamed());
    let model: Vec<f32> = values.iter().map(|v| (v - shift) / scale).collect();
    let resident =
        EmpiricalScore::with_chunks(tensor_from_rows(&model, n, d, &device), sde, 64, 96).unwrap();
    let in_memory = EmpiricalScore::from_points(
        &Points::from(values.clone()),
        d,
        resident.sde().clone(),
        (shift, scale),
        64,
        96,
        &device,
    )
    .unwrap();
    assert!(!in_memory.is_streamed());
    let x = tensor_from_rows(&random_rows(150, d, 8), 150, d, &device);
    for t in [0.02, 0.3, 0.9] {
        let times = Times::Same(t);
        let (s1, div1) = streamed.score_and_divergence(x.clone(), &times);
        let (s2, div2) = resident.score_and_divergence(x.clone(), &times);
        assert_eq!(to_vec(s1), to_vec(s2.clone()), "t = {t}");
        assert_eq!(to_vec(div1), to_vec(div2));
        assert_eq!(to_vec(in_memory.score(x.clone(), &times)), to_vec(s2));
    }
}

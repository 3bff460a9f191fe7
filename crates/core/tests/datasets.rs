//! Datasets: MNIST against its published facts and corrupted copies; seeded draws.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use scorelab_core::datasets::{load_mnist, MnistSplit, MNIST_FILES};
use scorelab_core::{Dataset, DatasetSpec, Gmm};

/// The package folder: from cargo at run time (a build directory reused by a checkout in
/// another place keeps the folder it was compiled in), else the one compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn mnist_dir() -> PathBuf {
    manifest_dir().join("../../datasets/mnist")
}

fn label_counts(data: &Dataset) -> Vec<usize> {
    let mut counts = vec![0; 10];
    for &l in data.labels.as_ref().unwrap() {
        counts[l as usize] += 1;
    }
    counts
}

#[test]
fn mnist_counts_and_labels_match_the_published_facts() {
    let train = load_mnist(&mnist_dir(), MnistSplit::Train).unwrap();
    assert_eq!(
        (train.n, train.dim, train.image_shape),
        (60_000, 784, Some([1, 28, 28]))
    );
    assert_eq!(
        &train.labels.as_ref().unwrap()[..10],
        &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    );
    assert_eq!(
        label_counts(&train),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert!(train.points.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert_eq!(train.points.iter().cloned().fold(0.0f32, f32::max), 1.0);
    let test = load_mnist(&mnist_dir(), MnistSplit::Test).unwrap();
    assert_eq!(test.n, 10_000);
    assert_eq!(
        label_counts(&test),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}

#[test]
fn mnist_subset_is_seeded() {
    let spec = |_seed: u64| DatasetSpec::Mnist {
        dir: mnist_dir(),
        split: MnistSplit::Test,
        n: Some(50),
        part: None,
    };
    let a = spec(1).load(1).unwrap();
    let b = spec(1).load(1).unwrap();
    let c = spec(2).load(2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.points, c.points);
    assert_eq!((a.n, a.labels.as_ref().unwrap().len()), (50, 50));
}

/// A copy of the test split in a temporary folder, with `edit` applied to the decompressed
/// image file before it is gzipped again.
fn corrupted_copy(edit: impl Fn(&mut Vec<u8>)) -> tempfile::TempDir {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    for (name, _) in &MNIST_FILES[2..] {
        std::fs::copy(mnist_dir().join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().join(MNIST_FILES[2].0);
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    edit(&mut bytes);
    let mut encoder = GzEncoder::new(std::fs::File::create(&path).unwrap(), Compression::fast());
    encoder.write_all(&bytes).unwrap();
    encoder.finish().unwrap();
    dir
}

fn error_of(dir: &Path) -> String {
    load_mnist(dir, MnistSplit::Test).unwrap_err().to_string()
}

#[test]
fn corrupted_mnist_files_give_clear_errors() {
    let flipped = corrupted_copy(|b| b[1000] ^= 0xff);
    let message = error_of(flipped.path());
    assert!(
        message.contains("t10k-images-idx3-ubyte.gz") && message.contains("SHA-256"),
        "{message}"
    );

    let magic = corrupted_copy(|b| b[3] = 0x01);
    let message = error_of(magic.path());
    assert!(
        message.contains("wrong magic number 0x00000801, expected 0x00000803"),
        "{message}"
    );

    let short = corrupted_copy(|b| b.truncate(5000));
    let message = error_of(short.path());
    assert!(message.contains("does not match the header"), "{message}");

    let tiny = corrupted_copy(|b| b.truncate(10));
    let message = error_of(tiny.path());
    assert!(message.contains("truncated"), "{message}");

    // A truncated .gz file (not re-compressed) is not valid gzip.
    let cut = corrupted_copy(|_| {});
    let path = cut.path().join(MNIST_FILES[2].0);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let message = error_of(cut.path());
    assert!(message.contains("not a valid gzip file"), "{message}");

    let missing = tempfile::tempdir().unwrap();
    let message = error_of(missing.path());
    assert!(message.contains("t10k-images-idx3-ubyte.gz"), "{message}");
}

#[test]
fn point_datasets_are_seeded_and_sized() {
    let specs = [
        DatasetSpec::Swissroll { n: 37, noise: 0.1 },
        DatasetSpec::Lemniscate { n: 37, noise: 0.0 },
        DatasetSpec::Gmm {
            n: 37,
            gmm: Gmm::default_ring(),
        },
    ];
    for spec in specs {
        let a = spec.load(3).unwrap();
        assert_eq!((a.n, a.dim, a.points.len()), (37, 2, 74));
        assert_eq!(a, spec.load(3).unwrap());
        assert_ne!(a.points, spec.load(4).unwrap().points);
    }
    let lemniscate = DatasetSpec::Lemniscate { n: 100, noise: 0.0 }
        .load(0)
        .unwrap();
    for p in lemniscate.points.chunks(2) {
        let (x, y) = (p[0] as f64, p[1] as f64);
        assert!(((x * x + y * y).powi(2) - (x * x - y * y)).abs() < 1e-6);
    }
    let circle = DatasetSpec::Circle { k: 9 }.load(0).unwrap();
    assert_eq!(circle.n, 9);
    assert!(circle
        .points
        .chunks(2)
        .all(|p| ((p[0] * p[0] + p[1] * p[1]) - 1.0).abs() < 1e-6));
    let diracs = DatasetSpec::Diracs {
        points: vec![vec![-1.0, 0.0], vec![1.0, 0.0]],
    }
    .load(0)
    .unwrap();
    assert_eq!(diracs.points, vec![-1.0, 0.0, 1.0, 0.0]);
    assert!(DatasetSpec::Diracs {
        points: vec![vec![1.0], vec![1.0, 2.0]]
    }
    .load(0)
    .is_err());
    assert!(DatasetSpec::Swissroll { n: 0, noise: 0.0 }.load(0).is_err());
    assert!(DatasetSpec::Swissroll { n: 5, noise: -1.0 }
        .load(0)
        .is_err());
}

#[test]
fn max_pairwise_distance_is_exact_on_small_sets() {
    let data = Dataset::from_points("t", vec![0.0, 0.0, 3.0, 4.0, 1.0, 1.0], 2);
    assert_eq!(data.max_pairwise_distance(100), 5.0);
}

/// Parts i/k with one seed are disjoint and together hold every image once.
#[test]
fn mnist_parts_are_disjoint_halves() {
    let part = |i: usize| DatasetSpec::Mnist {
        dir: mnist_dir(),
        split: MnistSplit::Test,
        n: None,
        part: Some((i, 2)),
    };
    let (a, b) = (part(1).load(4).unwrap(), part(2).load(4).unwrap());
    assert_eq!(a.n + b.n, 10_000);
    let rows = |d: &scorelab_core::Dataset| -> std::collections::HashSet<Vec<u32>> {
        (0..d.n)
            .map(|i| d.row(i).iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    let (ra, rb) = (rows(&a), rows(&b));
    // MNIST holds a few duplicated images, so compare counts of distinct rows
    assert!(ra.intersection(&rb).count() <= 5);
    let bad = DatasetSpec::Mnist {
        dir: mnist_dir(),
        split: MnistSplit::Test,
        n: None,
        part: Some((3, 2)),
    };
    assert!(bad.load(0).is_err());
}

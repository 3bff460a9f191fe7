//! MNIST from the original gzip-compressed IDX files, verified by magic number, sizes and the
//! SHA-256 of the decompressed content.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Dataset;
use crate::error::{CoreError, Result};

/// The four files with the SHA-256 of their decompressed bytes.
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// The training (60,000) or test (10,000) split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MnistSplit {
    Train,
    Test,
}

impl MnistSplit {
    /// Parses `train` or `test`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "train" => Ok(MnistSplit::Train),
            "test" => Ok(MnistSplit::Test),
            other => Err(CoreError::UnknownName {
                kind: "split",
                name: other.into(),
                expected: "train, test".into(),
            }),
        }
    }

    fn files(
        self,
    ) -> (
        (&'static str, &'static str),
        (&'static str, &'static str),
        usize,
    ) {
        match self {
            MnistSplit::Train => (MNIST_FILES[0], MNIST_FILES[1], 60_000),
            MnistSplit::Test => (MNIST_FILES[2], MNIST_FILES[3], 10_000),
        }
    }
}

/// Reads and decompresses one file.
fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    decompress(file, path)
}

/// Decompresses gzip data read from `source`; `path` names it in errors.
pub fn decompress(source: impl Read, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    GzDecoder::new(source)
        .read_to_end(&mut bytes)
        .map_err(|e| CoreError::bad_file(path, format!("not a valid gzip file ({e})")))?;
    Ok(bytes)
}

/// Checks decompressed content against its expected SHA-256.
fn verify_sha256(bytes: &[u8], expected: &str, path: &Path) -> Result<()> {
    let digest: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest == expected {
        Ok(())
    } else {
        Err(CoreError::bad_file(
            path,
            format!("SHA-256 of the decompressed content is {digest}, expected {expected} (corrupt or modified file)"),
        ))
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses an IDX header: checks the magic number and returns the dimensions.
pub fn parse_idx_header(bytes: &[u8], magic: u32, ndims: usize, path: &Path) -> Result<Vec<usize>> {
    let header = 4 * (1 + ndims);
    if bytes.len() < header {
        return Err(CoreError::bad_file(
            path,
            format!(
                "truncated: {} bytes, shorter than the {header}-byte IDX header",
                bytes.len()
            ),
        ));
    }
    let found = be_u32(bytes, 0);
    if found != magic {
        return Err(CoreError::bad_file(
            path,
            format!("wrong magic number {found:#010x}, expected {magic:#010x}"),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| be_u32(bytes, 4 + 4 * i) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_add(header));
    let Some(expected) = expected else {
        return Err(CoreError::bad_file(
            path,
            format!("header dimensions {dims:?} are too large to be a file"),
        ));
    };
    if bytes.len() != expected {
        return Err(CoreError::bad_file(
            path,
            format!(
                "size {} bytes does not match the header's {dims:?} ({expected} bytes)",
                bytes.len()
            ),
        ));
    }
    Ok(dims)
}

/// Loads one MNIST split from `dir`: images [N, 1, 28, 28] in [0, 1] (row-major, flattened to
/// 784 per point) with their labels.
pub fn load_mnist(dir: &Path, split: MnistSplit) -> Result<Dataset> {
    let ((images_name, images_sha), (labels_name, labels_sha), count) = split.files();
    let images_path = dir.join(images_name);
    let labels_path = dir.join(labels_name);
    let images = read_gz(&images_path)?;
    let labels = read_gz(&labels_path)?;
    // Structure first (the more specific message), then the checksum of the content.
    let dims = parse_idx_header(&images, IMAGES_MAGIC, 3, &images_path)?;
    let label_dims = parse_idx_header(&labels, LABELS_MAGIC, 1, &labels_path)?;
    if dims != [count, 28, 28] {
        return Err(CoreError::bad_file(
            &images_path,
            format!("expected {count} images of 28x28, found dimensions {dims:?}"),
        ));
    }
    if label_dims != [count] {
        return Err(CoreError::bad_file(
            &labels_path,
            format!("expected {count} labels, found {}", label_dims[0]),
        ));
    }
    verify_sha256(&images, images_sha, &images_path)?;
    verify_sha256(&labels, labels_sha, &labels_path)?;
    let points = images[16..].iter().map(|&p| p as f32 / 255.0).collect();
    let mut data = Dataset::from_points(
        match split {
            MnistSplit::Train => "mnist/train",
            MnistSplit::Test => "mnist/test",
        },
        points,
        784,
    );
    data.image_shape = Some([1, 28, 28]);
    data.labels = Some(labels[8..].to_vec());
    Ok(data)
}

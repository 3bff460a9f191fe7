//! The values of a dataset: a buffer in memory, or the float32 payload of a `.npy` file mapped
//! into memory (memmap2), read where it lies on disk.
//!
//! A mapped set is read by the operating system page by page as it is touched. Code that
//! walks it in chunks ([`Points::for_each_chunk`]) tells the kernel after each chunk that its
//! pages may be dropped (`madvise(MADV_DONTNEED)`; they are read again from the file if needed),
//! so the resident memory of a pass stays at about one chunk whatever the number of rows.

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{CoreError, Result};

/// Rows per chunk when a mapped set is walked (for MNIST-sized rows about 12 MiB).
pub const STREAM_CHUNK_ROWS: usize = 4096;

/// A read-only view of `len` f32 values at byte `offset` of a mapped file.
#[derive(Clone)]
pub struct MappedValues {
    map: Arc<Mmap>,
    offset: usize,
    len: usize,
}

impl MappedValues {
    /// Maps `len` little-endian f32 values at byte `offset` of the file at `path`; None where
    /// the values would not be aligned for f32 (the caller reads the file instead).
    ///
    /// The file must not be changed while it is mapped: the values are read where they lie.
    pub fn open(path: &Path, offset: usize, len: usize) -> Result<Option<Self>> {
        let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
        // SAFETY: the mapping is read-only and private to this process; a dataset file is not
        // written while it is trained on or analysed (the documented contract of --data-file).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| CoreError::io(path, e))?;
        let end = len
            .checked_mul(4)
            .and_then(|bytes| bytes.checked_add(offset));
        if end.is_none_or(|end| end > map.len()) {
            return Err(CoreError::bad_file(
                path,
                format!(
                    "the header promises {len} float32 values after byte {offset}, but the file has {} bytes",
                    map.len()
                ),
            ));
        }
        let aligned = (map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<f32>());
        Ok(aligned.then(|| MappedValues {
            map: Arc::new(map),
            offset,
            len,
        }))
    }

    fn values(&self) -> &[f32] {
        let bytes = &self.map[self.offset..self.offset + 4 * self.len];
        // SAFETY: `open` checked that the range lies in the mapping and is aligned for f32;
        // every bit pattern is a valid f32.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.len) }
    }

    /// Lets the kernel drop the pages of values `start..end` (they are re-read on access).
    fn release(&self, start: usize, end: usize) {
        let page = page_size();
        let from = (self.offset + 4 * start).div_ceil(page) * page;
        let to = ((self.offset + 4 * end) / page) * page;
        if to > from {
            // SAFETY: a read-only file mapping: dropped pages are read again from the file,
            // so no value seen through `values` changes.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
        }
    }
}

fn page_size() -> usize {
    // every platform memmap2 supports has pages of a power of two ≥ 4 KiB; 64 KiB covers the
    // largest common one, so rounding to it never advises a partial page
    65_536
}

/// The row-major values of a dataset.
#[derive(Clone)]
pub enum Points {
    Owned(Vec<f32>),
    Mapped(MappedValues),
}

impl Points {
    /// Whether the values are read from a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self, Points::Mapped(_))
    }

    /// The values as an owned buffer (a copy of a mapped file).
    pub fn into_vec(self) -> Vec<f32> {
        match self {
            Points::Owned(values) => values,
            Points::Mapped(mapped) => mapped.values().to_vec(),
        }
    }

    /// Calls `visit(first_row, rows)` on consecutive chunks of at most `chunk_rows` rows of
    /// length `dim`; for a mapped file the pages of each chunk are released after it, so a
    /// full pass keeps about one chunk resident. Stops at the first error.
    pub fn for_each_chunk<E>(
        &self,
        dim: usize,
        chunk_rows: usize,
        mut visit: impl FnMut(usize, &[f32]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let n = self.len().checked_div(dim).unwrap_or(0);
        let chunk_rows = chunk_rows.max(1);
        for start in (0..n).step_by(chunk_rows) {
            let end = (start + chunk_rows).min(n);
            visit(start, &self[start * dim..end * dim])?;
            if let Points::Mapped(mapped) = self {
                mapped.release(start * dim, end * dim);
            }
        }
        Ok(())
    }
}

impl Deref for Points {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            Points::Owned(values) => values,
            Points::Mapped(mapped) => mapped.values(),
        }
    }
}

impl From<Vec<f32>> for Points {
    fn from(values: Vec<f32>) -> Self {
        Points::Owned(values)
    }
}

impl PartialEq for Points {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<f32>> for Points {
    fn eq(&self, other: &Vec<f32>) -> bool {
        **self == other[..]
    }
}

impl fmt::Debug for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Points::Owned(values) => f.debug_tuple("Owned").field(&values.len()).finish(),
            Points::Mapped(mapped) => f.debug_tuple("Mapped").field(&mapped.len).finish(),
        }
    }
}

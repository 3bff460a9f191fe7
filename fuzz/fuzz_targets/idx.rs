//! The IDX (MNIST) reader: the header parser on raw bytes and on gzip-decompressed bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorelab_core::datasets::{decompress, parse_idx_header};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.idx");
    for (magic, ndims) in [(0x0000_0803, 3), (0x0000_0801, 1)] {
        if let Ok(dims) = parse_idx_header(data, magic, ndims, path) {
            let size: usize = dims.iter().product::<usize>() + 4 * (1 + ndims);
            assert_eq!(size, data.len());
        }
    }
    if let Ok(bytes) = decompress(data, path) {
        let _ = parse_idx_header(&bytes, 0x0000_0803, 3, path);
    }
});

//! The CSV point reader: any text either fails with an error or gives finite, rectangular data.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorelab_core::datasets::parse_csv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = parse_csv(text, Path::new("fuzz.csv")) {
        assert!(set.dim > 0);
        assert_eq!(set.points.len(), set.n * set.dim);
        assert!(set.points.iter().all(|v| v.is_finite()));
    }
});

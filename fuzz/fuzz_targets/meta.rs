//! The checkpoint metadata reader: any text either fails with an error or gives a configuration
//! that passes validation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorelab_train::checkpoint::parse_meta;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(meta) = parse_meta(text, Path::new("meta.json")) {
        assert!(meta.train.validate(&meta.sde).is_ok());
        assert!(meta.model().dim() > 0);
    }
});

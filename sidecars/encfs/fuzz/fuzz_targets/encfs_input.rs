//! Fuzzes the `EncfsSideCarArgs` reader: base64 (either alphabet), the upstream JSON model,
//! and the validation that turns it into a plan. The input is tried both as base64 text and
//! as the JSON itself.

#![no_main]

use encfs::input::{KeySpec, parse, parse_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for plan in [parse(text), parse_json(text)].into_iter().flatten() {
        // An accepted plan is complete: every filesystem has an absolute mount point with a
        // parent, a source, and a key.
        assert!(!plan.filesystems.is_empty());
        for fs in &plan.filesystems {
            assert!(fs.mount_point.is_absolute());
            assert!(fs.mount_point.parent().is_some());
            if let KeySpec::Raw(k) = &fs.key {
                assert!(format!("{k:?}").contains("redacted"));
            }
        }
    }
});

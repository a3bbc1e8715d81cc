//! Any bytes: recognise (raw, hex, HCL), parse, read every field, render JSON, parse it back.
#![no_main]

use csc_core::input;
use csc_core::report::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; data.len() / 2 + 1];
    let Ok(p) = input::parse(data, &mut scratch, None) else { return };
    let r = p.report;
    let _ = (r.current_tcb().parts(), r.launch_tcb().parts(), r.cpuid(), r.signature().r_be());
    let _ = r.reserved_nonzero().count();
    if let Some(h) = p.hcl {
        let _ = h.runtime_data_bound();
    }
    let mut buf = vec![0u8; json::RENDER_CAPACITY];
    let text = json::render(&r, &mut buf).expect("render fits RENDER_CAPACITY");
    let mut back = [0u8; 1184];
    json::from_json(text, &mut back).expect("rendered JSON parses back");
    assert_eq!(&back[..], r.as_bytes(), "JSON round trip is lossless");
});

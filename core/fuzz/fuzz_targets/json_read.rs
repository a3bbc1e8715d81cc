//! Any text: the JSON reader either rejects it or walks every member and element without
//! panicking, and unescaping never overruns.
#![no_main]

use csc_core::json::{self, Value};
use libfuzzer_sys::fuzz_target;

fn walk(v: Value<'_>, depth: usize) {
    match v {
        Value::Object(o) => {
            for m in json::members(o) {
                let Ok((k, v)) = m else { panic!("valid object yields members") };
                let _ = k.unescape_into(&mut [0u8; 64]);
                walk(v, depth + 1);
            }
        }
        Value::Array(a) => {
            for e in json::elements(a) {
                walk(e.expect("valid array yields elements"), depth + 1);
            }
        }
        Value::String(s) => {
            let _ = s.unescape_into(&mut [0u8; 256]);
        }
        Value::Number(n) => {
            let _ = Value::Number(n).as_u64();
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(v) = json::parse(text) {
        walk(v, 0);
    }
});

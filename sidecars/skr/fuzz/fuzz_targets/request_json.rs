//! Request JSON as skr reads it (Go's encoding/json semantics over the core's reader) and the
//! endpoint parser, on arbitrary bytes: every accessor the bodies and the key-provider input
//! use, and `host[:port]` parsing of the same text. Nothing may panic; an accepted endpoint
//! must print and re-parse to itself.
#![no_main]

#[path = "../../src/gojson.rs"]
#[allow(dead_code)]
mod gojson;
#[path = "../../../../adapters/azure/src/url.rs"]
#[allow(dead_code)]
mod url;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = gojson::text(data);
    if let Ok(o) = gojson::GoObject::parse(&text) {
        for name in [
            "runtime_data",
            "maa_endpoint",
            "akv_endpoint",
            "kid",
            "access_token",
            "op",
        ] {
            let _ = o.string(name);
        }
        let _ = o.bytes_text("wrapped_data");
        if let Ok(unwrap) = o.object("keyunwrapparams") {
            let _ = unwrap.string("annotation");
            let _ = unwrap
                .object("dc")
                .and_then(|dc| dc.string_lists("parameters"));
        }
        if let Ok(wrap) = o.object("keywrapparams") {
            let _ = wrap.string("optsdata");
            if let Ok(ec) = wrap.object("ec") {
                let _ = ec.string_lists("parameters");
                let _ = ec.object("dc").and_then(|dc| dc.string_lists("parameters"));
            }
        }
    }
    if let Ok(e) = url::parse_endpoint(&text) {
        assert_eq!(url::parse_endpoint(&e.to_string()), Ok(e));
    }
});

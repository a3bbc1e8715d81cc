//! Property tests: every parser of service answers takes arbitrary input without panicking,
//! and the URL pieces round-trip.

use std::time::{Duration, SystemTime};

use csc_azure::certs::ThimCerts;
use csc_azure::certs::kds::{tcb_from_query, vcek_url};
use csc_azure::http::{parse_retry_after, redact_url, service_message};
use csc_azure::jose::Compact;
use csc_azure::keyvault::parse_release_payload;
use csc_azure::maa::Jwks;
use csc_azure::url::{percent_decode, query_escape};
use csc_core::report::{Product, TcbParts, TcbVersion};
use proptest::prelude::*;

proptest! {
    #[test]
    fn answers_of_any_shape_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes).to_string();
        let _ = Compact::parse(&text);
        let _ = parse_release_payload(&bytes, "k");
        let _ = Jwks::parse(&bytes);
        let _ = ThimCerts::from_json(&bytes);
        let _ = service_message(&bytes);
        let _ = parse_retry_after(&text, SystemTime::now());
        let _ = percent_decode(&text, true);
        let _ = tcb_from_query(Product::Turin, &text);
    }

    #[test]
    fn jws_like_input_is_handled(h in "[A-Za-z0-9_-]{0,40}", p in "[A-Za-z0-9_-]{0,40}", s in "[A-Za-z0-9_=-]{0,40}") {
        if let Ok(c) = Compact::parse(&format!("{h}.{p}.{s}")) {
            prop_assert!(c.header.is_object());
            prop_assert_eq!(c.signing_input, format!("{h}.{p}"));
        }
    }

    #[test]
    fn kds_query_round_trips(fmc in any::<u8>(), bl in any::<u8>(), tee in any::<u8>(), snp in any::<u8>(), uc in any::<u8>(), turin in any::<bool>()) {
        let product = if turin { Product::Turin } else { Product::Milan };
        let parts = TcbParts { fmc: turin.then_some(fmc), bootloader: bl, tee, snp, microcode: uc };
        let tcb = TcbVersion::from_parts(parts, product.tcb_layout());
        let url = vcek_url("https://kds", product, &[1; 8], tcb);
        let query = url.split_once('?').unwrap().1;
        prop_assert_eq!(tcb_from_query(product, query), Some(tcb));
    }

    #[test]
    fn escaping_round_trips_and_signatures_never_show(s in ".{0,64}") {
        prop_assert_eq!(percent_decode(&query_escape(&s), false), Some(s.clone()));
        let url = format!("https://a/b?sv=1&sig={}&x=2", query_escape(&s));
        prop_assert_eq!(redact_url(&url), "https://a/b?sv=1&sig=REDACTED&x=2");
    }

    #[test]
    fn retry_after_seconds(n in 0u64..1_000_000) {
        prop_assert_eq!(parse_retry_after(&n.to_string(), SystemTime::now()), Some(Duration::from_secs(n)));
    }
}

//! Any bytes as a certificate, a CRL, PEM text and an extended-report certificate table: each
//! reader either rejects them or yields values whose every accessor works, and a certificate
//! table re-encodes to one that parses to the same entries.
#![no_main]

use csc_core::cert::amd::AmdExtensions;
use csc_core::cert::crl::Crl;
use csc_core::cert::Certificate;
use csc_core::report::TcbLayout;
use csc_core::verify::{classify, x509, CoreCrypto};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Certificate::from_der(data) {
        let _ = (c.serial(), c.issuer().common_name(), c.subject().to_string(), c.validity());
        let _ = (c.tbs_signature_algorithm().scheme(), c.public_key().kind_name());
        assert!(c.tbs().len() < data.len());
        for e in c.extensions() {
            assert!(c.extension(e.oid).is_some());
        }
        if let Ok(ext) = AmdExtensions::from_cert(&c) {
            let _ = (ext.tcb(TcbLayout::Zen3Zen4), ext.tcb(TcbLayout::Zen5), ext.product());
        }
        let _ = classify(&c);
        let _ = x509::check_signed_by(&CoreCrypto, &c, &c);
    }
    if let Ok(crl) = Crl::from_der(data) {
        let n = crl.revoked().count();
        let _ = (crl.issuer().common_name(), crl.next_update(), crl.extensions().count());
        if let Some(first) = crl.revoked().next() {
            assert!(n >= 1 && crl.is_revoked(first.serial));
        }
    }
    let mut out = vec![0u8; data.len()];
    for block in csc_core::pem::blocks(data).take(4).flatten() {
        let _ = block.decode_into(&mut out);
    }
    if let Ok(table) = csc_core::certtable::parse(data) {
        let entries: Vec<_> = table.iter().map(|e| (e.guid, e.data)).collect();
        assert_eq!(entries.len(), table.len());
        let mut buf = vec![0u8; data.len() + 24];
        let n = csc_core::certtable::encode_into(&entries, &mut buf).expect("re-encode fits");
        let again = csc_core::certtable::parse(&buf[..n]).expect("re-encoded table parses");
        assert!(again.iter().map(|e| (e.guid, e.data)).eq(entries.iter().copied()));
    }
});

//! Any bytes as a report followed by its evidence (a VCEK certificate, or an extended-report
//! certificate table), verified with the core's own crypto backend and checked against the
//! default policy: never a panic, and success only with a chain that leads to AMD's roots.
#![no_main]

use csc_core::certtable::{self, Kind};
use csc_core::policy::{self, PolicyOptions};
use csc_core::verify::{verify, CoreCrypto, Evidence, VerifyOptions};
use csc_core::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (report, rest) = data.split_at(data.len().min(1184));
    let Ok(report) = Report::parse(report) else { return };
    let options = VerifyOptions::default();
    let _ = verify(&CoreCrypto, &report, &Evidence::signer(rest), &options);
    if let Ok(table) = certtable::parse(rest) {
        if let Some(signer) = table.get(Kind::Vcek).or(table.get(Kind::Vlek)) {
            let evidence = Evidence {
                signer,
                intermediate: table.get(Kind::Ask),
                ark: table.get(Kind::Ark),
                crl: table.get(Kind::Crl),
            };
            if let Ok(v) = verify(&CoreCrypto, &report, &evidence, &options) {
                assert_eq!(v.tcb.raw(), report.reported_tcb().raw());
            }
        }
    }
    let policy = PolicyOptions::default();
    let _ = policy::violations(&report, &policy).count();
});

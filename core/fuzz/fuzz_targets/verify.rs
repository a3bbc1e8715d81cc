//! Any bytes as a report followed by its evidence (a VCEK certificate, or an extended-report
//! certificate table, also read by role), and as an HCL report whose variable data must be
//! bound, verified with the core's own crypto backend and checked against the default policy:
//! never a panic, and success only with a chain that leads to AMD's roots.
#![no_main]

use csc_core::certtable::{self, Kind};
use csc_core::policy::{self, PolicyOptions};
use csc_core::hcl::{self, HclReport};
use csc_core::verify::{select, verify, CoreCrypto, Evidence, Verifier, VerifyOptions};
use csc_core::Report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // An HCL report, followed by its VCEK: verified only if its variable data is bound.
    if let Ok(hcl) = HclReport::parse(data, None) {
        let bound = hcl.check_binding().is_ok();
        let end = data.len().min(hcl::VARIABLE_DATA_OFFSET + hcl.runtime_data().len());
        let vcek = data.get(end..).unwrap_or_default();
        let got = Verifier::new(CoreCrypto, VerifyOptions::default())
            .verify_hcl(&hcl, &Evidence::signer(vcek));
        assert!(got.is_err() || bound);
        return;
    }
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
    if let Ok(table) = certtable::parse(rest) {
        let pool: Vec<&[u8]> = table.iter().map(|e| e.data).collect();
        if let Ok(evidence) = select(&pool, &report) {
            if let Ok(v) = verify(&CoreCrypto, &report, &evidence, &options) {
                assert_eq!(v.tcb.raw(), report.reported_tcb().raw());
            }
        }
    }
    let policy = PolicyOptions::default();
    let _ = policy::violations(&report, &policy).count();
});

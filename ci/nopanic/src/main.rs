//! Links the core's entry points into a freestanding binary whose panic handler is undefined.
#![no_std]
#![no_main]

use core::hint::black_box;

use csc_core::report::{Report, json};

// In its own section so that the size report counts only code and constants.
#[unsafe(link_section = ".input")]
static INPUT: [u8; 4096] = [0; 4096];

/// Exercises every no-panic entry point on input the optimiser cannot predict.
#[unsafe(no_mangle)]
pub extern "C" fn csc_check(len: usize) -> usize {
    let input: &[u8] = black_box(&INPUT[..]);
    let input = input.get(..black_box(len)).unwrap_or(input);
    let mut out = 0usize;
    let mut scratch = [0u8; 2048];
    if let Ok(p) = csc_core::input::parse(input, &mut scratch, None) {
        out ^= p.report.version() as usize;
        let r: Report<'_> = p.report;
        out ^= r.reported_tcb().parts().snp as usize;
        out ^= r.reserved_nonzero().count();
        if let Some(h) = p.hcl {
            out ^= h.runtime_data_bound() as usize;
        }
        let mut buf = [0u8; json::RENDER_CAPACITY];
        if let Ok(text) = json::render(&r, &mut buf) {
            out ^= text.len();
            let mut back = [0u8; 1184];
            out ^= json::from_json(text, &mut back).is_ok() as usize;
        }
    }
    let mut b = [0u8; 64];
    out ^= csc_core::hex::decode_into(input, &mut b).unwrap_or(0);
    if let Ok(text) = core::str::from_utf8(input) {
        if let Ok(v) = csc_core::json::parse(text) {
            out ^= matches!(v, csc_core::json::Value::Object(_)) as usize;
        }
    }
    out ^= csc_core::runtime::report_data_for(input)[0] as usize;
    out ^= check_certificates(input);
    out ^= check_verification(input);
    out
}

/// Certificates, CRLs, PEM and the extended-report certificate table.
#[inline(never)]
fn check_certificates(input: &[u8]) -> usize {
    use csc_core::cert::{Certificate, amd::AmdExtensions, crl::Crl};
    let mut out = 0usize;
    let mut der = [0u8; 2048];
    if let Ok(d) = csc_core::pem::decode_first(input, "CERTIFICATE", &mut der) {
        out ^= d.len();
    }
    if let Ok(c) = Certificate::from_der(input) {
        out ^= c.tbs().len() ^ c.extensions().count() ^ c.validity().not_after.0 as usize;
        out ^= c.subject().common_name().map_or(0, str::len);
        if let Ok(e) = AmdExtensions::from_cert(&c) {
            let layout = csc_core::report::TcbLayout::Zen5;
            out ^= e.tcb(layout).raw() as usize ^ e.hwid.map_or(0, <[u8]>::len);
        }
        out ^= csc_core::verify::classify(&c).is_some() as usize;
        out ^= c.signature_algorithm().scheme().is_ok() as usize;
        let v = csc_core::verify::x509::check_signed_by(&csc_core::verify::CoreCrypto, &c, &c);
        out ^= v.is_ok() as usize;
    }
    if let Ok(crl) = Crl::from_der(input) {
        out ^= crl.revoked().count() ^ crl.is_revoked(&[1]) as usize;
    }
    if let Ok(t) = csc_core::certtable::parse(input) {
        out ^= t.iter().map(|e| e.data.len()).sum::<usize>();
    }
    out
}

/// Report verification with the core's crypto backend (p384, fixed-size RSA) and policy checks:
/// a report, then a VCEK, from the unpredictable input.
#[inline(never)]
fn check_verification(input: &[u8]) -> usize {
    use csc_core::verify::{CoreCrypto, Evidence, VerifyOptions};
    let (report, signer) = input.split_at(input.len().min(1184));
    let Ok(report) = Report::parse(report) else {
        return 0;
    };
    let (signer, crl) = signer.split_at(signer.len() / 2);
    let evidence = Evidence {
        signer,
        crl: Some(crl),
        ..Evidence::default()
    };
    let options = VerifyOptions {
        now: Some(csc_core::cert::Time(black_box(0))),
        ..VerifyOptions::default()
    };
    let mut out = match csc_core::verify::verify(&CoreCrypto, &report, &evidence, &options) {
        Ok(v) => v.tcb.raw() as usize,
        Err(e) => e.category() as usize,
    };
    let policy = csc_core::policy::PolicyOptions::default();
    out ^= csc_core::policy::violations(&report, &policy).count();
    out
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let r = csc_check(black_box(1184));
    black_box(r);
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "find"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        // Defined nowhere: referencing it makes any surviving panic path a link error.
        fn csc_core_has_a_panic_path() -> !;
    }
    // SAFETY: never called; if a panic path survives, the program does not link at all.
    unsafe { csc_core_has_a_panic_path() }
}

/// With `--features find`, a defined handler so the program links and panic sites can be listed.
#[cfg(feature = "find")]
#[panic_handler]
fn panic_found(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

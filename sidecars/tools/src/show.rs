//! Human-readable rendering of a report, one field per line.

use std::fmt::Write;

use csc_core::hex::Hex;
use csc_core::input::Parsed;
use csc_core::report::{Report, TcbVersion, json};

use crate::exit::Failure;

fn tcb_line(out: &mut String, name: &str, t: TcbVersion) {
    let _ = writeln!(out, "{name:<20}0x{:016x}  ({})", t.raw(), t.parts());
}

/// The report as text for a person.
pub fn human(parsed: &Parsed<'_>) -> String {
    let r: &Report<'_> = &parsed.report;
    let mut o = String::new();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = writeln!(o, "{k:<20}{v}");
    };
    line("format", &parsed.format.name());
    line("version", &r.version());
    match r.product() {
        Some(p) => line("product", &p),
        None => line("product", &"unknown (version 1/2 report: pass --product)"),
    }
    if let Some(c) = r.cpuid() {
        line(
            "cpuid",
            &format_args!(
                "family 0x{:02x} model 0x{:02x} stepping 0x{:x}",
                c.family, c.model, c.stepping
            ),
        );
    }
    line("guest_svn", &r.guest_svn());
    let p = r.policy();
    let mut flags = Vec::new();
    for (on, name) in [
        (p.smt_allowed(), "smt"),
        (p.migrate_ma_allowed(), "migrate-ma"),
        (p.debug_allowed(), "DEBUG"),
        (p.single_socket(), "single-socket"),
        (p.cxl_allowed(), "cxl"),
        (p.mem_aes_256_xts(), "aes-256-xts"),
        (p.rapl_dis(), "rapl-dis"),
        (p.ciphertext_hiding(), "ciphertext-hiding"),
        (p.page_swap_disable(), "page-swap-disable"),
    ] {
        if on {
            flags.push(name);
        }
    }
    line(
        "policy",
        &format_args!(
            "0x{:x}  (abi {}.{}; {})",
            p.0,
            p.abi_major(),
            p.abi_minor(),
            flags.join(", ")
        ),
    );
    line("vmpl", &r.vmpl());
    line(
        "signature_algo",
        &format_args!("{} (ECDSA P-384 with SHA-384)", r.signature_algo()),
    );
    let pi = r.platform_info();
    let mut pflags = Vec::new();
    for (on, name) in [
        (pi.smt_enabled(), "smt"),
        (pi.tsme_enabled(), "tsme"),
        (pi.ecc_enabled(), "ecc"),
        (pi.rapl_disabled(), "rapl-disabled"),
        (pi.ciphertext_hiding_enabled(), "ciphertext-hiding"),
        (pi.alias_check_complete(), "alias-check-complete"),
        (pi.tio_enabled(), "tio"),
    ] {
        if on {
            pflags.push(name);
        }
    }
    line(
        "platform_info",
        &format_args!("0x{:x}  ({})", pi.0, pflags.join(", ")),
    );
    let si = r.signer_info();
    line(
        "signer",
        &format_args!(
            "{}{}{}",
            si.signing_key(),
            if si.mask_chip_key() {
                ", chip id masked"
            } else {
                ""
            },
            if si.author_key_en() {
                ", author key"
            } else {
                ""
            }
        ),
    );
    line("report_data", &Hex(r.report_data()));
    line("measurement", &Hex(r.measurement()));
    line("host_data", &Hex(r.host_data()));
    line("family_id", &Hex(r.family_id()));
    line("image_id", &Hex(r.image_id()));
    line("id_key_digest", &Hex(r.id_key_digest()));
    line("author_key_digest", &Hex(r.author_key_digest()));
    line("report_id", &Hex(r.report_id()));
    line("report_id_ma", &Hex(r.report_id_ma()));
    line("chip_id", &Hex(r.chip_id()));
    line("firmware", &r.current_version());
    line("committed firmware", &r.committed_version());
    if let (Some(l), Some(c)) = (r.launch_mit_vector(), r.current_mit_vector()) {
        line(
            "mitigation vectors",
            &format_args!("launch 0x{l:x} current 0x{c:x}"),
        );
    }
    tcb_line(&mut o, "current_tcb", r.current_tcb());
    tcb_line(&mut o, "reported_tcb", r.reported_tcb());
    tcb_line(&mut o, "committed_tcb", r.committed_tcb());
    tcb_line(&mut o, "launch_tcb", r.launch_tcb());
    let sig = r.signature();
    let _ = writeln!(o, "{:<20}{}", "signature r", Hex(sig.r_le()));
    let _ = writeln!(o, "{:<20}{}", "signature s", Hex(sig.s_le()));
    for rr in r.reserved_nonzero() {
        let _ = writeln!(
            o,
            "{:<20}bytes 0x{:03x}..0x{:03x} are reserved but not zero",
            "note",
            rr.offset,
            rr.offset + rr.len
        );
    }
    if let Some(h) = &parsed.hcl {
        let _ = writeln!(
            o,
            "{:<20}{} bytes",
            "hcl runtime data",
            h.runtime_data().len()
        );
        let _ = writeln!(
            o,
            "{:<20}{}",
            "hcl binding",
            if h.runtime_data_bound() {
                "report_data begins with the hash of the runtime data"
            } else {
                "MISMATCH: report_data does not hold the hash of the runtime data"
            }
        );
    }
    o
}

/// The report as JSON (upstream's field names plus `decoded`), with `format` and, for HCL
/// input, the runtime data binding.
pub fn json(parsed: &Parsed<'_>) -> Result<String, Failure> {
    let mut buf = vec![0u8; json::RENDER_CAPACITY];
    let text = json::render(&parsed.report, &mut buf).map_err(Failure::usage)?;
    // Insert our two members after the report's own, before the closing brace.
    let body = text.strip_suffix('}').unwrap_or(text);
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(body);
    let _ = write!(out, ",\"format\":\"{}\"", parsed.format.name());
    if let Some(h) = &parsed.hcl {
        let _ = write!(
            out,
            ",\"hcl\":{{\"runtime_data_len\":{},\"runtime_data_bound\":{}}}",
            h.runtime_data().len(),
            h.runtime_data_bound()
        );
    }
    out.push('}');
    Ok(out)
}

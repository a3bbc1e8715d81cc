//! JSON rendering of a report, with upstream's field names, and the way back.
//!
//! The first members are exactly those of upstream's `SNPAttestationReport` Go struct (same
//! names, same order, integers as JSON numbers, byte fields as lowercase hex), so a client of
//! upstream reads ours unchanged; it is lossless, so [`from_json`] rebuilds the 1184 bytes. A
//! `decoded` object follows with what the raw numbers mean: product, TCB parts per layout,
//! policy, platform and signer bits, firmware versions, mitigation vectors.

use zerocopy::IntoBytes;

use super::{RawReport, Report, TcbVersion};
use crate::abi::{self, size};
use crate::error::JsonError;
use crate::json::{JsonStr, JsonWriter, Value, members, parse};

/// A buffer of this size always holds [`render`]'s output.
pub const RENDER_CAPACITY: usize = 8192;

// Upstream's names for the byte ranges it does not split into fields.
const RESERVED2: core::ops::Range<usize> = 0x188..0x1A0;
const COMMITTED_VERSION: core::ops::Range<usize> = 0x1E8..0x1F0;
const RESERVED3: core::ops::Range<usize> = 0x1F8..abi::SIGNATURE_OFFSET;

fn tcb_object(w: &mut JsonWriter<'_>, name: &str, tcb: TcbVersion) {
    let p = tcb.parts();
    w.key(name);
    w.begin_object();
    w.u64_member("raw", tcb.raw());
    if let Some(fmc) = p.fmc {
        w.u64_member("fmc", fmc.into());
    }
    w.u64_member("bootloader", p.bootloader.into());
    w.u64_member("tee", p.tee.into());
    w.u64_member("snp", p.snp.into());
    w.u64_member("microcode", p.microcode.into());
    w.end_object();
}

fn bytes_of(all: &[u8], r: core::ops::Range<usize>) -> &[u8] {
    all.get(r).unwrap_or(&[])
}

fn u64_at(all: &[u8], r: core::ops::Range<usize>) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = all.get(r) {
        for (d, s) in b.iter_mut().zip(src) {
            *d = *s;
        }
    }
    u64::from_le_bytes(b)
}

/// Renders `report` as JSON into `buf` and returns the text.
pub fn render<'b>(report: &Report<'_>, buf: &'b mut [u8]) -> Result<&'b str, JsonError> {
    let raw = report.raw();
    let all = raw.as_bytes();
    let mut w = JsonWriter::new(buf);
    w.begin_object();
    w.u64_member("version", report.version().into());
    w.u64_member("guest_svn", report.guest_svn().into());
    w.u64_member("policy", report.policy().0);
    w.hex_member("family_id", report.family_id());
    w.hex_member("image_id", report.image_id());
    w.u64_member("vmpl", report.vmpl().into());
    w.u64_member("signature_algo", report.signature_algo().into());
    w.u64_member("platform_version", report.current_tcb().raw());
    w.u64_member("platform_info", report.platform_info().0);
    w.u64_member("author_key_en", report.signer_info().0.into());
    w.u64_member("reserved1", u64::from(u32::from_le_bytes(raw.reserved0)));
    w.hex_member("report_data", report.report_data());
    w.hex_member("measurement", report.measurement());
    w.hex_member("host_data", report.host_data());
    w.hex_member("id_key_digest", report.id_key_digest());
    w.hex_member("author_key_digest", report.author_key_digest());
    w.hex_member("report_id", report.report_id());
    w.hex_member("report_id_ma", report.report_id_ma());
    w.u64_member("reported_tcb", report.reported_tcb().raw());
    w.hex_member("reserved2", bytes_of(all, RESERVED2));
    w.hex_member("chip_id", report.chip_id());
    w.u64_member("committed_svn", report.committed_tcb().raw());
    w.u64_member("committed_version", u64_at(all, COMMITTED_VERSION));
    w.u64_member("launch_svn", report.launch_tcb().raw());
    w.hex_member("reserved3", bytes_of(all, RESERVED3));
    w.hex_member("signature", report.signature().as_bytes());

    w.key("decoded");
    w.begin_object();
    w.key("product");
    match report.product() {
        Some(p) => w.string(p.name()),
        None => w.null(),
    }
    w.str_member("tcb_layout", report.tcb_layout().name());
    w.key("cpuid");
    match report.cpuid() {
        Some(c) => {
            w.begin_object();
            w.u64_member("family", c.family.into());
            w.u64_member("model", c.model.into());
            w.u64_member("stepping", c.stepping.into());
            w.end_object();
        }
        None => w.null(),
    }
    tcb_object(&mut w, "current_tcb", report.current_tcb());
    tcb_object(&mut w, "reported_tcb", report.reported_tcb());
    tcb_object(&mut w, "committed_tcb", report.committed_tcb());
    tcb_object(&mut w, "launch_tcb", report.launch_tcb());
    for (name, v) in [
        ("current_version", report.current_version()),
        ("committed_version", report.committed_version()),
    ] {
        w.key(name);
        w.begin_object();
        w.u64_member("major", v.major.into());
        w.u64_member("minor", v.minor.into());
        w.u64_member("build", v.build.into());
        w.end_object();
    }
    for (name, v) in [
        ("launch_mit_vector", report.launch_mit_vector()),
        ("current_mit_vector", report.current_mit_vector()),
    ] {
        w.key(name);
        match v {
            Some(v) => w.u64(v),
            None => w.null(),
        }
    }
    let p = report.policy();
    w.key("policy");
    w.begin_object();
    w.u64_member("abi_major", p.abi_major().into());
    w.u64_member("abi_minor", p.abi_minor().into());
    w.bool_member("smt", p.smt_allowed());
    w.bool_member("migrate_ma", p.migrate_ma_allowed());
    w.bool_member("debug", p.debug_allowed());
    w.bool_member("single_socket", p.single_socket());
    w.bool_member("cxl_allowed", p.cxl_allowed());
    w.bool_member("mem_aes_256_xts", p.mem_aes_256_xts());
    w.bool_member("rapl_dis", p.rapl_dis());
    w.bool_member("ciphertext_hiding", p.ciphertext_hiding());
    w.bool_member("page_swap_disable", p.page_swap_disable());
    w.u64_member("unknown_bits", p.unknown_bits());
    w.end_object();
    let pi = report.platform_info();
    w.key("platform_info");
    w.begin_object();
    w.bool_member("smt_enabled", pi.smt_enabled());
    w.bool_member("tsme_enabled", pi.tsme_enabled());
    w.bool_member("ecc_enabled", pi.ecc_enabled());
    w.bool_member("rapl_disabled", pi.rapl_disabled());
    w.bool_member("ciphertext_hiding_enabled", pi.ciphertext_hiding_enabled());
    w.bool_member("alias_check_complete", pi.alias_check_complete());
    w.bool_member("tio_enabled", pi.tio_enabled());
    w.u64_member("unknown_bits", pi.unknown_bits());
    w.end_object();
    let si = report.signer_info();
    w.key("signer");
    w.begin_object();
    w.bool_member("author_key_en", si.author_key_en());
    w.bool_member("mask_chip_key", si.mask_chip_key());
    w.str_member("signing_key", si.signing_key().name());
    w.end_object();
    w.key("reserved_nonzero");
    w.begin_array();
    for r in report.reserved_nonzero() {
        w.element();
        w.begin_object();
        w.u64_member("offset", r.offset as u64);
        w.u64_member("len", r.len as u64);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.end_object();
    w.finish()
}

/// Where each upstream JSON member goes in the 1184 bytes.
enum Slot {
    Int { at: usize, width: usize },
    Hex { at: usize, len: usize },
}

const FIELDS: [(&str, Slot); 26] = {
    use crate::abi::offset as o;
    [
        (
            "version",
            Slot::Int {
                at: o::VERSION,
                width: 4,
            },
        ),
        (
            "guest_svn",
            Slot::Int {
                at: o::GUEST_SVN,
                width: 4,
            },
        ),
        (
            "policy",
            Slot::Int {
                at: o::POLICY,
                width: 8,
            },
        ),
        (
            "family_id",
            Slot::Hex {
                at: o::FAMILY_ID,
                len: size::FAMILY_ID,
            },
        ),
        (
            "image_id",
            Slot::Hex {
                at: o::IMAGE_ID,
                len: size::IMAGE_ID,
            },
        ),
        (
            "vmpl",
            Slot::Int {
                at: o::VMPL,
                width: 4,
            },
        ),
        (
            "signature_algo",
            Slot::Int {
                at: o::SIGNATURE_ALGO,
                width: 4,
            },
        ),
        (
            "platform_version",
            Slot::Int {
                at: o::CURRENT_TCB,
                width: 8,
            },
        ),
        (
            "platform_info",
            Slot::Int {
                at: o::PLATFORM_INFO,
                width: 8,
            },
        ),
        (
            "author_key_en",
            Slot::Int {
                at: o::SIGNER_INFO,
                width: 4,
            },
        ),
        (
            "reserved1",
            Slot::Int {
                at: 0x04C,
                width: 4,
            },
        ),
        (
            "report_data",
            Slot::Hex {
                at: o::REPORT_DATA,
                len: size::REPORT_DATA,
            },
        ),
        (
            "measurement",
            Slot::Hex {
                at: o::MEASUREMENT,
                len: size::MEASUREMENT,
            },
        ),
        (
            "host_data",
            Slot::Hex {
                at: o::HOST_DATA,
                len: size::HOST_DATA,
            },
        ),
        (
            "id_key_digest",
            Slot::Hex {
                at: o::ID_KEY_DIGEST,
                len: size::KEY_DIGEST,
            },
        ),
        (
            "author_key_digest",
            Slot::Hex {
                at: o::AUTHOR_KEY_DIGEST,
                len: size::KEY_DIGEST,
            },
        ),
        (
            "report_id",
            Slot::Hex {
                at: o::REPORT_ID,
                len: size::REPORT_ID,
            },
        ),
        (
            "report_id_ma",
            Slot::Hex {
                at: o::REPORT_ID_MA,
                len: size::REPORT_ID,
            },
        ),
        (
            "reported_tcb",
            Slot::Int {
                at: o::REPORTED_TCB,
                width: 8,
            },
        ),
        (
            "reserved2",
            Slot::Hex {
                at: 0x188,
                len: 0x18,
            },
        ),
        (
            "chip_id",
            Slot::Hex {
                at: o::CHIP_ID,
                len: size::CHIP_ID,
            },
        ),
        (
            "committed_svn",
            Slot::Int {
                at: o::COMMITTED_TCB,
                width: 8,
            },
        ),
        (
            "committed_version",
            Slot::Int {
                at: o::CURRENT_BUILD,
                width: 8,
            },
        ),
        (
            "launch_svn",
            Slot::Int {
                at: o::LAUNCH_TCB,
                width: 8,
            },
        ),
        (
            "reserved3",
            Slot::Hex {
                at: 0x1F8,
                len: abi::SIGNATURE_OFFSET - 0x1F8,
            },
        ),
        (
            "signature",
            Slot::Hex {
                at: o::SIGNATURE,
                len: abi::SIGNATURE_SIZE,
            },
        ),
    ]
};

fn put(
    name: &'static str,
    slot: &Slot,
    value: Value<'_>,
    out: &mut [u8; abi::REPORT_SIZE],
) -> Result<(), JsonError> {
    let bad = JsonError::InvalidField { field: name };
    match *slot {
        Slot::Int { at, width } => {
            let v = value.as_u64().ok_or(bad)?;
            let bytes = v.to_le_bytes();
            if bytes.get(width..).unwrap_or(&[]).iter().any(|b| *b != 0) {
                return Err(bad);
            }
            let end = at.checked_add(width).ok_or(bad)?;
            let dst = out.get_mut(at..end).ok_or(bad)?;
            for (d, s) in dst.iter_mut().zip(bytes.iter()) {
                *d = *s;
            }
        }
        Slot::Hex { at, len } => {
            let s: JsonStr<'_> = value.as_str().ok_or(bad)?;
            let text = s.as_plain().ok_or(bad)?.as_bytes();
            let n = crate::hex::decoded_len(text)
                .map_err(|error| JsonError::FieldHex { field: name, error })?;
            if n != len {
                return Err(JsonError::FieldHex {
                    field: name,
                    error: crate::error::HexError::Length {
                        expected: len,
                        actual: n,
                    },
                });
            }
            let end = at.checked_add(len).ok_or(bad)?;
            let dst = out.get_mut(at..end).ok_or(bad)?;
            crate::hex::decode_into(text, dst)
                .map_err(|error| JsonError::FieldHex { field: name, error })?;
        }
    }
    Ok(())
}

/// Rebuilds the report bytes from upstream-shaped JSON (ours from [`render`], or the JSON of
/// upstream's `SNPAttestationReport`). Member names match case-insensitively, as in Go; every
/// upstream member is required and unknown members (such as `decoded`) are ignored.
pub fn from_json(text: &str, out: &mut [u8; abi::REPORT_SIZE]) -> Result<(), JsonError> {
    let Value::Object(obj) = parse(text)? else {
        return Err(JsonError::Syntax { offset: 0 });
    };
    *out = [0u8; abi::REPORT_SIZE];
    let mut seen = [false; FIELDS.len()];
    for m in members(obj) {
        let (k, v) = m?;
        for ((name, slot), seen) in FIELDS.iter().zip(seen.iter_mut()) {
            if k.eq_ignore_case(name) {
                put(name, slot, v, out)?;
                *seen = true;
            }
        }
    }
    for ((name, _), seen) in FIELDS.iter().zip(seen) {
        if !seen {
            return Err(JsonError::MissingField { field: name });
        }
    }
    Ok(())
}

const _: () = assert!(core::mem::size_of::<RawReport>() == abi::REPORT_SIZE);

//! `snp-report derive-key`: a key the PSP derives for this guest, from the chip's root key and
//! the guest fields chosen (MSG_KEY_REQ). Only a guest with the same selected fields on the
//! same chip gets the same key again, so it can seal data locally without any remote service.
//!
//! ```text
//! snp-report derive-key --field measurement,policy,... [--vmpl 0-3] [--svn N] [--tcb HEX]
//!                       [--root vcek|vmrk] [--key-select default|vcek|vlek] [--out FILE]
//!                       [--sev-guest DEV] [--simulate [--product P] [--report-version V]]
//! ```
//! On a guest the key comes from `/dev/sev-guest` (`SNP_GET_DERIVED_KEY`; configfs-tsm has no
//! derived keys). With `--simulate` (or `CSC_SIMULATE=1`) the tool plays the guest firmware:
//! it reads the simulated PSP's secrets page, seals MSG_KEY_REQ with the VMPCK through the
//! core's guest-message layer and opens the answer, and says on standard error that the key
//! is simulated. The key is printed as hex, or written raw (32 bytes, mode 0600) with `--out`.

use std::io::Write;
use std::path::Path;
#[cfg(feature = "simulate")]
use std::sync::Arc;

use csc_core::guest::{DerivedKey, GuestFields, KeyRequest, KeySelect, RootKey};
#[cfg(feature = "simulate")]
use csc_core::guest::{SecretsPage, VmpckId};
use csc_core::source::Vmpl;
#[cfg(feature = "simulate")]
use csc_sev::Source;
use csc_sev::{SEV_GUEST_PATH, SevGuest};
use zeroize::Zeroizing;

use crate::args::Args;
use crate::exit::{self, Failure};
use crate::secret_file::write_secret_file;

/// Usage of `snp-report derive-key`.
pub const USAGE: &str = "usage: snp-report derive-key --field LIST [--vmpl 0-3] [--svn N] [--tcb HEX] [--root vcek|vmrk] [--key-select default|vcek|vlek] [--out FILE] [--sev-guest DEV] [--simulate [--product milan|genoa|turin] [--report-version 2|3|5]]\n  LIST: comma-separated guest fields mixed into the key: policy, image_id, family_id, measurement, guest_svn, tcb_version (or none)";

/// Options of `derive-key` that take no value.
pub const FLAGS: &[&str] = &["simulate"];

fn number<T: std::str::FromStr>(args: &Args, name: &str) -> Result<Option<T>, Failure> {
    args.value(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Failure::usage(format!("--{name} {v:?} is not a number")))
        })
        .transpose()
}

/// The request the options describe.
pub fn request(args: &Args) -> Result<KeyRequest, Failure> {
    let list = args.value("field").ok_or_else(|| {
        Failure::usage(format!(
            "--field is required: say which guest fields the key depends on (or --field none)\n{USAGE}"
        ))
    })?;
    let fields = if list.trim() == "none" {
        GuestFields::NONE
    } else {
        GuestFields::parse_list(list).map_err(|bad| {
            let known: Vec<&str> = GuestFields::NAMED.iter().map(|(n, _)| *n).collect();
            Failure::usage(format!(
                "--field: unknown field {bad:?}; known: {}",
                known.join(", ")
            ))
        })?
    };
    let vmpl = match number::<u32>(args, "vmpl")? {
        None => Vmpl::ZERO,
        Some(v) => Vmpl::new(v)
            .ok_or_else(|| Failure::usage(format!("--vmpl {v}: expected 0, 1, 2 or 3")))?,
    };
    let tcb_version = match args.value("tcb") {
        None => 0,
        Some(t) => {
            let digits = t.trim().trim_start_matches("0x").trim_start_matches("0X");
            u64::from_str_radix(digits, 16).map_err(|_| {
                Failure::usage(format!(
                    "--tcb {t:?}: expected a TCB_VERSION as up to 16 hex digits (as in a VCEK URL's or THIM's tcbm)"
                ))
            })?
        }
    };
    let root_key = match args.value("root") {
        None | Some("vcek") => RootKey::Vcek,
        Some("vmrk") => RootKey::Vmrk,
        Some(r) => {
            return Err(Failure::usage(format!(
                "--root {r:?}: expected vcek or vmrk"
            )));
        }
    };
    let key_select = match args.value("key-select") {
        None => KeySelect::Default,
        Some(k) => KeySelect::from_name(k).ok_or_else(|| {
            Failure::usage(format!(
                "--key-select {k:?}: expected default, vcek or vlek"
            ))
        })?,
    };
    Ok(KeyRequest {
        root_key,
        key_select,
        fields,
        vmpl,
        guest_svn: number(args, "svn")?.unwrap_or(0),
        tcb_version,
    })
}

/// The key from the simulated PSP, through the core's guest-message layer, if the simulated
/// platform was asked for (`--simulate` or `CSC_SIMULATE`).
#[cfg(feature = "simulate")]
fn simulated(args: &Args, request: &KeyRequest) -> Result<Option<DerivedKey>, Failure> {
    let by_env =
        csc_sev::simulation_requested_by_env().map_err(|e| Failure::usage(e.to_string()))?;
    if !(args.bool("simulate") || by_env) {
        return Ok(None);
    }
    let platform_failure = |e: &dyn std::fmt::Display| Failure::new(exit::PLATFORM, e);
    let chosen = crate::fetch_cmd::choose(args)?;
    let Source::Simulated(platform) = chosen.source else {
        return Err(Failure::usage(
            "--simulate did not select the simulated platform",
        ));
    };
    let cache = csc_simulate::KeyCache::open_default().map_err(|e| platform_failure(&e))?;
    let psp = csc_simulate::SimulatedPsp::new(Arc::from(platform), &cache)
        .map_err(|e| platform_failure(&e))?;
    let vmpl = psp.platform().config().guest_vmpl.get();
    let id = VmpckId::new(vmpl).ok_or_else(|| Failure::usage("guest VMPL above 3"))?;
    let page = psp.secrets_page();
    let mut channel = SecretsPage::parse(&page[..])
        .and_then(|p| p.channel(id))
        .map_err(|e| platform_failure(&e))?;
    let key = channel
        .derive_key(&mut psp.transport(), request)
        .map_err(|e| platform_failure(&format!("MSG_KEY_REQ to the simulated PSP: {e}")))?;
    eprintln!(
        "snp-report: key derived by the simulated PSP over SNP guest messages ({id}; {})",
        chosen.reason
    );
    Ok(Some(key))
}

/// A build without the simulator refuses `--simulate`, the simulated platform's options and
/// `CSC_SIMULATE` instead of falling through to the device.
#[cfg(not(feature = "simulate"))]
fn simulated(args: &Args, _request: &KeyRequest) -> Result<Option<DerivedKey>, Failure> {
    if args.bool("simulate")
        || args.value("product").is_some()
        || args.value("report-version").is_some()
    {
        return Err(Failure::usage(crate::fetch_cmd::NO_SIMULATOR));
    }
    csc_sev::simulation_requested_by_env().map_err(|e| Failure::usage(e.to_string()))?;
    Ok(None)
}

/// `snp-report derive-key`.
pub fn run(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&[
        "field",
        "vmpl",
        "svn",
        "tcb",
        "root",
        "key-select",
        "out",
        "sev-guest",
        "simulate",
        "product",
        "report-version",
    ])?;
    if args.positional().len() > 1 {
        return Err(Failure::usage(USAGE));
    }
    let request = request(args)?;
    let key = match simulated(args, &request)? {
        Some(key) => key,
        None => {
            let device = args.value("sev-guest").unwrap_or(SEV_GUEST_PATH);
            SevGuest::new(device)
                .derived_key(&request)
                .map_err(|e| Failure::new(exit::PLATFORM, e))?
        }
    };
    match args.value("out") {
        Some(path) => {
            write_secret_file(Path::new(path), key.as_bytes())?;
            eprintln!(
                "snp-report: derived key ({}; VMPL {}) written to {path}",
                request.fields,
                request.vmpl.get()
            );
        }
        None => {
            let line = Zeroizing::new(format!("{}\n", csc_core::hex::Hex(key.as_bytes())));
            std::io::stdout()
                .write_all(line.as_bytes())
                .map_err(|e| Failure::usage(format!("standard output: {e}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        crate::args::parse(v.iter().map(|s| s.to_string()), FLAGS).unwrap()
    }

    #[test]
    fn options_make_the_request() {
        let r = request(&args(&[
            "derive-key",
            "--field",
            "measurement,policy",
            "--vmpl",
            "2",
            "--svn",
            "3",
            "--tcb",
            "0xdb18000000000004",
            "--root",
            "vmrk",
            "--key-select",
            "vcek",
        ]))
        .unwrap();
        assert_eq!(r.fields.bits(), 0b1001);
        assert_eq!((r.vmpl.get(), r.guest_svn), (2, 3));
        assert_eq!(r.tcb_version, 0xDB18_0000_0000_0004);
        assert_eq!((r.root_key, r.key_select), (RootKey::Vmrk, KeySelect::Vcek));
        assert_eq!(
            request(&args(&["derive-key", "--field", "none"]))
                .unwrap()
                .fields,
            GuestFields::NONE
        );
        for (bad, says) in [
            (&["--field", "chip_id"][..], "unknown field \"chip_id\""),
            (&["--vmpl", "1"][..], "--field is required"),
            (
                &["--field", "policy", "--vmpl", "4"][..],
                "expected 0, 1, 2 or 3",
            ),
            (&["--field", "policy", "--tcb", "zz"][..], "16 hex digits"),
            (&["--field", "policy", "--svn", "-1"][..], "not a number"),
            (&["--field", "policy", "--root", "vlek"][..], "vcek or vmrk"),
            (
                &["--field", "policy", "--key-select", "x"][..],
                "default, vcek or vlek",
            ),
        ] {
            let mut v = vec!["derive-key"];
            v.extend_from_slice(bad);
            let e = request(&args(&v)).unwrap_err();
            assert!(e.message.contains(says), "{bad:?}: {}", e.message);
        }
    }
}

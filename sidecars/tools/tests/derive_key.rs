//! `snp-report derive-key` as a binary: through the simulated PSP over SNP guest messages
//! (`--simulate`), and through the real ioctl against csc-simulate's `/dev/sev-guest` stand-in
//! (FUSE). Both give the key the simulated PSP derives for the request, so the two paths agree
//! on one chip.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use csc_core::Product;
use csc_core::guest::{GuestFields, KeyRequest, VmpckId};
use csc_core::source::Vmpl;
use csc_simulate::sevguestfs::MountedSevGuest;
use csc_simulate::{Platform, PlatformConfig, SimulatedPsp};

const SNP: &str = env!("CARGO_BIN_EXE_snp-report");

fn scratch(name: &str) -> PathBuf {
    csc_testkit::scratch(&format!("derive-{name}"))
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(SNP);
    c.arg("derive-key")
        .args(args)
        .env_remove(csc_simulate::ENV_VAR)
        .env(
            csc_simulate::CACHE_ENV_VAR,
            csc_testkit::scratch::key_cache_dir(),
        );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn key_of(out: &Output) -> [u8; 32] {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut k = [0u8; 32];
    csc_core::hex::decode_into(text(&out.stdout).trim_end().as_bytes(), &mut k).unwrap();
    k
}

/// The simulated PSP the tool's `--simulate` uses by default (Milan, report version 3), on the
/// same chip (the key cache), for computing the expected key.
fn psp(config: PlatformConfig) -> Arc<SimulatedPsp> {
    let cache = csc_testkit::key_cache();
    let platform = Arc::new(Platform::new(config, &cache).unwrap());
    Arc::new(SimulatedPsp::new(platform, &cache).unwrap())
}

fn expected(psp: &SimulatedPsp, request: &KeyRequest) -> [u8; 32] {
    *psp.derive(VmpckId::new(0).unwrap(), request).unwrap()
}

#[test]
fn the_simulated_path_gives_the_psps_key_and_says_it_is_simulated() {
    let reference = psp(PlatformConfig::new(Product::Milan, 3).unwrap());
    let request = KeyRequest {
        fields: GuestFields::MEASUREMENT.union(GuestFields::POLICY),
        vmpl: Vmpl::new(1).unwrap(),
        guest_svn: 1,
        ..KeyRequest::default()
    };
    let args = [
        "--field",
        "measurement,policy",
        "--vmpl",
        "1",
        "--svn",
        "1",
        "--simulate",
    ];
    let out = run(&args, &[]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains(csc_simulate::WARNING), "{stderr}");
    assert!(
        stderr.contains("over SNP guest messages (VMPCK0"),
        "{stderr}"
    );
    assert!(stderr.contains(csc_simulate::MARKER), "{stderr}");
    let k = key_of(&out);
    assert_eq!(k, expected(&reference, &request));
    // Another run (a new launch with new VMPCKs): the same key. By environment too.
    assert_eq!(key_of(&run(&args[..6], &[(csc_simulate::ENV_VAR, "1")])), k);
    // Other fields, another key; another product, another chip.
    let other = key_of(&run(
        &["--field", "measurement", "--vmpl", "1", "--simulate"],
        &[],
    ));
    assert_ne!(other, k);
    let genoa = key_of(&run(&[&args[..], &["--product", "genoa"]].concat(), &[]));
    assert_ne!(genoa, k);
    // --out: 32 raw bytes, owner-only, also over an existing world-readable file.
    let dir = scratch("out");
    let file = dir.join("sealing.key");
    std::fs::write(&file, b"old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(
        &[&args[..], &["--out", file.to_str().unwrap()]].concat(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "the key goes to the file only");
    assert_eq!(std::fs::read(&file).unwrap(), k);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_simulated_psp_refusals_are_named() {
    for (args, says) in [
        (
            &["--field", "policy", "--root", "vmrk"][..],
            "STATUS 0x27 INVALID_KEY",
        ),
        (
            &["--field", "guest_svn", "--svn", "5"][..],
            "STATUS 0x16 INVALID_PARAM",
        ),
        (
            &["--field", "tcb_version", "--tcb", "ff00000000000000"][..],
            "INVALID_PARAM",
        ),
    ] {
        let out = run(&[args, &["--simulate"]].concat(), &[]);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = run(&["--vmpl", "1", "--simulate"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--field is required"));
}

#[test]
fn the_ioctl_path_against_an_emulated_device_gives_the_same_key() {
    let config = PlatformConfig::new(Product::Milan, 3).unwrap();
    let psp = psp(config);
    let dir = scratch("dev");
    let dev = MountedSevGuest::mount(Arc::clone(&psp), &dir)
        .expect("mounting the FUSE device needs root and /dev/fuse (apt: fuse3)");
    let device = dev.device();
    let device = device.to_str().unwrap();
    let request = KeyRequest {
        fields: GuestFields::MEASUREMENT,
        vmpl: Vmpl::new(2).unwrap(),
        ..KeyRequest::default()
    };
    let k = key_of(&run(
        &[
            "--field",
            "measurement",
            "--vmpl",
            "2",
            "--sev-guest",
            device,
        ],
        &[],
    ));
    assert_eq!(k, expected(&psp, &request));
    assert_eq!(
        dev.stats()
            .guest_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // The simulated path on the same chip agrees.
    let sim = key_of(&run(
        &["--field", "measurement", "--vmpl", "2", "--simulate"],
        &[],
    ));
    assert_eq!(sim, k);
    // The firmware's refusal comes back through the ioctl and is named.
    let out = run(
        &[
            "--field",
            "policy",
            "--key-select",
            "vlek",
            "--sev-guest",
            device,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("refused the guest request: 0x27 INVALID_KEY"),
        "{stderr}"
    );
    // A host failure wipes the driver's key; the tool explains the ENOTTY that follows.
    dev.fail_next_request();
    let out = run(&["--field", "policy", "--sev-guest", device], &[]);
    assert!(text(&out.stderr).contains("BUSY"), "{}", text(&out.stderr));
    let out = run(&["--field", "policy", "--sev-guest", device], &[]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SNP_GET_DERIVED_KEY (0xC0205301)"),
        "{stderr}"
    );
    assert!(stderr.contains("VMPCK"), "{stderr}");
    dev.unmount().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

//! `get-snp-report` and `snp-report fetch` as binaries: the simulated platform (asked for by
//! flag and by environment), a configfs-tsm stand-in mounted with FUSE, the certificate output,
//! and the errors a person meets on a machine without the device.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use csc_core::Product;
use csc_core::report::Report;
use csc_simulate::tsmfs::{Faults, MountedTsm};
use csc_simulate::{Platform, PlatformConfig};

fn scratch(name: &str) -> PathBuf {
    csc_testkit::scratch(&format!("tools-{name}"))
}

/// Runs a tool with the shared key cache and without an inherited CSC_SIMULATE.
fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin);
    c.args(args).env_remove(csc_simulate::ENV_VAR).env(
        csc_simulate::CACHE_ENV_VAR,
        csc_testkit::scratch::key_cache_dir(),
    );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

const GET: &str = env!("CARGO_BIN_EXE_get-snp-report");
const SNP: &str = env!("CARGO_BIN_EXE_snp-report");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Paths where no report interface exists, so nothing real is ever detected by accident.
const NOWHERE: [&str; 6] = [
    "--configfs-tsm",
    "/nonexistent/tsm/report",
    "--sev-guest",
    "/nonexistent/sev-guest",
    "--sev",
    "/nonexistent/sev",
];

#[test]
fn get_snp_report_prints_upstream_hex_and_says_it_is_simulated() {
    for (args, env) in [
        (vec!["0102ab", "--simulate"], vec![]),
        (vec!["0102ab"], vec![(csc_simulate::ENV_VAR, "1")]),
    ] {
        let out = run(GET, &args, &env);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains(csc_simulate::WARNING), "{stderr}");
        assert!(stderr.contains(csc_simulate::MARKER), "{stderr}");
        let stdout = text(&out.stdout);
        assert_eq!(stdout.len(), 2 * 1184 + 1);
        assert!(stdout.ends_with('\n'));
        assert!(
            stdout
                .trim_end()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "lowercase hex"
        );
        let mut bytes = [0u8; 1184];
        csc_core::hex::decode_into(stdout.trim_end().as_bytes(), &mut bytes).unwrap();
        let r = Report::parse(&bytes).unwrap();
        assert_eq!(&r.report_data()[..3], &[1, 2, 0xab]);
        assert!(
            r.report_data()[3..].iter().all(|b| *b == 0),
            "padded, not hashed"
        );

        // snp-report show reads what get-snp-report prints.
        let dir = scratch("show");
        let file = dir.join("report.hex");
        std::fs::write(&file, &out.stdout).unwrap();
        let show = run(SNP, &["show", file.to_str().unwrap(), "--json"], &[]);
        assert!(show.status.success(), "{}", text(&show.stderr));
        assert!(text(&show.stdout).contains("\"report_data\":\"0102ab00"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn get_snp_report_rejects_bad_report_data() {
    for bad in ["zz", "abc", &"00".repeat(65)] {
        let out = run(GET, &[bad, "--simulate"], &[]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let e = text(&out.stderr);
        assert!(e.starts_with("get-snp-report: report data"), "{e}");
        assert!(out.stdout.is_empty());
    }
    let out = run(
        GET,
        &["00", "--simulate"],
        &[(csc_simulate::ENV_VAR, "perhaps")],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("CSC_SIMULATE=\"perhaps\""));
}

#[test]
fn fetch_writes_binary_hex_and_certificates() {
    let dir = scratch("fetch");
    let report = dir.join("report.bin");
    let certs = dir.join("certs");
    let out = run(
        SNP,
        &[
            "fetch",
            "--simulate",
            "--product",
            "turin",
            "--report-version",
            "5",
            "--report-data",
            "cafe",
            "--vmpl",
            "2",
            "--certs-out",
            certs.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(csc_simulate::WARNING), "{stderr}");
    assert!(
        stderr.contains("snp-report: report (version 5, VMPL 2) from simulated: Turin"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ark.der") && stderr.contains("SIMULATED"),
        "{stderr}"
    );
    let bytes = std::fs::read(&report).unwrap();
    let r = Report::parse(&bytes).unwrap();
    assert_eq!(r.product(), Some(Product::Turin));
    assert_eq!(r.vmpl(), 2);
    assert_eq!(&r.report_data()[..2], &[0xca, 0xfe]);
    // The certificates are the simulated chain for this chip.
    let cache = csc_testkit::key_cache();
    let p = Platform::new(PlatformConfig::new(Product::Turin, 5).unwrap(), &cache).unwrap();
    assert_eq!(r.chip_id(), p.chip_id());
    assert_eq!(
        std::fs::read(certs.join("vcek.der")).unwrap(),
        p.chain().vcek
    );
    assert_eq!(std::fs::read(certs.join("ask.der")).unwrap(), p.chain().ask);
    assert_eq!(std::fs::read(certs.join("ark.der")).unwrap(), p.chain().ark);

    // --hex to standard output.
    let out = run(SNP, &["fetch", "--simulate", "--hex"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout.len(), 2 * 1184 + 1);
    // Binary to a pipe is fine.
    let out = run(SNP, &["fetch", "--simulate"], &[]);
    assert_eq!(out.stdout.len(), 1184);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fetch_without_a_device_says_what_to_do() {
    let out = run(SNP, &[&["fetch", "--hex"][..], &NOWHERE].concat(), &[]);
    assert_eq!(out.status.code(), Some(3));
    let e = text(&out.stderr);
    assert!(e.contains("no SEV-SNP report source found"), "{e}");
    assert!(e.contains("--simulate"), "{e}");
    // A file that is not the driver: ENOTTY, named.
    let out = run(
        SNP,
        &[
            "fetch",
            "--hex",
            "--source",
            "sev-guest",
            "--sev-guest",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("ENOTTY"),
        "{}",
        text(&out.stderr)
    );
    // Options that contradict each other, or need --simulate.
    let out = run(SNP, &["fetch", "--simulate", "--source", "sev"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("forced to sev"));
    let out = run(
        SNP,
        &[&["fetch", "--product", "genoa"][..], &NOWHERE].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("need --simulate"));
    let out = run(SNP, &["fetch", "--simulate", "--vmpl", "7"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(
        SNP,
        &[
            "fetch",
            "--simulate",
            "--product",
            "turin",
            "--report-version",
            "2",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Turin: 3 and 5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fetch_through_configfs_tsm_on_fuse() {
    let cache = csc_testkit::key_cache();
    let p =
        Arc::new(Platform::new(PlatformConfig::new(Product::Genoa, 3).unwrap(), &cache).unwrap());
    let mnt = scratch("tsm");
    let m = MountedTsm::mount(Arc::clone(&p), &mnt, Faults::default())
        .expect("mounting the FUSE test filesystem needs root and /dev/fuse");
    let certs = scratch("tsm-certs");
    let out = run(
        SNP,
        &[
            "fetch",
            "--hex",
            "--report-data",
            "77",
            "--configfs-tsm",
            mnt.to_str().unwrap(),
            "--certs-out",
            certs.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("from configfs-tsm: detected"), "{stderr}");
    assert!(
        !stderr.contains("SIMULATED"),
        "the kernel path is not the simulator: {stderr}"
    );
    let mut bytes = [0u8; 1184];
    csc_core::hex::decode_into(text(&out.stdout).trim().as_bytes(), &mut bytes).unwrap();
    let r = Report::parse(&bytes).unwrap();
    assert_eq!(r.report_data()[0], 0x77);
    assert_eq!(r.chip_id(), p.chip_id());
    assert_eq!(
        std::fs::read(certs.join("vcek.der")).unwrap(),
        p.chain().vcek
    );
    m.unmount().unwrap();
    std::fs::remove_dir(&mnt).unwrap();
    std::fs::remove_dir_all(&certs).unwrap();
}

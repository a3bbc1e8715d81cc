//! `tsm-simulate`: a software SEV-SNP guest that production programs cannot tell from a real
//! one. It serves the simulated platform as a configfs-tsm report directory through FUSE at
//! `--mount DIR` (bind it at `/sys/kernel/config/tsm/report` in a private mount namespace or a
//! container volume), and writes what the host of a confidential container group hands over:
//! the security context (`--security-context DIR`: `security-policy-base64`,
//! `host-amd-cert-base64`, `reference-info-base64`), and for the verifiers of a test
//! deployment the simulated ARK (`--ark-out`) and the UVM endorsement signer's certificate
//! (`--uvm-signer-out`). HOST_DATA is SHA-256 of `--security-policy FILE` (default: an
//! allow-all policy). Prints one JSON line when ready and serves until SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use csc_azure::certs::ThimCerts;
use csc_core::Product;
use csc_core::base64::{Alphabet, Base64};
use csc_core::hex::Hex;
use csc_simulate::tsmfs::{Faults, MountedTsm};
use csc_simulate::{KeyCache, Platform, PlatformConfig, UvmSigner};

use crate::args::Args;
use crate::exit::Failure;

/// The usage line.
pub const USAGE: &str = "usage: tsm-simulate --mount DIR [--product milan|genoa|turin] [--report-version 2|3|5] [--security-policy FILE] [--security-context DIR] [--ark-out FILE] [--uvm-signer-out FILE] [--key-cache DIR]";

const VALUES: &[&str] = &[
    "mount",
    "product",
    "report-version",
    "security-policy",
    "security-context",
    "ark-out",
    "uvm-signer-out",
    "key-cache",
];

fn b64(bytes: &[u8]) -> String {
    Base64(bytes, Alphabet::Standard).to_string()
}

fn write(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, contents).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// What the simulated host hands a container group, written into `dir`.
pub fn write_security_context(
    dir: &Path,
    policy: &[u8],
    thim: &ThimCerts,
    endorsement: &[u8],
) -> Result<(), Failure> {
    let thim_json = serde_json::to_vec(thim).map_err(Failure::usage)?;
    write(&dir.join("security-policy-base64"), b64(policy).as_bytes())?;
    write(
        &dir.join("host-amd-cert-base64"),
        b64(&thim_json).as_bytes(),
    )?;
    write(
        &dir.join("reference-info-base64"),
        b64(endorsement).as_bytes(),
    )
}

/// Runs `tsm-simulate` with `args` until SIGTERM or SIGINT.
pub fn run(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(VALUES)?;
    let mount = PathBuf::from(args.value("mount").ok_or_else(|| Failure::usage(USAGE))?);
    let product = crate::input::product_arg(args.value("product"))?.unwrap_or(Product::Milan);
    let version = match args.value("report-version") {
        None => 3,
        Some(v) => v
            .parse()
            .map_err(|_| Failure::usage(format!("--report-version {v:?} is not a number")))?,
    };
    let policy = match args.value("security-policy") {
        Some(p) => std::fs::read(p).map_err(|e| Failure::usage(format!("{p}: {e}")))?,
        None => csc_simulate::DEFAULT_SECURITY_POLICY.as_bytes().to_vec(),
    };
    let cache = match args.value("key-cache") {
        Some(d) => KeyCache::open(d),
        None => KeyCache::open_default(),
    }
    .map_err(Failure::usage)?;
    let config = PlatformConfig::new(product, version)
        .map_err(Failure::usage)?
        .with_security_policy(&policy);
    let platform = Platform::new(config, &cache).map_err(Failure::usage)?;
    eprintln!("{}", csc_simulate::WARNING);
    let chain = platform.chain();
    let thim = ThimCerts::new(
        csc_simulate::pem(chain.vcek),
        platform.reported_tcb().raw(),
        &csc_simulate::pem(chain.ask),
        &csc_simulate::pem(chain.ark),
    );
    let signer = UvmSigner::open(&cache).map_err(Failure::usage)?;
    let endorsement = signer
        .endorse(&platform.config().measurement, platform.config().guest_svn)
        .map_err(Failure::usage)?;
    if let Some(dir) = args.value("security-context") {
        write_security_context(Path::new(dir), &policy, &thim, &endorsement)?;
    }
    if let Some(f) = args.value("ark-out") {
        write(Path::new(f), csc_simulate::pem(chain.ark).as_bytes())?;
    }
    if let Some(f) = args.value("uvm-signer-out") {
        write(
            Path::new(f),
            csc_simulate::pem(signer.cert_der()).as_bytes(),
        )?;
    }
    let host_data = Hex(&platform.config().host_data).to_string();
    let measurement = Hex(&platform.config().measurement).to_string();
    let platform = Arc::new(platform);
    let mounted = MountedTsm::mount(platform, &mount, Faults::default())
        .map_err(|e| Failure::usage(format!("mounting at {}: {e}", mount.display())))?;
    let line = serde_json::json!({
        "mount": mount.display().to_string(),
        "product": product.name(),
        "report_version": version,
        "host_data": host_data,
        "measurement": measurement,
        "security_context": args.value("security-context"),
        "ark": args.value("ark-out"),
        "uvm_signer": args.value("uvm-signer-out"),
    });
    println!("{line}");
    wait_for_signal()?;
    let stats = mounted.stats();
    let reports = stats.reports.load(std::sync::atomic::Ordering::Relaxed);
    mounted
        .unmount()
        .map_err(|e| Failure::usage(format!("unmounting {}: {e}", mount.display())))?;
    eprintln!("tsm-simulate: stopped after signing {reports} reports; unmounted");
    Ok(())
}

fn wait_for_signal() -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("runtime: {e}")))?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::usage(format!("signal: {e}")))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}

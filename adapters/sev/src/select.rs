//! The one place that decides how the platform is reached: detection of the guest's report
//! interface (configfs-tsm, then `/dev/sev-guest`, then `/dev/sev`), forcing one, and (with the
//! `simulate` feature) the simulated platform, which is only ever chosen by name.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use csc_core::abi::REPORT_SIZE;
use csc_core::source::{ReportRequest, ReportSource};

use crate::blocking;
use crate::configfs::{CONFIGFS_TSM_PATH, ConfigfsTsm};
use crate::error::SevError;
use crate::guest::{LegacySev, SEV_GUEST_PATH, SEV_PATH, SevGuest};

/// The kinds of report source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// configfs-tsm (Linux 6.7+).
    ConfigfsTsm,
    /// `/dev/sev-guest` (Linux 6.1+).
    SevGuest,
    /// `/dev/sev` (the 5.15 kernels of ACI's utility VMs).
    Sev,
    /// The software platform of `csc-simulate`; never detected, only chosen by name.
    #[cfg(feature = "simulate")]
    Simulated,
}

impl SourceKind {
    /// Real sources in the order detection tries them.
    pub const DETECTION_ORDER: [SourceKind; 3] = [
        SourceKind::ConfigfsTsm,
        SourceKind::SevGuest,
        SourceKind::Sev,
    ];

    /// The name used in flags and output.
    pub const fn name(self) -> &'static str {
        match self {
            SourceKind::ConfigfsTsm => "configfs-tsm",
            SourceKind::SevGuest => "sev-guest",
            SourceKind::Sev => "sev",
            #[cfg(feature = "simulate")]
            SourceKind::Simulated => "simulated",
        }
    }

    /// Parses a name given by a person (`configfs-tsm`/`configfs`/`tsm`, `sev-guest`, `sev`,
    /// `simulated`/`simulate`).
    pub fn from_name(name: &str) -> Option<SourceKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "configfs-tsm" | "configfs" | "tsm" => Some(SourceKind::ConfigfsTsm),
            "sev-guest" => Some(SourceKind::SevGuest),
            "sev" => Some(SourceKind::Sev),
            #[cfg(feature = "simulate")]
            "simulated" | "simulate" => Some(SourceKind::Simulated),
            _ => None,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the real interfaces live; tests point these elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// configfs-tsm's report directory.
    pub configfs_tsm: PathBuf,
    /// The 6.1+ guest device.
    pub sev_guest: PathBuf,
    /// The 5.15 guest device.
    pub sev: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            configfs_tsm: CONFIGFS_TSM_PATH.into(),
            sev_guest: SEV_GUEST_PATH.into(),
            sev: SEV_PATH.into(),
        }
    }
}

/// What detection found, and why it chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The source chosen.
    pub kind: SourceKind,
    /// One line saying why (for logs and tool output).
    pub reason: String,
}

/// Whether `path` exists. As upstream does, any answer of `stat` other than "no such file"
/// counts as present: opening it will then say precisely what is wrong.
fn present(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(_) => true,
        Err(e) => e.kind() != io::ErrorKind::NotFound,
    }
}

/// Finds the guest's report interface: configfs-tsm (its report directory exists), then
/// `/dev/sev-guest`, then `/dev/sev`. Never chooses the simulated platform.
pub fn detect(paths: &Paths) -> Result<Detection, SevError> {
    let tsm = &paths.configfs_tsm;
    if std::fs::metadata(tsm).is_ok_and(|m| m.is_dir()) {
        return Ok(Detection {
            kind: SourceKind::ConfigfsTsm,
            reason: format!("{} exists", tsm.display()),
        });
    }
    for (kind, path) in [
        (SourceKind::SevGuest, &paths.sev_guest),
        (SourceKind::Sev, &paths.sev),
    ] {
        if present(path) {
            return Ok(Detection {
                kind,
                reason: format!("{} exists; {} does not", path.display(), tsm.display()),
            });
        }
    }
    Err(SevError::NoSource {
        tried: format!(
            "{}, {}, {} do not exist",
            tsm.display(),
            paths.sev_guest.display(),
            paths.sev.display()
        ),
    })
}

/// A report source: one of the kernel interfaces, or the simulated platform.
#[derive(Debug)]
#[non_exhaustive]
pub enum Source {
    /// configfs-tsm.
    ConfigfsTsm(ConfigfsTsm),
    /// `/dev/sev-guest`.
    SevGuest(SevGuest),
    /// `/dev/sev` (5.15).
    Sev(LegacySev),
    /// The simulated platform.
    #[cfg(feature = "simulate")]
    Simulated(Box<csc_simulate::Platform>),
}

impl Source {
    /// The source of a kind at `paths`, without checking that it exists (the first request
    /// says what is wrong). The simulated kind needs a platform: use [`Source::Simulated`].
    pub fn open(kind: SourceKind, paths: &Paths) -> Result<Source, SevError> {
        Ok(match kind {
            SourceKind::ConfigfsTsm => Source::ConfigfsTsm(ConfigfsTsm::new(&paths.configfs_tsm)),
            SourceKind::SevGuest => Source::SevGuest(SevGuest::new(&paths.sev_guest)),
            SourceKind::Sev => Source::Sev(LegacySev::new(&paths.sev)),
            #[cfg(feature = "simulate")]
            SourceKind::Simulated => {
                return Err(SevError::Conflict(
                    "the simulated source is made from a csc_simulate::Platform (Source::Simulated)"
                        .into(),
                ));
            }
        })
    }

    /// Detects the guest's interface and opens it.
    pub fn detect(paths: &Paths) -> Result<(Source, Detection), SevError> {
        let d = detect(paths)?;
        Ok((Source::open(d.kind, paths)?, d))
    }

    /// Which kind this is.
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::ConfigfsTsm(_) => SourceKind::ConfigfsTsm,
            Source::SevGuest(_) => SourceKind::SevGuest,
            Source::Sev(_) => SourceKind::Sev,
            #[cfg(feature = "simulate")]
            Source::Simulated(_) => SourceKind::Simulated,
        }
    }

    /// A report, blocking the calling thread.
    pub fn get_report(&self, request: &ReportRequest) -> Result<[u8; REPORT_SIZE], SevError> {
        match self {
            Source::ConfigfsTsm(s) => s.report(request),
            Source::SevGuest(s) => s.report(request),
            Source::Sev(s) => s.report(request),
            #[cfg(feature = "simulate")]
            Source::Simulated(p) => Ok(p.report(request)?),
        }
    }

    /// A report and the host's certificate table (empty if the host supplies none), blocking
    /// the calling thread. `/dev/sev` cannot return certificates.
    pub fn get_extended_report(
        &self,
        request: &ReportRequest,
    ) -> Result<([u8; REPORT_SIZE], Vec<u8>), SevError> {
        match self {
            Source::ConfigfsTsm(s) => s.extended_report(request),
            Source::SevGuest(s) => s.extended_report(request),
            Source::Sev(_) => Err(SevError::Unsupported {
                source_name: "sev (5.15 /dev/sev)",
                what: "return certificates (it has no extended report); fetch them from THIM or AMD KDS",
            }),
            #[cfg(feature = "simulate")]
            Source::Simulated(p) => Ok((p.report(request)?, p.cert_table().to_vec())),
        }
    }

    fn blocking_clone(&self) -> Option<Source> {
        match self {
            Source::ConfigfsTsm(s) => Some(Source::ConfigfsTsm(s.clone())),
            Source::SevGuest(s) => Some(Source::SevGuest(s.clone())),
            Source::Sev(s) => Some(Source::Sev(s.clone())),
            #[cfg(feature = "simulate")]
            Source::Simulated(_) => None,
        }
    }
}

impl ReportSource for Source {
    type Error = SevError;

    fn name(&self) -> &'static str {
        self.kind().name()
    }

    fn simulated(&self) -> bool {
        #[cfg(feature = "simulate")]
        if let Source::Simulated(_) = self {
            return true;
        }
        false
    }

    async fn report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
    ) -> Result<(), SevError> {
        // Kernel requests block: they run on a worker thread. The simulated platform only
        // computes, so it runs inline.
        let report = match self.blocking_clone() {
            Some(source) => {
                let request = request.clone();
                blocking::run(
                    move || source.get_report(&request),
                    |e| Err(SevError::Thread(e)),
                )
                .await?
            }
            None => self.get_report(request)?,
        };
        *out = report;
        Ok(())
    }

    async fn extended_report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
        certs: &mut [u8],
    ) -> Result<usize, SevError> {
        let (report, table) = match self.blocking_clone() {
            Some(source) => {
                let request = request.clone();
                blocking::run(
                    move || source.get_extended_report(&request),
                    |e| Err(SevError::Thread(e)),
                )
                .await?
            }
            None => self.get_extended_report(request)?,
        };
        let Some(dest) = certs.get_mut(..table.len()) else {
            return Err(SevError::CertsBufferTooSmall {
                needed: table.len(),
                given: certs.len(),
            });
        };
        dest.copy_from_slice(&table);
        *out = report;
        Ok(table.len())
    }
}

/// The variable that asks for the simulated platform (`csc_simulate::ENV_VAR`), named here so
/// that builds without the simulator can refuse it.
pub const SIMULATE_ENV: &str = "CSC_SIMULATE";

/// What [`choose`] is asked.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// Where the real interfaces are.
    pub paths: Paths,
    /// Use this source instead of detecting one.
    pub force: Option<SourceKind>,
    /// The `--simulate` flag (the environment variable is read as well).
    #[cfg(feature = "simulate")]
    pub simulate: bool,
    /// The simulated platform's settings (default: Milan, report version 3).
    #[cfg(feature = "simulate")]
    pub simulation: Option<csc_simulate::PlatformConfig>,
    /// The simulated platform's key cache (default: [`csc_simulate::KeyCache::default_dir`]).
    #[cfg(feature = "simulate")]
    pub key_cache: Option<PathBuf>,
}

/// The source [`choose`] picked and why.
#[derive(Debug)]
pub struct Chosen {
    /// The source.
    pub source: Source,
    /// One line saying which source and why (e.g. `sev-guest: /dev/sev-guest exists; ...`).
    pub reason: String,
}

impl Chosen {
    /// True if the source is the simulated platform.
    pub fn simulated(&self) -> bool {
        self.source.simulated()
    }
}

/// Decides the report source: the simulated platform when asked for by name (the flag,
/// [`csc_simulate::ENV_VAR`], or forcing `simulated`), else a forced kind, else detection.
/// When the simulated platform is chosen, [`csc_simulate::WARNING`] is printed on stderr.
pub fn choose(choice: &Choice) -> Result<Chosen, SevError> {
    choose_with(choice, simulation_requested_by_env()?)
}

/// Whether [`SIMULATE_ENV`] asks for the simulated platform. A build without the simulator
/// refuses the request (an error) instead of letting it fall through to detection silently.
pub fn simulation_requested_by_env() -> Result<bool, SevError> {
    #[cfg(feature = "simulate")]
    {
        Ok(csc_simulate::requested_by_env()?)
    }
    #[cfg(not(feature = "simulate"))]
    {
        if std::env::var_os(SIMULATE_ENV).is_some_and(|v| {
            !matches!(
                v.to_string_lossy().trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            )
        }) {
            return Err(SevError::Conflict(format!(
                "{SIMULATE_ENV} is set, but this build has no simulated platform (built without the `simulate` feature, as production programs are); unset it on an SEV-SNP guest, or serve a simulated guest with tsm-simulate"
            )));
        }
        Ok(false)
    }
}

/// [`choose`] with the environment variable's answer given.
fn choose_with(choice: &Choice, by_env: bool) -> Result<Chosen, SevError> {
    #[cfg(not(feature = "simulate"))]
    let _ = by_env;
    #[cfg(feature = "simulate")]
    {
        let by_force = choice.force == Some(SourceKind::Simulated);
        if choice.simulate || by_env || by_force {
            if let Some(kind) = choice.force.filter(|k| *k != SourceKind::Simulated) {
                return Err(SevError::Conflict(format!(
                    "the simulated platform was asked for ({}) but the source is forced to {kind}",
                    if choice.simulate {
                        "--simulate".to_string()
                    } else {
                        format!("{}=1", csc_simulate::ENV_VAR)
                    }
                )));
            }
            let config = match &choice.simulation {
                Some(c) => c.clone(),
                None => csc_simulate::PlatformConfig::new(csc_core::Product::Milan, 3)?,
            };
            let cache = match &choice.key_cache {
                Some(d) => csc_simulate::KeyCache::open(d)?,
                None => csc_simulate::KeyCache::open_default()?,
            };
            let platform = csc_simulate::Platform::new(config, &cache)?;
            eprintln!("{}", csc_simulate::WARNING);
            let why = if choice.simulate {
                "asked for with --simulate".to_string()
            } else if by_env {
                format!("asked for with {}=1", csc_simulate::ENV_VAR)
            } else {
                "forced".to_string()
            };
            return Ok(Chosen {
                reason: format!(
                    "simulated: {} platform, report version {}, {why} [{}]",
                    platform.product(),
                    platform.config().version,
                    csc_simulate::MARKER
                ),
                source: Source::Simulated(Box::new(platform)),
            });
        }
    }
    if let Some(kind) = choice.force {
        return Ok(Chosen {
            source: Source::open(kind, &choice.paths)?,
            reason: format!("{kind}: forced"),
        });
    }
    let (source, d) = Source::detect(&choice.paths)?;
    Ok(Chosen {
        reason: format!("{}: detected ({})", d.kind, d.reason),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(PathBuf);
    impl Fake {
        fn new(name: &str) -> Fake {
            let d =
                std::env::temp_dir().join(format!("csc-sev-select-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Fake(d)
        }
        fn paths(&self) -> Paths {
            Paths {
                configfs_tsm: self.0.join("tsm/report"),
                sev_guest: self.0.join("sev-guest"),
                sev: self.0.join("sev"),
            }
        }
    }
    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn detection_order_is_configfs_then_sev_guest_then_sev() {
        let f = Fake::new("order");
        let p = f.paths();
        let e = detect(&p).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("no SEV-SNP report source") && m.contains("--simulate"),
            "{m}"
        );
        std::fs::write(&p.sev, b"").unwrap();
        assert_eq!(detect(&p).unwrap().kind, SourceKind::Sev);
        std::fs::write(&p.sev_guest, b"").unwrap();
        let d = detect(&p).unwrap();
        assert_eq!(d.kind, SourceKind::SevGuest);
        assert!(d.reason.contains("sev-guest exists"), "{}", d.reason);
        // A file where configfs-tsm's directory should be does not count.
        std::fs::create_dir_all(p.configfs_tsm.parent().unwrap()).unwrap();
        std::fs::write(&p.configfs_tsm, b"").unwrap();
        assert_eq!(detect(&p).unwrap().kind, SourceKind::SevGuest);
        std::fs::remove_file(&p.configfs_tsm).unwrap();
        std::fs::create_dir(&p.configfs_tsm).unwrap();
        assert_eq!(detect(&p).unwrap().kind, SourceKind::ConfigfsTsm);
        let (s, _) = Source::detect(&p).unwrap();
        assert_eq!(s.kind(), SourceKind::ConfigfsTsm);
    }

    #[test]
    // Without the simulate feature `Choice` has only the fields given.
    #[allow(clippy::needless_update)]
    fn forcing_a_source_skips_detection_and_it_says_so() {
        let f = Fake::new("force");
        let choice = Choice {
            paths: f.paths(),
            force: Some(SourceKind::Sev),
            ..Choice::default()
        };
        let c = choose_with(&choice, false).unwrap();
        assert_eq!(c.source.kind(), SourceKind::Sev);
        assert_eq!(c.reason, "sev: forced");
        assert!(!c.simulated());
        // The forced device is missing: the request says so.
        let e = c
            .source
            .get_report(&ReportRequest::new([0; 64], csc_core::source::Vmpl::ZERO));
        assert!(matches!(e, Err(SevError::Missing { .. })));
        let e = c
            .source
            .get_extended_report(&ReportRequest::new([0; 64], csc_core::source::Vmpl::ZERO));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("cannot return certificates")
        );
        let none = choose_with(
            &Choice {
                paths: f.paths(),
                ..Choice::default()
            },
            false,
        );
        assert!(matches!(none, Err(SevError::NoSource { .. })));
    }

    #[test]
    fn names_round_trip() {
        for k in SourceKind::DETECTION_ORDER {
            assert_eq!(SourceKind::from_name(k.name()), Some(k));
        }
        assert_eq!(SourceKind::from_name("TSM"), Some(SourceKind::ConfigfsTsm));
        assert_eq!(SourceKind::from_name("tpm"), None);
    }

    #[cfg(feature = "simulate")]
    #[test]
    fn the_simulated_platform_is_only_chosen_by_name() {
        let f = Fake::new("sim");
        std::fs::write(f.paths().sev_guest, b"").unwrap();
        // The key cache the integration tests share (<target>/tmp), found from this test
        // binary's path (<target>/debug/deps/...), so keys are not generated again.
        let exe = std::env::current_exe().unwrap();
        let keys = exe
            .ancestors()
            .nth(3)
            .unwrap()
            .join("tmp/csc-simulate-keys");
        let base = Choice {
            paths: f.paths(),
            key_cache: Some(keys.clone()),
            ..Choice::default()
        };
        // Not asked: detection, never simulation.
        let c = choose_with(&base, false).unwrap();
        assert_eq!(c.source.kind(), SourceKind::SevGuest);
        assert!(!c.simulated());
        // Asked by flag, by environment, by forcing.
        for (choice, env, why) in [
            (
                Choice {
                    simulate: true,
                    ..base.clone()
                },
                false,
                "--simulate",
            ),
            (base.clone(), true, "CSC_SIMULATE=1"),
            (
                Choice {
                    force: Some(SourceKind::Simulated),
                    ..base.clone()
                },
                false,
                "forced",
            ),
        ] {
            let c = choose_with(&choice, env).unwrap();
            assert!(c.simulated());
            assert_eq!(c.source.kind(), SourceKind::Simulated);
            assert!(
                c.reason.contains(why) && c.reason.contains("SIMULATED"),
                "{}",
                c.reason
            );
            let r = c
                .source
                .get_report(&ReportRequest::new([1; 64], csc_core::source::Vmpl::ZERO))
                .unwrap();
            assert_eq!(csc_core::Report::parse(&r).unwrap().report_data(), &[1; 64]);
        }
        // Asked for and forced to real hardware at once: refuse rather than guess.
        let both = Choice {
            simulate: true,
            force: Some(SourceKind::SevGuest),
            ..base.clone()
        };
        let e = choose_with(&both, false).unwrap_err();
        assert!(e.to_string().contains("forced to sev-guest"), "{e}");
        assert!(Source::open(SourceKind::Simulated, &f.paths()).is_err());
    }
}

//! configfs-tsm (Linux 6.7+): `/sys/kernel/config/tsm/report`.
//!
//! A report is one directory entry: create it, write `privlevel` (the VMPL) and `inblob` (the
//! 64 bytes of report data), read `outblob` (the report) and `auxblob` (the host's certificate
//! table), then remove the entry. The kernel bumps the entry's `generation` on every write; we
//! know how many writes we made to our fresh entry, so a different count after reading means
//! someone else wrote in between and the report may answer their request. The attempt is then
//! repeated on a new entry, a bounded number of times.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use csc_core::abi::REPORT_SIZE;
use csc_core::source::ReportRequest;

use crate::certtable;
use crate::error::SevError;

/// Where configfs-tsm's report directory is.
pub const CONFIGFS_TSM_PATH: &str = "/sys/kernel/config/tsm/report";
/// The `provider` of SEV-SNP guests.
pub const SEV_PROVIDER: &str = "sev_guest";
/// Attempts before a generation race is reported as an error.
pub const MAX_ATTEMPTS: u32 = 3;
/// Largest blob read (the kernel caps outblob and auxblob at 32 KiB; allow growth).
pub const MAX_BLOB: u64 = 1 << 20;

/// Attribute names of a report entry.
pub mod attr {
    /// Report data in (binary, up to 64 bytes; committed when the file is closed).
    pub const INBLOB: &str = "inblob";
    /// The report out.
    pub const OUTBLOB: &str = "outblob";
    /// The certificate table out (SEV).
    pub const AUXBLOB: &str = "auxblob";
    /// Write counter.
    pub const GENERATION: &str = "generation";
    /// Which TEE driver serves the entry.
    pub const PROVIDER: &str = "provider";
    /// The VMPL to report at.
    pub const PRIVLEVEL: &str = "privlevel";
    /// The lowest (most privileged) VMPL this guest can ask for.
    pub const PRIVLEVEL_FLOOR: &str = "privlevel_floor";
}

/// The configfs-tsm report interface.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    root: PathBuf,
}

/// An entry directory, removed when dropped.
struct Entry {
    path: PathBuf,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Nothing useful can be done if removal fails; the kernel frees it at reboot.
        let _ = fs::remove_dir(&self.path);
    }
}

/// An I/O error on an entry attribute; a missing one means the directory is not configfs-tsm.
fn attr_error(op: &'static str, path: &Path, e: io::Error) -> SevError {
    if e.kind() == io::ErrorKind::NotFound {
        SevError::Missing {
            path: path.to_path_buf(),
            hint: "the report entry lacks this attribute, so the directory is not configfs-tsm (or the kernel is too old)",
        }
    } else {
        SevError::io(op, path, e)
    }
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, SevError> {
    let mut buf = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
        .map_err(|e| attr_error("reading", path, e))?;
    if buf.len() as u64 > limit {
        return Err(SevError::Io {
            op: "reading",
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than {limit} bytes"),
            ),
        });
    }
    Ok(buf)
}

fn read_text(path: &Path) -> Result<String, SevError> {
    let bytes = read_bounded(path, 4096)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

fn read_number(path: &Path) -> Result<u64, SevError> {
    let text = read_text(path)?;
    text.parse().map_err(|_| SevError::Io {
        op: "reading",
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{:?} is not a number",
                text.chars().take(32).collect::<String>()
            ),
        ),
    })
}

/// Writes `bytes` in one write and closes the file (configfs binary attributes commit on close).
fn write_attr(path: &Path, bytes: &[u8]) -> Result<(), SevError> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| attr_error("opening", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .map_err(|e| SevError::io("writing", path, e))?;
    // Closing is what commits a binary attribute; the kernel reports no error at close, so a
    // bad value shows up when outblob is read.
    drop(f);
    Ok(())
}

impl ConfigfsTsm {
    /// The report directory at `root` (normally [`CONFIGFS_TSM_PATH`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ConfigfsTsm { root: root.into() }
    }

    /// The report directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A report (blocking).
    pub fn report(&self, request: &ReportRequest) -> Result<[u8; REPORT_SIZE], SevError> {
        self.get(request, false).map(|(r, _)| r)
    }

    /// A report and the host's certificate table, empty when the host supplies none (blocking).
    pub fn extended_report(
        &self,
        request: &ReportRequest,
    ) -> Result<([u8; REPORT_SIZE], Vec<u8>), SevError> {
        self.get(request, true)
    }

    fn get(
        &self,
        request: &ReportRequest,
        certs: bool,
    ) -> Result<([u8; REPORT_SIZE], Vec<u8>), SevError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(request, certs) {
                Err(SevError::Race {
                    path,
                    expected,
                    actual,
                    ..
                }) => {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(SevError::Race {
                            path,
                            expected,
                            actual,
                            attempts: attempt,
                        });
                    }
                }
                other => return other,
            }
        }
    }

    fn new_entry(&self) -> Result<Entry, SevError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = self.root.join(format!(
            "csc-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&path) {
            Ok(()) => Ok(Entry { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(SevError::Missing {
                path: self.root.clone(),
                hint: "configfs-tsm is not available (kernel 6.7+ with the tsm module, configfs mounted at /sys/kernel/config)",
            }),
            Err(e) => Err(SevError::io("creating report entry", &path, e)),
        }
    }

    fn attempt(
        &self,
        request: &ReportRequest,
        want_certs: bool,
    ) -> Result<([u8; REPORT_SIZE], Vec<u8>), SevError> {
        let entry = self.new_entry()?;
        let at = |name: &str| entry.path.join(name);

        let provider_path = at(attr::PROVIDER);
        if provider_path.exists() {
            let provider = read_text(&provider_path)?;
            if provider != SEV_PROVIDER {
                return Err(SevError::WrongProvider {
                    path: self.root.clone(),
                    provider,
                });
            }
        }
        let floor_path = at(attr::PRIVLEVEL_FLOOR);
        if floor_path.exists() {
            let floor = read_number(&floor_path)?;
            if u64::from(request.vmpl.get()) < floor {
                return Err(SevError::Vmpl {
                    vmpl: request.vmpl,
                    why: format!(
                        "this guest runs at VMPL {floor} ({}) and can only get reports at VMPL {floor} or higher numbers",
                        floor_path.display()
                    ),
                });
            }
        }
        let mut writes = 0u64;
        let privlevel = at(attr::PRIVLEVEL);
        if privlevel.exists() {
            write_attr(&privlevel, request.vmpl.get().to_string().as_bytes())?;
            writes += 1;
        } else if request.vmpl.get() != 0 {
            return Err(SevError::Vmpl {
                vmpl: request.vmpl,
                why: "this kernel's configfs-tsm has no privlevel attribute (only VMPL 0)".into(),
            });
        }
        write_attr(&at(attr::INBLOB), &request.report_data)?;
        writes += 1;

        let outblob = at(attr::OUTBLOB);
        let report = read_bounded(&outblob, MAX_BLOB)?;
        let certs = if want_certs {
            let aux = at(attr::AUXBLOB);
            if !aux.exists() {
                return Err(SevError::Unsupported {
                    source_name: "configfs-tsm",
                    what: "return certificates on this kernel (no auxblob attribute)",
                });
            }
            let mut table = read_bounded(&aux, MAX_BLOB)?;
            let extent = certtable::parse(&table)?.extent();
            table.truncate(extent);
            table
        } else {
            Vec::new()
        };
        let generation = read_number(&at(attr::GENERATION))?;
        if generation != writes {
            return Err(SevError::Race {
                path: entry.path.clone(),
                expected: writes,
                actual: generation,
                attempts: 0,
            });
        }
        let report: [u8; REPORT_SIZE] =
            report.as_slice().try_into().map_err(|_| SevError::Short {
                what: outblob.display().to_string(),
                expected: REPORT_SIZE,
                actual: report.len(),
            })?;
        drop(entry);
        Ok((report, certs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use csc_core::source::Vmpl;

    fn req(vmpl: u32) -> ReportRequest {
        ReportRequest::new([3; 64], Vmpl::new(vmpl).unwrap())
    }

    #[test]
    fn a_missing_root_says_configfs_tsm_is_not_there() {
        let e = ConfigfsTsm::new("/nonexistent/tsm/report")
            .report(&req(0))
            .unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, SevError::Missing { .. }), "{m}");
        assert!(m.contains("configfs-tsm is not available"), "{m}");
    }

    // A plain directory is not configfs: mkdir gives an empty entry without attributes. The
    // adapter must fail cleanly and remove its entry. (The FUSE test in tests/ exercises the
    // real behaviour.)
    #[test]
    fn a_plain_directory_fails_cleanly_and_leaves_nothing_behind() {
        let root = std::env::temp_dir().join(format!("csc-tsm-plain-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let e = ConfigfsTsm::new(&root).report(&req(0)).unwrap_err();
        assert!(e.to_string().contains("inblob does not exist"), "{e}");
        assert!(e.to_string().contains("not configfs-tsm"), "{e}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "entry removed");
        fs::remove_dir_all(&root).unwrap();
        // VMPL above 0 without a privlevel attribute is refused before anything is written.
        fs::create_dir_all(&root).unwrap();
        let e = ConfigfsTsm::new(&root).report(&req(2)).unwrap_err();
        assert!(e.to_string().contains("no privlevel attribute"), "{e}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "entry removed");
        fs::remove_dir_all(&root).unwrap();
    }
}

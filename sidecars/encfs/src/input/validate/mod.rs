//! Checks the decoded input completely before anything is touched, and turns it into a plan
//! ([`super::plan`]). Every problem names its member path; all of them are reported in one go.
//! The image source is checked in `source`, the key in `key`; the mount points, their overlaps
//! and `azure_info` here.

mod key;
mod source;

use std::path::{Component, Path, PathBuf};

use super::decode::{FieldPath, Problem};
use super::model::{AzureFilesystem, AzureInfo, EncfsSideCarArgs};
use super::plan::{FS_DIR_PREFIX, FilesystemPlan, KeySpec, MAX_FILESYSTEMS, Plan};

/// Checks `args` and builds the plan, or returns every problem found.
pub fn validate(args: EncfsSideCarArgs, warnings: Vec<Problem>) -> Result<Plan, Vec<Problem>> {
    let mut v = Validator {
        errors: Vec::new(),
        warnings,
    };
    let root = FieldPath::root();
    let fss = root.child("azure_filesystems");
    if args.azure_filesystems.is_empty() {
        v.error(&fss, "no filesystem to mount");
    } else if args.azure_filesystems.len() > MAX_FILESYSTEMS {
        v.error(
            &fss,
            format!(
                "{} filesystems; at most {MAX_FILESYSTEMS} are supported",
                args.azure_filesystems.len()
            ),
        );
    }
    let mut plans = Vec::new();
    for (i, fs) in args.azure_filesystems.iter().enumerate() {
        if let Some(p) = v.filesystem(i, fs, &fss.index(i)) {
            plans.push(p);
        }
    }
    v.overlaps(&plans, &fss);
    let releases = plans
        .iter()
        .any(|p| matches!(p.key, KeySpec::Release { .. }));
    v.azure_info(&args.azure_info, &root.child("azure_info"), releases);
    if v.errors.is_empty() {
        Ok(Plan {
            azure_info: args.azure_info,
            filesystems: plans,
            warnings: v.warnings,
        })
    } else {
        Err(v.errors)
    }
}

/// The problems found so far, and the warnings.
struct Validator {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// True if `s` holds white space or control characters.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl Validator {
    fn error(&mut self, path: &FieldPath, msg: impl Into<String>) {
        self.errors.push(Problem::new(path, msg));
    }

    fn warn(&mut self, path: &FieldPath, msg: impl Into<String>) {
        self.warnings.push(Problem::new(path, msg));
    }

    fn filesystem(
        &mut self,
        index: usize,
        fs: &AzureFilesystem,
        path: &FieldPath,
    ) -> Option<FilesystemPlan> {
        let before = self.errors.len();
        let mount_point = self.mount_point(&fs.mount_point, &path.child("mount_point"));
        let source = self.source(fs, path);
        let key = self.key(fs, path);
        if self.errors.len() != before {
            return None;
        }
        Some(FilesystemPlan {
            index,
            mount_point: mount_point?,
            source: source?,
            read_write: fs.read_write,
            key: key?,
        })
    }

    fn mount_point(&mut self, mp: &str, path: &FieldPath) -> Option<PathBuf> {
        let problem = if mp.is_empty() {
            Some("required (an absolute path whose parent directory exists)".to_string())
        } else if mp == "/" {
            Some("cannot be /".into())
        } else if mp.contains('\0') {
            Some("contains a NUL byte".into())
        } else if !mp.starts_with('/') {
            Some(format!("{mp:?} is not an absolute path"))
        } else if mp.len() > 4000 {
            Some("longer than 4000 bytes".into())
        } else if mp.ends_with('/') || mp.contains("//") {
            Some(format!(
                "{mp:?} must be a plain path (no trailing '/', no '//')"
            ))
        } else if Path::new(mp)
            .components()
            .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
        {
            Some(format!("{mp:?} must not contain '.' or '..' components"))
        } else if Path::new(mp)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(FS_DIR_PREFIX))
        {
            Some(format!(
                "{mp:?}: names starting with {FS_DIR_PREFIX:?} are where filesystems are mounted"
            ))
        } else {
            None
        };
        match problem {
            Some(p) => {
                self.error(path, p);
                None
            }
            None => Some(PathBuf::from(mp)),
        }
    }

    fn azure_info(&mut self, info: &AzureInfo, path: &FieldPath, releases: bool) {
        let c = &info.certcache;
        let cp = path.child("certcache").child("endpoint_type");
        match c.endpoint_type.as_str() {
            "" | "AMD" | "AzCache" | "LocalTHIM" => {}
            other => self.error(
                &cp,
                format!("unknown endpoint type {other:?} (expected AMD, AzCache or LocalTHIM)"),
            ),
        }
        if !releases && *c != Default::default() {
            self.warn(
                &path.child("certcache"),
                "unused: no filesystem releases a key",
            );
        }
        let id = &info.identity.client_id;
        if !id.is_empty() && !is_guid(id) {
            self.error(
                &path.child("identity").child("client_id"),
                format!("{id:?} is not a client id (a GUID)"),
            );
        }
    }

    /// Mount points must differ and none may lie under another.
    fn overlaps(&mut self, plans: &[FilesystemPlan], path: &FieldPath) {
        for (a, pa) in plans.iter().enumerate() {
            for pb in plans.iter().skip(a + 1) {
                let p = path.index(pb.index).child("mount_point");
                if pa.mount_point == pb.mount_point {
                    self.error(
                        &p,
                        format!("same mount point as azure_filesystems[{}]", pa.index),
                    );
                } else if pb.mount_point.starts_with(&pa.mount_point)
                    || pa.mount_point.starts_with(&pb.mount_point)
                {
                    self.error(
                        &p,
                        format!(
                            "nested with the mount point of azure_filesystems[{}]",
                            pa.index
                        ),
                    );
                }
            }
        }
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

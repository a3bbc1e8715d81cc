//! Checks the decoded input completely before anything is touched, and turns it into a plan:
//! one entry per filesystem with a typed source and key. Every problem names its member path;
//! all of them are reported in one go.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::decode::{FieldPath, Problem};
use super::model::{AzureFilesystem, AzureInfo, EncfsSideCarArgs, KeyBlob, redact_url};
use super::secret::SecretBytes;

/// At most this many filesystems (each takes a loop device and a FUSE mount).
pub const MAX_FILESYSTEMS: usize = 64;
/// Longest raw key accepted, in bytes (it is a key file's contents).
pub const MAX_RAW_KEY: usize = 8192;
/// HKDF info used when `key_derivation.label` is empty (upstream's default).
pub use csc_core::keywrap::hkdf::DEFAULT_LABEL;
/// What upstream writes into `key.akv.api_version` whatever the input says.
pub const AKV_API_VERSION: &str = "api-version=7.4";
/// What upstream writes into `key.authority.api_version`.
pub const MAA_API_VERSION: &str = "api-version=2020-10-01";
/// What upstream writes into `key.authority.tee_type`.
pub const MAA_TEE_TYPE: &str = "SevSnpVM";
/// Prefix of the directory each filesystem is mounted on, next to its mount point.
pub const FS_DIR_PREFIX: &str = ".filesystem-";

/// Where an image is read from.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local file (`file://` URL), for testing.
    Local(PathBuf),
    /// A blob.
    Blob {
        /// The blob URL (may carry a SAS token: never log it unredacted).
        url: String,
        /// Use bearer tokens (`azure_url_private`).
        private: bool,
    },
}

impl fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "Local({})", p.display()),
            Self::Blob { url, private } => {
                write!(f, "Blob({}, private: {private})", redact_url(url))
            }
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "file://{}", p.display()),
            Self::Blob { url, .. } => f.write_str(&redact_url(url)),
        }
    }
}

/// The key type the input declares (`key.kty`), as far as encfs cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `kty` not given: whatever is released decides.
    Unspecified,
    /// `oct` or `oct-HSM`: the released key is the key file (32 bytes).
    Oct,
    /// `RSA` or `RSA-HSM`: the key file is derived from the private exponent with HKDF.
    Rsa,
}

/// HKDF parameters for an RSA key, checked (the core's derivation takes them as they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derivation {
    /// The salt as hex text, as upstream passes it to `hex.DecodeString` (empty: HKDF's zero
    /// salt).
    pub salt_hex: String,
    /// The info string.
    pub label: String,
}

/// How the key file of one filesystem is obtained.
#[derive(Clone, Debug)]
pub enum KeySpec {
    /// `raw_key`: the key file's bytes, given directly (testing).
    Raw(SecretBytes),
    /// Secure key release of `key`, then the key file from the released key.
    Release {
        /// The key block, with upstream's fixed API versions and TEE type filled in.
        key: Box<KeyBlob>,
        /// What `kty` declared.
        kty: KeyType,
        /// HKDF parameters, if given.
        derivation: Option<Derivation>,
    },
}

/// One filesystem, checked.
#[derive(Clone, Debug)]
pub struct FilesystemPlan {
    /// Position in `azure_filesystems` (names `.filesystem-<index>`, as upstream).
    pub index: usize,
    /// The symlink to publish.
    pub mount_point: PathBuf,
    /// Where the image is.
    pub source: SourceSpec,
    /// Mount read-write.
    pub read_write: bool,
    /// Where the key comes from.
    pub key: KeySpec,
}

impl FilesystemPlan {
    /// The directory the filesystem is mounted on (`<parent>/.filesystem-<index>`).
    pub fn fs_dir(&self) -> PathBuf {
        self.parent().join(format!("{FS_DIR_PREFIX}{}", self.index))
    }

    /// The mount point's parent directory.
    pub fn parent(&self) -> &Path {
        self.mount_point.parent().unwrap_or(Path::new("/"))
    }

    /// The name csc-mount uses for devices and directories.
    pub fn name(&self) -> String {
        self.index.to_string()
    }
}

/// The whole input, checked.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Key release settings.
    pub azure_info: AzureInfo,
    /// The filesystems, in input order.
    pub filesystems: Vec<FilesystemPlan>,
    /// Things worth saying that do not stop the run (unknown members, ignored fields).
    pub warnings: Vec<Problem>,
}

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

struct Validator {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The HKDF salt: hex as Go's `hex.DecodeString` reads it (no white space), at most the
/// core's [`MAX_SALT_LEN`](csc_core::keywrap::hkdf::MAX_SALT_LEN) bytes.
fn check_salt(text: &str) -> Result<(), String> {
    use csc_core::keywrap::hkdf::MAX_SALT_LEN;
    if let Some(offset) = text.bytes().position(csc_core::hex::is_space) {
        return Err(format!("not hex text (offset {offset} is not a hex digit)"));
    }
    let len = hex_bytes(text)?.len();
    if len > MAX_SALT_LEN {
        return Err(format!("{len} bytes; at most {MAX_SALT_LEN}"));
    }
    Ok(())
}

/// The key file bytes or salt from hex text, without echoing secret digits on error.
fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let len = csc_core::hex::decoded_len(text.as_bytes()).map_err(|e| match e {
        csc_core::error::HexError::InvalidDigit { offset, .. } => {
            format!("not hex text (offset {offset} is not a hex digit)")
        }
        csc_core::error::HexError::OddLength => "hex text has an odd number of digits".into(),
        other => other.to_string(),
    })?;
    let mut out = vec![0u8; len];
    csc_core::hex::decode_into(text.as_bytes(), &mut out).map_err(|e| e.to_string())?;
    Ok(out)
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

    fn source(&mut self, fs: &AzureFilesystem, path: &FieldPath) -> Option<SourceSpec> {
        let p = path.child("azure_url");
        let url = fs.azure_url.as_str();
        if url.is_empty() {
            self.error(&p, "required (https://<account>.blob.core.windows.net/<container>/<blob>, or file:///path for a local image)");
            return None;
        }
        if has_control(url) {
            self.error(&p, "contains white space or control characters");
            return None;
        }
        if let Some(rest) = strip_scheme(url, "file://") {
            if fs.azure_url_private {
                self.error(
                    &path.child("azure_url_private"),
                    "only applies to blob URLs, not file:// sources",
                );
            }
            return self.file_url(rest, &p);
        }
        let private = fs.azure_url_private;
        let rest = if let Some(rest) = strip_scheme(url, "https://") {
            rest
        } else if let Some(rest) = strip_scheme(url, "http://") {
            if private {
                self.error(
                    &path.child("azure_url_private"),
                    "a private blob over http:// would send the bearer token in clear text; use https://",
                );
                return None;
            }
            self.warn(&p, "plain http:// blob URL: the image is read without TLS");
            rest
        } else {
            self.error(
                &p,
                format!(
                    "{} is not an https:// blob URL (or file:///path for a local image)",
                    redact_url(url)
                ),
            );
            return None;
        };
        let (host, blob) = rest.split_once('/').unwrap_or((rest, ""));
        let blob = blob.split(['?', '#']).next().unwrap_or("");
        if host.is_empty() || host.contains('@') {
            self.error(&p, format!("{}: no valid host", redact_url(url)));
            return None;
        }
        let mut segments = blob.split('/');
        let container = segments.next().unwrap_or("");
        if container.is_empty() || segments.next_back().is_none_or(str::is_empty) {
            // Blob paths are <container>/<blob>; emulators put the account first.
            self.error(
                &p,
                format!(
                    "{}: the path must name a container and a blob",
                    redact_url(url)
                ),
            );
            return None;
        }
        if url.contains('#') {
            self.error(&p, "must not contain a fragment ('#')");
            return None;
        }
        Some(SourceSpec::Blob {
            url: url.to_string(),
            private,
        })
    }

    fn file_url(&mut self, rest: &str, p: &FieldPath) -> Option<SourceSpec> {
        let path = if let Some(r) = rest.strip_prefix("localhost/") {
            format!("/{r}")
        } else {
            rest.to_string()
        };
        if !path.starts_with('/') {
            self.error(
                p,
                "a file:// URL needs an absolute path (file:///dir/image or file://localhost/dir/image)",
            );
            return None;
        }
        if path.contains(['?', '#']) {
            self.error(p, "a file:// URL takes no query or fragment");
            return None;
        }
        match percent_decode(&path) {
            Some(decoded) if !decoded.contains('\0') => Some(SourceSpec::Local(decoded.into())),
            _ => {
                self.error(p, "invalid %-escape in the file:// URL");
                None
            }
        }
    }

    fn key(&mut self, fs: &AzureFilesystem, path: &FieldPath) -> Option<KeySpec> {
        let key = &fs.key;
        let kp = path.child("key");
        let raw = fs.raw_key.expose();
        match (key.kid.is_empty(), raw.is_empty()) {
            (false, false) => {
                self.error(
                    path,
                    "both key.kid and raw_key are given; give exactly one (raw_key is for testing only)",
                );
                return None;
            }
            (true, true) => {
                self.error(
                    &kp.child("kid"),
                    "required: the key to release (or raw_key, hex, for testing)",
                );
                return None;
            }
            (true, false) => {
                let rp = path.child("raw_key");
                return match hex_bytes(raw) {
                    Err(e) => {
                        self.error(&rp, e);
                        None
                    }
                    Ok(b) if b.is_empty() => {
                        self.error(&rp, "empty key");
                        None
                    }
                    Ok(b) if b.len() > MAX_RAW_KEY => {
                        self.error(&rp, format!("{} bytes; at most {MAX_RAW_KEY}", b.len()));
                        None
                    }
                    Ok(b) => {
                        if fs.key_derivation.is_some() {
                            self.warn(
                                &path.child("key_derivation"),
                                "ignored with raw_key (the raw key is the key file)",
                            );
                        }
                        Some(KeySpec::Raw(SecretBytes::new(b)))
                    }
                };
            }
            (false, true) => {}
        }
        let before = self.errors.len();
        // `name` or `name/version` (upstream puts kid into the release URL's path as is).
        let (name, version) = key.kid.split_once('/').unwrap_or((&key.kid, "x"));
        let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !word(name)
            || name.len() > 127
            || version.is_empty()
            || !word(version)
            || version.len() > 64
        {
            self.error(
                &kp.child("kid"),
                "a Key Vault key name (1 to 127 letters, digits and '-'), optionally /version",
            );
        }
        let kty = match key.kty.as_str() {
            "" => KeyType::Unspecified,
            "oct" | "oct-HSM" => KeyType::Oct,
            "RSA" | "RSA-HSM" => KeyType::Rsa,
            "EC" | "EC-HSM" => {
                self.error(
                    &kp.child("kty"),
                    format!(
                        "{:?} keys cannot key a filesystem (use oct-HSM or RSA-HSM)",
                        key.kty
                    ),
                );
                KeyType::Unspecified
            }
            other => {
                self.error(
                    &kp.child("kty"),
                    format!("unknown kty {other:?} (expected oct, oct-HSM, RSA or RSA-HSM)"),
                );
                KeyType::Unspecified
            }
        };
        self.endpoint(
            &key.authority.endpoint,
            &kp.child("authority").child("endpoint"),
            "the MAA host, e.g. sharedeus2.eus2.attest.azure.net",
        );
        self.endpoint(
            &key.akv.endpoint,
            &kp.child("akv").child("endpoint"),
            "the vault or managed HSM host, e.g. myhsm.managedhsm.azure.net",
        );
        for (given, fixed, p) in [
            (
                &key.authority.api_version,
                MAA_API_VERSION,
                kp.child("authority").child("api_version"),
            ),
            (
                &key.authority.tee_type,
                MAA_TEE_TYPE,
                kp.child("authority").child("tee_type"),
            ),
            (
                &key.akv.api_version,
                AKV_API_VERSION,
                kp.child("akv").child("api_version"),
            ),
        ] {
            if !given.is_empty() && given != fixed {
                self.warn(&p, format!("replaced by {fixed:?} (as upstream does)"));
            }
        }
        let dp = path.child("key_derivation");
        let derivation = match &fs.key_derivation {
            None => {
                if kty == KeyType::Rsa {
                    self.error(
                        &dp,
                        format!(
                            "required for an {} key (salt: hex, label: optional)",
                            key.kty
                        ),
                    );
                }
                None
            }
            Some(kd) => {
                if kty == KeyType::Oct {
                    self.warn(&dp, format!("ignored for an {} key", key.kty));
                }
                match check_salt(&kd.salt) {
                    Ok(()) => Some(Derivation {
                        salt_hex: kd.salt.clone(),
                        label: if kd.label.is_empty() {
                            DEFAULT_LABEL.to_string()
                        } else {
                            kd.label.clone()
                        },
                    }),
                    Err(e) => {
                        self.error(&dp.child("salt"), e);
                        None
                    }
                }
            }
        };
        if self.errors.len() != before {
            return None;
        }
        let mut key = key.clone();
        key.akv.api_version = AKV_API_VERSION.into();
        key.authority.api_version = MAA_API_VERSION.into();
        key.authority.tee_type = MAA_TEE_TYPE.into();
        Some(KeySpec::Release {
            key: Box::new(key),
            kty,
            derivation,
        })
    }

    fn endpoint(&mut self, value: &str, path: &FieldPath, what: &str) {
        let host = value
            .strip_prefix("https://")
            .unwrap_or(value)
            .trim_end_matches('/');
        if value.is_empty() {
            self.error(path, format!("required: {what}"));
        } else if value.starts_with("http://") {
            self.error(path, "must use https://");
        } else if has_control(value) || host.is_empty() || host.contains(['?', '#', '@']) {
            self.error(path, format!("{value:?} is not a host name ({what})"));
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

fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    let head = url.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| url.get(scheme.len()..))
        .flatten()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

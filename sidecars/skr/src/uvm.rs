//! The UVM security context: the security policy, the UVM endorsement (reference info) and the
//! host's AMD certificates, as the platform hands them to the container group.
//!
//! Where they are, as upstream looks: `UVM_SECURITY_CONTEXT_DIR` if set; otherwise the first
//! entry of `/` (in name order) whose name contains `security-context-` (Azure Container
//! Instances); otherwise `/opt/confidential-containers/share/kata-containers` (AKS with Kata).
//! Each of the three files is read on its own: a context with only some of them (Kata pods
//! mount only `reference-info-base64`) is usable, where upstream gives up at the first missing
//! file. When no reference info is found in files, the `UVM_*` environment variables of the
//! early previews are read instead.

use std::path::{Path, PathBuf};

/// Kata / AKS default location.
pub const KATA_DEFAULT_DIR: &str = "/opt/confidential-containers/share/kata-containers";
/// Variable naming the directory.
pub const DIR_ENV: &str = "UVM_SECURITY_CONTEXT_DIR";
/// File with the base64 COSE_Sign1 UVM endorsement.
pub const REFERENCE_INFO_FILE: &str = "reference-info-base64";
/// File with the base64 THIM JSON of the host's AMD certificates.
pub const HOST_CERT_FILE: &str = "host-amd-cert-base64";
/// File with the base64 security policy.
pub const POLICY_FILE: &str = "security-policy-base64";
/// Largest file accepted (policies are a few KiB; endorsements ~15 KiB).
pub const MAX_FILE: u64 = 4 * 1024 * 1024;

/// Where the context was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A directory (and how it was chosen).
    Dir(PathBuf, &'static str),
    /// The `UVM_SECURITY_POLICY` / `UVM_REFERENCE_INFO` / `UVM_HOST_AMD_CERTIFICATE` variables.
    Environment,
}

/// The three values, each still base64 as the platform gives them (upstream returns them so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UvmInformation {
    /// Base64 of the security policy (Rego text).
    pub encoded_security_policy: String,
    /// Base64 of the THIM JSON with the host's VCEK and chain.
    pub encoded_host_certs: String,
    /// Base64 of the COSE_Sign1 UVM endorsement.
    pub encoded_uvm_reference_info: String,
}

/// What was loaded, and a note per file that was missing or unreadable (logged at info level,
/// never fatal: each consumer reports what it lacks when it needs it).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The values.
    pub info: UvmInformation,
    /// Where they came from.
    pub origin: Origin,
    /// Files that were missing or unreadable.
    pub notes: Vec<String>,
}

/// Finds the security context directory.
pub fn find_dir(env: &impl Fn(&str) -> Option<String>, root: &Path) -> (PathBuf, &'static str) {
    if let Some(d) = env(DIR_ENV).filter(|d| !d.is_empty()) {
        return (PathBuf::from(d), "UVM_SECURITY_CONTEXT_DIR");
    }
    if let Ok(rd) = std::fs::read_dir(root) {
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("security-context-"))
            .collect();
        names.sort();
        if let Some(n) = names.first() {
            return (root.join(n), "found in /");
        }
    }
    (PathBuf::from(KATA_DEFAULT_DIR), "Kata default")
}

fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = String::new();
    f.take(MAX_FILE + 1)
        .read_to_string(&mut s)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if s.len() as u64 > MAX_FILE {
        return Err(format!("{}: larger than {MAX_FILE} bytes", path.display()));
    }
    // Go's base64 decoder skips line breaks; keep the text as given but without them.
    Ok(s.chars().filter(|c| *c != '\n' && *c != '\r').collect())
}

/// Loads the context from `root` (`/` in production) and the environment.
pub fn load(env: impl Fn(&str) -> Option<String>, root: &Path) -> Loaded {
    let (dir, how) = find_dir(&env, root);
    let mut notes = Vec::new();
    let mut read = |name: &str| match read_text(&dir.join(name)) {
        Ok(s) => s,
        Err(e) => {
            notes.push(e);
            String::new()
        }
    };
    let info = UvmInformation {
        encoded_uvm_reference_info: read(REFERENCE_INFO_FILE),
        encoded_host_certs: read(HOST_CERT_FILE),
        encoded_security_policy: read(POLICY_FILE),
    };
    if !info.encoded_uvm_reference_info.is_empty() {
        return Loaded {
            info,
            origin: Origin::Dir(dir, how),
            notes,
        };
    }
    let from_env = UvmInformation {
        encoded_security_policy: env("UVM_SECURITY_POLICY").unwrap_or_default(),
        encoded_uvm_reference_info: env("UVM_REFERENCE_INFO").unwrap_or_default(),
        encoded_host_certs: env("UVM_HOST_AMD_CERTIFICATE").unwrap_or_default(),
    };
    if from_env != UvmInformation::default() {
        return Loaded {
            info: from_env,
            origin: Origin::Environment,
            notes,
        };
    }
    Loaded {
        info,
        origin: Origin::Dir(dir, how),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn finds_aci_directory_and_reads_partial_contexts() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("security-context-1234");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(REFERENCE_INFO_FILE), "cmVm\n").unwrap();
        std::fs::write(dir.join(POLICY_FILE), "cG9s").unwrap();
        let l = load(no_env, root.path());
        assert_eq!(l.origin, Origin::Dir(dir, "found in /"));
        assert_eq!(l.info.encoded_uvm_reference_info, "cmVm");
        assert_eq!(l.info.encoded_security_policy, "cG9s");
        assert_eq!(l.info.encoded_host_certs, "");
        assert_eq!(l.notes.len(), 1, "{:?}", l.notes);
    }

    #[test]
    fn env_dir_wins_then_env_values_as_fallback() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("elsewhere");
        std::fs::create_dir(&dir).unwrap();
        let d = dir.to_string_lossy().into_owned();
        let env = move |k: &str| match k {
            DIR_ENV => Some(d.clone()),
            "UVM_SECURITY_POLICY" => Some("cA==".to_string()),
            _ => None,
        };
        let l = load(env, root.path());
        assert_eq!(l.origin, Origin::Environment);
        assert_eq!(l.info.encoded_security_policy, "cA==");
        let (dir_found, how) = find_dir(&no_env, root.path());
        assert_eq!(
            (dir_found, how),
            (PathBuf::from(KATA_DEFAULT_DIR), "Kata default")
        );
    }
}

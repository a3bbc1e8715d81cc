//! What the tools that call Azure share: which roots they trust, where IMDS is, a runtime, and
//! how a service failure becomes an exit code.
//!
//! Upstream's tools always talk to the real services. Ours do too unless told otherwise, by a
//! flag or an environment variable that upstream's tools do not have (so upstream's command
//! lines keep working unchanged):
//!
//! - `-ca-file PATH` or `CSC_CA_FILE`: trust the CA certificates in PATH (PEM) besides the
//!   system's, e.g. the one `azure-emulator` writes;
//! - `-imds-url URL` or `CSC_IMDS_URL`: the IMDS base URL (default `http://169.254.169.254`),
//!   e.g. the emulator's `https://localhost:PORT`.

use std::path::PathBuf;

use csc_azure::http::{HttpClient, HttpConfig};
use csc_azure::identity::{Credential, IMDS_BASE};

use crate::args::Args;
use crate::exit::{self, Failure};

/// Environment variable naming an extra CA file (PEM).
pub const CA_FILE_ENV: &str = "CSC_CA_FILE";
/// Environment variable holding the IMDS base URL.
pub const IMDS_URL_ENV: &str = "CSC_IMDS_URL";
/// The options [`Endpoints::from_args`] reads; add them to a tool's known options.
pub const OPTIONS: [&str; 2] = ["ca-file", "imds-url"];

/// Where the services are and whom to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Extra trusted CA certificates (PEM file).
    pub ca_file: Option<PathBuf>,
    /// IMDS base URL.
    pub imds_url: String,
}

impl Endpoints {
    /// Flags first, then the environment (looked up with `env`), then the defaults.
    pub fn from_args(args: &Args, env: impl Fn(&str) -> Option<String>) -> Endpoints {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let ca_file = args
            .value("ca-file")
            .map(str::to_string)
            .or_else(|| env(CA_FILE_ENV))
            .map(PathBuf::from);
        let imds_url = args
            .value("imds-url")
            .map(str::to_string)
            .or_else(|| env(IMDS_URL_ENV))
            .unwrap_or_else(|| IMDS_BASE.to_string());
        Endpoints {
            ca_file,
            imds_url: imds_url.trim_end_matches('/').to_string(),
        }
    }

    /// An HTTP client trusting the system roots and the CA file, if any.
    pub fn http(&self) -> Result<HttpClient, Failure> {
        let mut config = HttpConfig::default();
        if let Some(path) = &self.ca_file {
            config = config.with_ca_file(path).map_err(Failure::usage)?;
        }
        HttpClient::new(config).map_err(Failure::usage)
    }

    /// The managed identity at IMDS (user-assigned when `client_id` is non-empty).
    pub fn managed_identity(&self, client_id: &str) -> Credential {
        Credential::ManagedIdentity {
            base_url: self.imds_url.clone(),
            client_id: Some(client_id.to_string()).filter(|c| !c.is_empty()),
        }
    }
}

/// A single-threaded runtime for one tool run.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}

/// A failure of a remote service (HTTP status, timeout, unreachable, bad answer).
pub fn service_failure(e: csc_azure::Error) -> Failure {
    let code = match e {
        csc_azure::Error::Config(_) | csc_azure::Error::Io { .. } => exit::USAGE,
        _ => exit::SERVICE,
    };
    Failure::new(code, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        crate::args::parse(v.iter().map(|s| s.to_string()), &[]).unwrap()
    }

    #[test]
    fn flags_win_over_environment_which_wins_over_defaults() {
        let none = |_: &str| None;
        let e = Endpoints::from_args(&args(&[]), none);
        assert_eq!(e.imds_url, IMDS_BASE);
        assert_eq!(e.ca_file, None);

        let env = |k: &str| match k {
            CA_FILE_ENV => Some("/env/ca.pem".to_string()),
            IMDS_URL_ENV => Some("https://localhost:1/".to_string()),
            _ => None,
        };
        let e = Endpoints::from_args(&args(&[]), env);
        assert_eq!(e.imds_url, "https://localhost:1");
        assert_eq!(e.ca_file, Some(PathBuf::from("/env/ca.pem")));

        let e = Endpoints::from_args(
            &args(&["-ca-file", "/flag/ca.pem", "-imds-url=https://localhost:2"]),
            env,
        );
        assert_eq!(e.imds_url, "https://localhost:2");
        assert_eq!(e.ca_file, Some(PathBuf::from("/flag/ca.pem")));
    }

    #[test]
    fn empty_client_id_is_the_system_identity() {
        let e = Endpoints::from_args(&args(&[]), |_| None);
        match e.managed_identity("") {
            Credential::ManagedIdentity { client_id, .. } => assert_eq!(client_id, None),
            other => panic!("{other:?}"),
        }
        match e.managed_identity("abc") {
            Credential::ManagedIdentity { client_id, .. } => {
                assert_eq!(client_id.as_deref(), Some("abc"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_ca_file_is_a_usage_error_naming_it() {
        let e = Endpoints::from_args(&args(&["-ca-file", "/nonexistent/ca.pem"]), |_| None);
        let f = e.http().unwrap_err();
        assert_eq!(f.code, exit::USAGE);
        assert!(f.message.contains("/nonexistent/ca.pem"), "{}", f.message);
    }
}

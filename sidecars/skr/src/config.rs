//! Configuration exactly as upstream takes it: Go-style flags (`-port 8080`, `-port=8080`,
//! `--port 8080`), the environment variables of upstream's entry script (`SkrSideCarArgs`,
//! `Port`, `LogFile`, `LogLevel`, `ServerType`) and its two positional arguments. Flags win
//! over environment variables, which win over positional arguments, which win over defaults.
//!
//! Reading the environment in the binary (upstream's `skr.sh` does it in shell) lets the image
//! run from an empty base without a shell.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use csc_cli::flag::{FlagError, FlagSpec, Flags, Positionals};
use csc_core::base64;
use serde::Deserialize;

/// How the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerType {
    /// The HTTP API (upstream's default).
    Http,
    /// The Kata/CoCo gRPC key provider.
    Grpc,
}

/// Log verbosity, with logrus's level names.
pub use csc_cli::logging::LogLevel;

/// Where the certificate chain comes from (`certcache` in `SkrSideCarArgs`), as upstream.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CertCache {
    /// `AMD`, `AzCache` or `LocalTHIM`.
    #[serde(default)]
    pub endpoint_type: String,
    /// Host (and path) of the endpoint.
    #[serde(default)]
    pub endpoint: String,
    /// KDS product path segment or AzCache TEE type.
    #[serde(default)]
    pub tee_type: String,
    /// A whole query fragment, e.g. `api-version=2020-10-15-preview`.
    #[serde(default)]
    pub api_version: String,
    /// A whole query fragment, e.g. `clientId=ConfidentialACI`.
    #[serde(default)]
    pub client_id: String,
}

/// The managed identity to use (`identity` in `SkrSideCarArgs`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Identity {
    /// Client id of a user-assigned identity; empty for the system-assigned one.
    #[serde(default)]
    pub client_id: String,
}

/// MAA client settings (`maaconfig` in `SkrSideCarArgs`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct MaaConfig {
    /// User-Agent for MAA requests; derived from the identity when empty.
    #[serde(default)]
    pub user_agent: String,
}

/// The JSON that `-base64` / `SkrSideCarArgs` carries (upstream's `AzureInformation`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct AzureInformation {
    /// Certificate source.
    #[serde(default)]
    pub certcache: CertCache,
    /// Managed identity.
    #[serde(default)]
    pub identity: Identity,
    /// MAA client settings.
    #[serde(default)]
    pub maaconfig: MaaConfig,
}

/// Wrap mode (`-infile`, `-keypath`, `-outfile`): wrap a file for the gRPC key provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapMode {
    /// File whose contents are wrapped.
    pub infile: String,
    /// Path of the wrapping key; `<keypath>-info.json` describes it.
    pub keypath: String,
    /// Where the base64 annotation is written.
    pub outfile: String,
}

/// Everything the sidecar was told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Decoded `-base64` / `SkrSideCarArgs`.
    pub azure: AzureInformation,
    /// Address to listen on (127.0.0.1 unless `--listen` names another).
    pub listen: SocketAddr,
    /// True if the address is not loopback (a warning is logged).
    pub exposed: bool,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log file (appended), or standard error.
    pub log_file: Option<String>,
    /// HTTP or gRPC.
    pub server_type: ServerType,
    /// Upstream's testing switch: start with a TCB that matches nothing.
    pub allow_testing_mismatched_tcb: bool,
    /// Use the software SNP platform and local emulators (never chosen silently; only in a
    /// build with the `sandbox` feature).
    pub simulate: bool,
    /// Further trusted CA certificates (PEM) for the Azure services (`-cafile`).
    pub ca_file: Option<String>,
    /// IMDS base URL for managed identity tokens (`-imds`; default `http://169.254.169.254`).
    pub imds: Option<String>,
    /// Check the platform's reports against the ARK in this file instead of AMD's built-in
    /// roots (`-trust-ark`; test deployments against `tsm-simulate`).
    pub trust_ark: Option<String>,
    /// Wrap a file and exit instead of serving.
    pub wrap: Option<WrapMode>,
}

/// A configuration error, naming the flag or variable and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not parse.
    #[error("{what}: invalid value {value:?}: {why}")]
    Invalid {
        /// The flag or variable.
        what: &'static str,
        /// The value given (never a secret: these are ports, levels, paths).
        value: String,
        /// Why it is wrong.
        why: &'static str,
    },
    /// `-base64` / `SkrSideCarArgs` is not base64 of the expected JSON.
    #[error("-base64 / SkrSideCarArgs: {0}")]
    AzureInfo(String),
    /// A command line Go's flag package would refuse (names the flag).
    #[error(transparent)]
    Flag(FlagError),
    /// Wrap mode is incomplete.
    #[error("wrap mode: {0}")]
    Wrap(&'static str),
    /// `-simulate` / `CSC_SIMULATE=1` in a build without the simulator.
    #[error(
        "{0}: this build of skr has no simulated platform or emulators (built without the `sandbox` feature, as production images are); run the demo with `cargo run --release -p skr --features sandbox -- demo`, or point this skr at tsm-simulate and azure-emulator (-trust-ark, -cafile, -imds)"
    )]
    NoSimulator(&'static str),
    /// `-help` was asked for.
    #[error("help requested")]
    Help,
}

/// skr's flags; arguments that are not flags (skr.sh's `$1 $2`) may stand between them.
const FLAGS: FlagSpec<'static> = FlagSpec {
    bools: &["allowTestingMismatchedTCB", "simulate"],
    values: Some(&[
        "base64",
        "loglevel",
        "logfile",
        "port",
        "server_type",
        "infile",
        "keypath",
        "outfile",
        "listen",
        "cafile",
        "imds",
        "trust-ark",
    ]),
    positionals: Positionals::Interspersed,
};

/// The usage text for `-help`.
pub const USAGE: &str = "\
usage: skr [flags] [SkrSideCarArgs [Port]]
       skr demo
  -base64 STRING        base64 JSON with certcache / identity / maaconfig (env SkrSideCarArgs)
  -port PORT            port to listen on, default 8080 (50000 for grpc) (env Port)
  -loglevel LEVEL       trace|debug|info|warning|error|fatal|panic, default warning (env LogLevel)
  -logfile PATH         append logs to PATH instead of standard error (env LogFile)
  -server_type TYPE     http (default) or grpc (env ServerType)
  -listen ADDR          address to bind instead of 127.0.0.1 (exposes key release: dangerous)
  -cafile PATH          further trusted CA certificates (PEM) for MAA, Key Vault, IMDS, THIM
                        (SSL_CERT_FILE / SSL_CERT_DIR replace the system store, as usual)
  -imds URL             IMDS base URL for managed identity tokens, default http://169.254.169.254
  -trust-ark PATH       check reports against this ARK (PEM or DER) instead of AMD's roots
                        (test deployments against tsm-simulate; warns at start)
  -simulate             use the software SNP platform and local Azure emulators (env CSC_SIMULATE=1;
                        only in a build with the `sandbox` feature)
  -allowTestingMismatchedTCB
                        testing only: start with a TCB that matches no certificate
  -infile F -keypath K -outfile O
                        wrap F with the key described by K-info.json and exit
Flags may be written -flag value, -flag=value or --flag value.";

/// Decodes `-base64` (standard or URL-safe alphabet: upstream's own CI sends URL-safe).
pub fn decode_azure_info(b64: &str) -> Result<AzureInformation, ConfigError> {
    if b64.trim().is_empty() {
        return Ok(AzureInformation::default());
    }
    let mut buf = vec![0u8; base64::decoded_len_max(b64.len())];
    let n = base64::decode_into(b64.as_bytes(), &mut buf)
        .map_err(|e| ConfigError::AzureInfo(format!("not base64: {e}")))?;
    buf.truncate(n);
    let value: serde_json::Value = serde_json::from_slice(&buf)
        .map_err(|e| ConfigError::AzureInfo(format!("not JSON: {e}")))?;
    serde_json::from_value(lowercase_keys(value))
        .map_err(|e| ConfigError::AzureInfo(format!("not the expected JSON: {e}")))
}

/// Go's JSON decoder matches member names case-insensitively; our structs use lowercase names.
pub use csc_azure::gocompat::lowercase_keys;

fn parse_port(s: &str) -> Result<u16, ConfigError> {
    s.trim().parse::<u16>().ok().ok_or(ConfigError::Invalid {
        what: "-port",
        value: s.to_string(),
        why: "expected a port number 0..65535 (0: any free port, logged at info level)",
    })
}

impl Config {
    /// Builds the configuration from arguments (without the program name) and an environment
    /// lookup (`std::env::var` in production; a map in tests).
    pub fn from_args_and_env(
        args: &[String],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let flags = Flags::parse(&FLAGS, args.iter().cloned()).map_err(|e| match e {
            FlagError::Help => ConfigError::Help,
            e => ConfigError::Flag(e),
        })?;
        let positional = flags.positional();
        let flag = |name: &str| flags.value(name).map(str::to_owned);
        let env_nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
        let pick = |f: &str, e: &str, pos: usize| {
            flag(f)
                .or_else(|| env_nonempty(e))
                .or_else(|| positional.get(pos).cloned())
        };

        let azure = decode_azure_info(&pick("base64", "SkrSideCarArgs", 0).unwrap_or_default())?;
        let server_type = match pick("server_type", "ServerType", usize::MAX).as_deref() {
            None | Some("") | Some("http") => ServerType::Http,
            Some("grpc") => ServerType::Grpc,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    what: "-server_type",
                    value: other.to_string(),
                    why: "expected http or grpc",
                });
            }
        };
        let default_port = match server_type {
            ServerType::Http => 8080,
            ServerType::Grpc => 50000,
        };
        let port = match pick("port", "Port", 1) {
            Some(p) => parse_port(&p)?,
            None => default_port,
        };
        let ip = match flag("listen") {
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(a) => a.parse::<IpAddr>().map_err(|_| ConfigError::Invalid {
                what: "-listen",
                value: a.clone(),
                why: "expected an IP address such as 127.0.0.1 or 0.0.0.0",
            })?,
        };
        let log_level = match pick("loglevel", "LogLevel", usize::MAX) {
            Some(l) => LogLevel::parse(&l).map_err(|_| ConfigError::Invalid {
                what: "-loglevel",
                value: l.clone(),
                why: "expected trace, debug, info, warning, error, fatal or panic",
            })?,
            None => LogLevel::Warning,
        };
        let log_file = pick("logfile", "LogFile", usize::MAX).filter(|s| !s.is_empty());
        let by_flag = flags.bool("simulate");
        let by_env = env(SIMULATE_ENV).is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
        let simulate = by_flag || by_env;
        if simulate && !cfg!(feature = "sandbox") {
            return Err(ConfigError::NoSimulator(if by_flag {
                "-simulate"
            } else {
                "CSC_SIMULATE=1"
            }));
        }
        let imds = flag("imds").filter(|v| !v.is_empty());
        if let Some(u) = &imds
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                what: "-imds",
                value: u.clone(),
                why: "expected an http:// or https:// URL",
            });
        }
        let wrap = match (flag("infile"), flag("keypath"), flag("outfile")) {
            (None, _, _) => None,
            (Some(infile), Some(keypath), Some(outfile)) => Some(WrapMode {
                infile,
                keypath,
                outfile,
            }),
            (Some(_), None, _) => {
                return Err(ConfigError::Wrap(
                    "the key path is not specified (-keypath)",
                ));
            }
            (Some(_), _, None) => {
                return Err(ConfigError::Wrap(
                    "the output file is not specified (-outfile)",
                ));
            }
        };
        Ok(Config {
            azure,
            listen: SocketAddr::new(ip, port),
            exposed: !ip.is_loopback(),
            log_level,
            log_file,
            server_type,
            allow_testing_mismatched_tcb: flags.bool("allowTestingMismatchedTCB"),
            simulate,
            ca_file: flag("cafile").filter(|v| !v.is_empty()),
            imds,
            trust_ark: flag("trust-ark").filter(|v| !v.is_empty()),
            wrap,
        })
    }
}

/// The environment variable that selects the simulated platform and emulators.
pub const SIMULATE_ENV: &str = "CSC_SIMULATE";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_args_and_env(&args, |k| env.get(k).cloned())
    }

    fn b64(s: &str) -> String {
        let mut buf = vec![0u8; base64::encoded_len(s.len(), base64::Alphabet::Standard)];
        base64::encode_into(s.as_bytes(), base64::Alphabet::Standard, &mut buf)
            .unwrap()
            .to_string()
    }

    #[test]
    fn defaults_match_upstream() {
        let c = cfg(&[], &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.server_type, ServerType::Http);
        assert_eq!(c.log_level, LogLevel::Warning);
        assert!(!c.exposed && !c.simulate && c.wrap.is_none());
        assert_eq!(c.azure, AzureInformation::default());
        let g = cfg(&["-server_type", "grpc"], &[]).unwrap();
        assert_eq!(g.listen.port(), 50000);
    }

    #[test]
    fn go_flag_forms_and_precedence() {
        let info = r#"{"certcache":{"endpoint_type":"LocalTHIM","endpoint":"169.254.169.254/metadata/THIM/amd/certification"},"identity":{"client_id":"abc"}}"#;
        let c = cfg(
            &["-port=9000", "--loglevel", "debug", "-base64", &b64(info)],
            &[("Port", "7000"), ("LogLevel", "error")],
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.log_level, LogLevel::Debug);
        assert_eq!(c.azure.certcache.endpoint_type, "LocalTHIM");
        assert_eq!(c.azure.identity.client_id, "abc");
        // Environment, then positional arguments (skr.sh's $1 and $2).
        let c = cfg(
            &[],
            &[
                ("Port", "7000"),
                ("ServerType", "grpc"),
                ("LogFile", "/tmp/l"),
            ],
        )
        .unwrap();
        assert_eq!((c.listen.port(), c.server_type), (7000, ServerType::Grpc));
        assert_eq!(c.log_file.as_deref(), Some("/tmp/l"));
        let c = cfg(&[&b64("{}"), "6000"], &[]).unwrap();
        assert_eq!(c.listen.port(), 6000);
    }

    #[test]
    fn url_safe_base64_is_accepted() {
        // Upstream's CI sends URL-safe base64 of the args.
        let json = r#"{"maaconfig":{"user_agent":"x?>"}}"#;
        let mut buf = vec![0u8; 64];
        let url =
            base64::encode_into(json.as_bytes(), base64::Alphabet::UrlSafe, &mut buf).unwrap();
        let c = cfg(&["-base64", url], &[]).unwrap();
        assert_eq!(c.azure.maaconfig.user_agent, "x?>");
        // Member names match case-insensitively, as Go's decoder does.
        let c = cfg(&["-base64", &b64(r#"{"Identity":{"Client_ID":"q"}}"#)], &[]).unwrap();
        assert_eq!(c.azure.identity.client_id, "q");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            cfg(&["-port", "http"], &[]),
            Err(ConfigError::Invalid { what: "-port", .. })
        ));
        assert!(matches!(
            cfg(&["-port"], &[]),
            Err(ConfigError::Flag(FlagError::MissingValue(_)))
        ));
        assert!(matches!(
            cfg(&["-hostname", "x"], &[]),
            Err(ConfigError::Flag(FlagError::Undefined(_)))
        ));
        assert!(matches!(
            cfg(&["-loglevel", "loud"], &[]),
            Err(ConfigError::Invalid {
                what: "-loglevel",
                ..
            })
        ));
        assert!(matches!(
            cfg(&["-server_type", "soap"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            cfg(&["-base64", "!!"], &[]),
            Err(ConfigError::AzureInfo(_))
        ));
        assert!(matches!(
            cfg(&["-base64", &b64("[1]")], &[]),
            Err(ConfigError::AzureInfo(_))
        ));
        assert!(matches!(
            cfg(&["-infile", "a"], &[]),
            Err(ConfigError::Wrap(_))
        ));
        assert_eq!(cfg(&["-help"], &[]).unwrap_err(), ConfigError::Help);
    }

    #[test]
    fn listen_elsewhere_only_when_asked() {
        let c = cfg(&["-listen", "0.0.0.0"], &[]).unwrap();
        assert!(c.exposed);
        assert!(cfg(&["-listen", "nowhere"], &[]).is_err());
    }

    #[test]
    #[cfg(feature = "sandbox")]
    fn simulate_when_built_with_the_sandbox() {
        let c = cfg(&["-simulate"], &[]).unwrap();
        assert!(c.simulate);
        let c = cfg(&[], &[("CSC_SIMULATE", "1")]).unwrap();
        assert!(c.simulate);
    }

    #[test]
    #[cfg(not(feature = "sandbox"))]
    fn production_build_refuses_simulate_with_a_message() {
        let e = cfg(&["-simulate"], &[]).unwrap_err();
        assert_eq!(e, ConfigError::NoSimulator("-simulate"));
        let m = e.to_string();
        assert!(
            m.contains("no simulated platform") && m.contains("--features sandbox"),
            "{m}"
        );
        let e = cfg(&[], &[("CSC_SIMULATE", "1")]).unwrap_err();
        assert_eq!(e, ConfigError::NoSimulator("CSC_SIMULATE=1"));
        assert!(cfg(&[], &[("CSC_SIMULATE", "0")]).is_ok());
    }

    #[test]
    fn deployment_endpoints_and_trust() {
        let c = cfg(
            &[
                "-cafile",
                "/ca.pem",
                "-imds",
                "https://127.0.0.1:8443",
                "-trust-ark=/ark.pem",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.ca_file.as_deref(), Some("/ca.pem"));
        assert_eq!(c.imds.as_deref(), Some("https://127.0.0.1:8443"));
        assert_eq!(c.trust_ark.as_deref(), Some("/ark.pem"));
        assert!(matches!(
            cfg(&["-imds", "169.254.169.254"], &[]),
            Err(ConfigError::Invalid { what: "-imds", .. })
        ));
        let d = cfg(&[], &[]).unwrap();
        assert!(d.ca_file.is_none() && d.imds.is_none() && d.trust_ark.is_none());
    }
}

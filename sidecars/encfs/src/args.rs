//! Flags and environment, as upstream's `remotefs` and `encfs.sh` take them: Go flag syntax
//! (`-base64 X`, `-base64=X`, `--base64 X`), `-base64`, `-loglevel` (default `warning`) and
//! `-logfile`, with the entry script's variables `EncfsSideCarArgs`, `LogLevel` and `LogFile`
//! read here directly (flags win). Further flags are this implementation's own.

use std::fmt;
use std::path::PathBuf;

use csc_cli::flag::{FlagError, FlagSpec, Flags, Positionals};
use csc_cli::logging::LogLevel;
use csc_mount::mount::Exposure;
use zeroize::Zeroizing;

/// The usage text.
pub const USAGE: &str = "\
usage: encfs [flags]
  -base64 STRING      base64 (standard or URL-safe) of the JSON with azure_filesystems and
                      azure_info (env EncfsSideCarArgs)
  -loglevel LEVEL     trace|debug|info|warning|error|fatal|panic, default warning (env LogLevel)
  -logfile PATH       append logs to PATH instead of standard error (env LogFile)
  -readyfile PATH     written `1` once every filesystem is mounted and published, `0` when
                      start-up fails, removed at teardown; default `result` (as upstream's
                      encfs.sh); empty to disable (env EncfsReadyFile)
  -exposure MODE      auto (dm-crypt where the kernel has device-mapper, else userspace),
                      dm-crypt or userspace; default auto
  -blocksize KIB      cache block size in KiB, multiple of 4, default 512 (as azmount)
  -cachesize SIZE     block cache per filesystem in bytes, suffixes K, M, G (KiB, MiB,
                      GiB); default 16M (azmount's 32 blocks of 512 KiB)
  -numblocks N        the cache size in blocks instead (as azmount)
  -cafile PATH        further trusted CA certificates (PEM) for blob storage and Azure services
  -imds URL           IMDS base URL for managed identity tokens (default http://169.254.169.254)
  -trust-ark PATH     check reports against this ARK (PEM or DER) instead of AMD's roots
                      (test deployments against tsm-simulate; warns at start)
";

/// Environment variable of the input (upstream's entry script).
pub const ENV_ARGS: &str = "EncfsSideCarArgs";
/// Environment variable of the log level.
pub const ENV_LOG_LEVEL: &str = "LogLevel";
/// Environment variable of the log file.
pub const ENV_LOG_FILE: &str = "LogFile";
/// Environment variable of the ready file.
pub const ENV_READY_FILE: &str = "EncfsReadyFile";
/// Default ready file, relative to the working directory: where `encfs.sh` writes `result`.
pub const DEFAULT_READY_FILE: &str = "result";

/// Everything the command line and environment say.
pub struct Args {
    /// The base64 input (may hold a bearer token or raw key: zeroized, never shown).
    pub base64: Zeroizing<String>,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log file, or standard error.
    pub log_file: Option<PathBuf>,
    /// The ready file, if any.
    pub ready_file: Option<PathBuf>,
    /// dm-crypt, userspace, or decide.
    pub exposure: Exposure,
    /// Cache block size in bytes.
    pub block_size: usize,
    /// Bytes of cache per filesystem.
    pub cache_size: usize,
    /// Extra CA certificates.
    pub ca_file: Option<PathBuf>,
    /// IMDS base URL override.
    pub imds: Option<String>,
    /// An ARK to check reports against instead of AMD's roots.
    pub trust_ark: Option<PathBuf>,
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field(
                "base64",
                &format_args!("<{} bytes, redacted>", self.base64.len()),
            )
            .field("log_level", &self.log_level)
            .field("log_file", &self.log_file)
            .field("ready_file", &self.ready_file)
            .field("exposure", &self.exposure)
            .field("block_size", &self.block_size)
            .field("cache_size", &self.cache_size)
            .field("ca_file", &self.ca_file)
            .field("imds", &self.imds)
            .field("trust_ark", &self.trust_ark)
            .finish()
    }
}

/// Why the command line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// `-help` / `-h`.
    #[error("help requested")]
    Help,
    /// A command line Go's flag package refuses (names the flag).
    #[error(transparent)]
    Flag(FlagError),
    /// Anything else; the message names the flag.
    #[error("{0}")]
    Usage(String),
}

/// encfs's flags, read as Go reads them: nothing but flags.
const FLAGS: FlagSpec<'static> = FlagSpec {
    bools: &[],
    values: Some(&[
        "base64",
        "loglevel",
        "logfile",
        "readyfile",
        "exposure",
        "blocksize",
        "numblocks",
        "cachesize",
        "cafile",
        "imds",
        "trust-ark",
    ]),
    positionals: Positionals::Stop,
};

/// Largest cache accepted per filesystem.
pub const MAX_CACHE_SIZE: usize = 16 << 30;

/// A byte count with an optional binary suffix: `16777216`, `16M`, `16MiB`, `512K`, `1G`.
fn size(name: &str, v: &str) -> Result<usize, ArgsError> {
    let t = v.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        _ => {
            return Err(ArgsError::Usage(format!(
                "-{name}: {v:?} is not a size (bytes, or a number with K, M or G)"
            )));
        }
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1usize << shift))
        .ok_or_else(|| {
            ArgsError::Usage(format!(
                "-{name}: {v:?} is not a size (bytes, or a number with K, M or G)"
            ))
        })
}

fn number(name: &str, v: &str) -> Result<usize, ArgsError> {
    v.trim()
        .parse()
        .map_err(|_| ArgsError::Usage(format!("-{name}: {v:?} is not a number")))
}

impl Args {
    /// Parses `args` (without the program name) with `env` for the environment.
    pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Self, ArgsError> {
        let flags = Flags::parse(&FLAGS, args.iter().cloned()).map_err(|e| match e {
            FlagError::Help => ArgsError::Help,
            e => ArgsError::Flag(e),
        })?;
        if let Some(extra) = flags.positional().first() {
            return Err(ArgsError::Usage(format!(
                "unexpected argument {extra:?} (every setting is a flag)"
            )));
        }
        let flag = |name: &str| flags.value(name).map(|v| Zeroizing::new(v.to_string()));
        let nonempty_env = |k: &str| env(k).filter(|v| !v.is_empty());
        let base64 = flag("base64")
            .or_else(|| nonempty_env(ENV_ARGS).map(Zeroizing::new))
            .unwrap_or_default();
        let log_level = match flag("loglevel")
            .map(|v| v.to_string())
            .or_else(|| nonempty_env(ENV_LOG_LEVEL))
        {
            Some(l) => {
                LogLevel::parse(&l).map_err(|e| ArgsError::Usage(format!("-loglevel: {e}")))?
            }
            None => LogLevel::Warning,
        };
        let log_file = flag("logfile")
            .map(|v| v.to_string())
            .or_else(|| nonempty_env(ENV_LOG_FILE))
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let ready_file = match flag("readyfile")
            .map(|v| v.to_string())
            .or_else(|| env(ENV_READY_FILE))
        {
            None => Some(PathBuf::from(DEFAULT_READY_FILE)),
            Some(s) if s.is_empty() => None,
            Some(s) => Some(PathBuf::from(s)),
        };
        let exposure = match flag("exposure").as_deref().map(String::as_str) {
            None | Some("auto") => Exposure::Auto,
            Some("dm-crypt") => Exposure::DmCrypt,
            Some("userspace") => Exposure::Userspace,
            Some(other) => {
                return Err(ArgsError::Usage(format!(
                    "-exposure: {other:?} is not auto, dm-crypt or userspace"
                )));
            }
        };
        // azmount's rules: block size at least 4 KiB and a multiple of 4; at least one block.
        let block_kib = match flag("blocksize") {
            Some(v) => number("blocksize", &v)?,
            None => 512,
        };
        if block_kib < 4 || !block_kib.is_multiple_of(4) || block_kib > 64 * 1024 {
            return Err(ArgsError::Usage(format!(
                "-blocksize: {block_kib} KiB must be a multiple of 4 between 4 and 65536"
            )));
        }
        let block_size = block_kib * 1024;
        let cache_size = match (flag("cachesize"), flag("numblocks")) {
            (Some(_), Some(_)) => {
                return Err(ArgsError::Usage(
                    "-cachesize and -numblocks both set the cache size: give one".into(),
                ));
            }
            (Some(v), None) => {
                let bytes = size("cachesize", &v)?;
                if bytes < block_size || bytes > MAX_CACHE_SIZE {
                    return Err(ArgsError::Usage(format!(
                        "-cachesize: {bytes} bytes must be between one block ({block_size}) and {MAX_CACHE_SIZE}"
                    )));
                }
                bytes
            }
            (None, Some(v)) => {
                let blocks = number("numblocks", &v)?;
                if blocks == 0 || blocks > 65536 {
                    return Err(ArgsError::Usage(format!(
                        "-numblocks: {blocks} must be between 1 and 65536"
                    )));
                }
                blocks * block_size
            }
            (None, None) => 32 * block_size,
        };
        let imds = flag("imds").map(|v| v.to_string());
        if let Some(u) = &imds
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ArgsError::Usage(format!(
                "-imds: {u:?} is not an http(s) URL"
            )));
        }
        Ok(Self {
            base64,
            log_level,
            log_file,
            ready_file,
            exposure,
            block_size,
            cache_size,
            ca_file: flag("cafile").map(|v| PathBuf::from(v.as_str())),
            imds,
            trust_ark: flag("trust-ark").map(|v| PathBuf::from(v.as_str())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Args, ArgsError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Args::parse(&args, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_match_upstream() {
        let a = parse(&[], &[]).unwrap();
        assert_eq!(a.log_level, LogLevel::Warning);
        assert_eq!(a.log_file, None);
        assert_eq!(a.ready_file, Some(PathBuf::from("result")));
        assert_eq!((a.block_size, a.cache_size), (512 * 1024, 16 << 20));
        assert_eq!(a.exposure, Exposure::Auto);
        assert!(a.base64.is_empty());
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = [
            ("EncfsSideCarArgs", "ZW52"),
            ("LogLevel", "debug"),
            ("LogFile", "/tmp/env.log"),
        ];
        let a = parse(&[], &env).unwrap();
        assert_eq!(a.base64.as_str(), "ZW52");
        assert_eq!(a.log_level, LogLevel::Debug);
        assert_eq!(a.log_file, Some(PathBuf::from("/tmp/env.log")));
        let a = parse(
            &[
                "-base64",
                "ZmxhZw==",
                "--loglevel=info",
                "-logfile",
                "/tmp/f.log",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(a.base64.as_str(), "ZmxhZw==");
        assert_eq!(a.log_level, LogLevel::Info);
        assert_eq!(a.log_file, Some(PathBuf::from("/tmp/f.log")));
    }

    #[test]
    fn bad_flags_name_themselves() {
        let e = |args: &[&str]| parse(args, &[]).unwrap_err().to_string();
        assert_eq!(e(&["-port", "1"]), "flag provided but not defined: -port");
        assert_eq!(e(&["-base64"]), "flag needs an argument: -base64");
        assert!(e(&["-loglevel", "loud"]).starts_with("-loglevel: not a valid log level"));
        assert!(e(&["-blocksize", "6"]).starts_with("-blocksize: 6 KiB"));
        assert!(e(&["-numblocks", "0"]).starts_with("-numblocks: 0"));
        assert!(e(&["-cachesize", "16X"]).starts_with("-cachesize: \"16X\" is not a size"));
        assert!(e(&["-cachesize", "4K"]).starts_with("-cachesize: 4096 bytes must be"));
        assert!(e(&["-cachesize", "1M", "-numblocks", "4"]).contains("give one"));
        assert!(e(&["-exposure", "dm"]).starts_with("-exposure:"));
        assert!(e(&["stray"]).starts_with("unexpected argument"));
        assert_eq!(parse(&["-h"], &[]).unwrap_err(), ArgsError::Help);
    }

    #[test]
    fn cache_size_in_bytes_or_blocks() {
        let c = |args: &[&str]| parse(args, &[]).unwrap().cache_size;
        assert_eq!(c(&["-cachesize", "64M"]), 64 << 20);
        assert_eq!(c(&["-cachesize=1GiB"]), 1 << 30);
        assert_eq!(c(&["-cachesize", "8388608"]), 8 << 20);
        assert_eq!(c(&["-cachesize", "512k"]), 512 << 10);
        assert_eq!(c(&["-numblocks", "8"]), 8 * 512 * 1024);
        assert_eq!(c(&["-blocksize", "64", "-numblocks", "8"]), 8 * 64 * 1024);
        assert_eq!(c(&["-blocksize", "64"]), 32 * 64 * 1024);
    }

    #[test]
    fn ready_file_can_be_moved_or_disabled() {
        assert_eq!(
            parse(&["-readyfile", "/run/ready"], &[])
                .unwrap()
                .ready_file,
            Some(PathBuf::from("/run/ready"))
        );
        assert_eq!(parse(&["-readyfile="], &[]).unwrap().ready_file, None);
        assert_eq!(
            parse(&[], &[("EncfsReadyFile", "")]).unwrap().ready_file,
            None
        );
    }

    #[test]
    fn debug_hides_the_input() {
        let a = parse(&["-base64", "c2VjcmV0"], &[]).unwrap();
        let shown = format!("{a:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }
}

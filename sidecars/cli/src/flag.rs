//! Command lines as Go's `flag` package reads them, which is how upstream's programs take
//! their settings: `-name` or `--name`; `-name=value`, or `-name value` for a flag that takes
//! a value; a boolean flag is `-name` or `-name=<bool>` (Go's `strconv.ParseBool` spellings)
//! and never takes the next argument; `--` ends the flags; `-` is an argument, not a flag;
//! `-h` / `-help`, when the program has no such flag, asks for help. A flag given twice keeps
//! its last value.
//!
//! Two ways to treat arguments that are not flags: [`Positionals::Stop`] is Go's (the first
//! one ends the flags), [`Positionals::Interspersed`] lets them stand between flags (the
//! tools' subcommands, skr's positional pair).

use zeroize::Zeroizing;

/// Why a command line was refused; the message names the flag, as Go's does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// A flag the program does not have.
    #[error("flag provided but not defined: -{0}")]
    Undefined(String),
    /// A flag that takes a value came last, without one.
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    /// `-name=value` for a boolean flag, with a value that is not a boolean.
    #[error("invalid boolean value {value:?} for -{name}: parse error")]
    InvalidBool {
        /// The flag.
        name: String,
        /// What was given.
        value: String,
    },
    /// `---name`, `-=value`: not a flag in Go's syntax.
    #[error("bad flag syntax: {0}")]
    BadSyntax(String),
    /// `-h` or `-help` (the program defines neither).
    #[error("help requested")]
    Help,
}

/// Where arguments that are not flags may stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positionals {
    /// Go's rule: the first argument that is not a flag ends the flags.
    Stop,
    /// Anywhere between flags; only `--` ends the flags.
    Interspersed,
}

/// Which flags a program has.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec<'a> {
    /// Flags that take no value.
    pub bools: &'a [&'a str],
    /// Flags that take a value; `None`: every name not in `bools` takes one, and the program
    /// refuses unknown names itself ([`Flags::reject_unknown`], once it knows its subcommand).
    pub values: Option<&'a [&'a str]>,
    /// Where positional arguments may stand.
    pub positionals: Positionals,
}

/// The value of one flag as given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Bool(bool),
    /// Values may be secrets (a bearer token inside `-base64`): wiped when dropped.
    Text(Zeroizing<String>),
}

/// A parsed command line: flags in the order given, and the positional arguments.
#[derive(Clone, Default)]
pub struct Flags {
    set: Vec<(String, Value)>,
    positional: Vec<String>,
}

/// Names and argument count only: values may be secrets.
impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flags")
            .field(
                "names",
                &self.set.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            )
            .field("positional", &self.positional.len())
            .finish()
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The flag's name and inline value, or `None` if `arg` is not a flag.
fn split_flag(arg: &str) -> Option<Result<(&str, Option<&str>), FlagError>> {
    if arg == "-" {
        return None;
    }
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
        return Some(Err(FlagError::BadSyntax(arg.to_string())));
    }
    Some(Ok(match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    }))
}

impl Flags {
    /// Reads `argv` (without the program name) against `spec`.
    pub fn parse(
        spec: &FlagSpec<'_>,
        argv: impl IntoIterator<Item = String>,
    ) -> Result<Flags, FlagError> {
        let mut out = Flags::default();
        let mut it = argv.into_iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                out.positional.extend(it);
                break;
            }
            let Some(split) = split_flag(&arg) else {
                out.positional.push(arg);
                if spec.positionals == Positionals::Stop {
                    out.positional.extend(it);
                    break;
                }
                continue;
            };
            let (name, inline) = split?;
            let value = if spec.bools.contains(&name) {
                match inline {
                    None => Value::Bool(true),
                    Some(v) => {
                        Value::Bool(parse_bool(v).ok_or_else(|| FlagError::InvalidBool {
                            name: name.to_string(),
                            value: v.to_string(),
                        })?)
                    }
                }
            } else if spec.values.is_none_or(|values| values.contains(&name)) {
                let text = match inline {
                    Some(v) => v.to_string(),
                    None => it
                        .next()
                        .ok_or_else(|| FlagError::MissingValue(name.to_string()))?,
                };
                Value::Text(Zeroizing::new(text))
            } else if name == "h" || name == "help" {
                return Err(FlagError::Help);
            } else {
                return Err(FlagError::Undefined(name.to_string()));
            };
            out.set.push((name.to_string(), value));
        }
        Ok(out)
    }

    /// True if the boolean flag was given (last setting wins).
    pub fn bool(&self, name: &str) -> bool {
        self.set.iter().rev().find_map(|(n, v)| match v {
            Value::Bool(b) if n == name => Some(*b),
            _ => None,
        }) == Some(true)
    }

    /// The last value of a flag that takes one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.set.iter().rev().find_map(|(n, v)| match v {
            Value::Text(t) if n == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// Positional arguments in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// Refuses the first flag given whose name is not in `known`.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), FlagError> {
        match self.set.iter().find(|(n, _)| !known.contains(&n.as_str())) {
            Some((n, _)) => Err(FlagError::Undefined(n.clone())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const GO: FlagSpec<'static> = FlagSpec {
        bools: &["simulate", "v"],
        values: Some(&["port", "base64", "loglevel"]),
        positionals: Positionals::Stop,
    };
    const MIXED: FlagSpec<'static> = FlagSpec {
        positionals: Positionals::Interspersed,
        ..GO
    };
    const LOOSE: FlagSpec<'static> = FlagSpec {
        bools: &["json"],
        values: None,
        positionals: Positionals::Interspersed,
    };

    fn go(v: &[&str]) -> Result<Flags, FlagError> {
        Flags::parse(&GO, argv(v))
    }

    #[test]
    fn every_go_form_is_read() {
        let f = go(&["-port=9000", "--loglevel", "debug", "-base64", "x=="]).unwrap();
        assert_eq!(f.value("port"), Some("9000"));
        assert_eq!(f.value("loglevel"), Some("debug"));
        assert_eq!(f.value("base64"), Some("x=="));
        let f = go(&["-port", "1", "--port=2", "-base64="]).unwrap();
        assert_eq!(f.value("port"), Some("2"), "the last setting wins");
        assert_eq!(f.value("base64"), Some(""), "-name= gives an empty value");
        assert!(f.positional().is_empty());
    }

    #[test]
    fn booleans_never_take_the_next_argument() {
        let f = go(&["-simulate", "false"]).unwrap();
        assert!(f.bool("simulate"));
        assert_eq!(f.positional(), &["false"]);
        for (v, want) in [
            ("true", true),
            ("1", true),
            ("T", true),
            ("False", false),
            ("0", false),
        ] {
            assert_eq!(
                go(&[&format!("-simulate={v}")]).unwrap().bool("simulate"),
                want
            );
        }
        assert!(!go(&["-simulate", "-simulate=f"]).unwrap().bool("simulate"));
        assert_eq!(
            go(&["-v=yes"]).unwrap_err(),
            FlagError::InvalidBool {
                name: "v".into(),
                value: "yes".into()
            }
        );
        assert!(!go(&[]).unwrap().bool("v"));
    }

    #[test]
    fn errors_name_the_flag_as_go_does() {
        let e = |v: &[&str]| go(v).unwrap_err().to_string();
        assert_eq!(
            e(&["-hostname", "x"]),
            "flag provided but not defined: -hostname"
        );
        assert_eq!(e(&["-port"]), "flag needs an argument: -port");
        assert_eq!(
            e(&["-v=2"]),
            "invalid boolean value \"2\" for -v: parse error"
        );
        assert_eq!(e(&["---port", "1"]), "bad flag syntax: ---port");
        assert_eq!(e(&["-=1"]), "bad flag syntax: -=1");
        assert_eq!(go(&["-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(go(&["--help=false"]).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn go_stops_at_the_first_argument_or_dashes() {
        let f = go(&["-port", "1", "stray", "-port", "2"]).unwrap();
        assert_eq!(f.value("port"), Some("1"));
        assert_eq!(f.positional(), &["stray", "-port", "2"]);
        let f = go(&["--", "-port", "2"]).unwrap();
        assert_eq!(f.value("port"), None);
        assert_eq!(f.positional(), &["-port", "2"]);
        assert_eq!(go(&["-", "-port"]).unwrap().positional(), &["-", "-port"]);
    }

    #[test]
    fn interspersed_positionals_stand_between_flags() {
        let f = Flags::parse(&MIXED, argv(&["a", "-port", "1", "b", "--", "-v"])).unwrap();
        assert_eq!(f.value("port"), Some("1"));
        assert_eq!(f.positional(), &["a", "b", "-v"]);
        assert!(!f.bool("v"));
    }

    #[test]
    fn loose_sets_leave_unknown_names_to_the_command() {
        let f = Flags::parse(
            &LOOSE,
            argv(&["show", "-", "--json", "--product=milan", "-vmpl", "1"]),
        )
        .unwrap();
        assert_eq!(f.positional(), &["show", "-"]);
        assert!(f.bool("json"));
        assert_eq!(f.value("product"), Some("milan"));
        assert_eq!(f.value("vmpl"), Some("1"));
        assert_eq!(
            f.reject_unknown(&["json", "product"]),
            Err(FlagError::Undefined("vmpl".into()))
        );
        assert!(f.reject_unknown(&["json", "product", "vmpl"]).is_ok());
        assert_eq!(
            Flags::parse(&LOOSE, argv(&["--product"])).unwrap_err(),
            FlagError::MissingValue("product".into())
        );
    }

    #[test]
    fn debug_shows_no_values() {
        let f = go(&["-base64", "c2VjcmV0"]).unwrap();
        let shown = format!("{f:?}");
        assert!(
            shown.contains("base64") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
    }
}

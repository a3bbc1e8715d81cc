//! A small command-line reader: positional arguments, `--flag`, `--key value` and
//! `--key=value`. Single-dash long options (`-key value`, Go style) are accepted too, because
//! upstream's tools take them.

use crate::exit::Failure;

/// Parsed arguments.
#[derive(Debug, Default)]
pub struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Args {
    /// Reads `argv` (without the program name). `flags` lists the options that take no value.
    pub fn parse(argv: impl IntoIterator<Item = String>, flags: &[&str]) -> Result<Args, Failure> {
        let mut out = Args::default();
        let mut it = argv.into_iter();
        let mut only_positional = false;
        while let Some(a) = it.next() {
            if only_positional || a == "-" || !a.starts_with('-') {
                out.positional.push(a);
                continue;
            }
            if a == "--" {
                only_positional = true;
                continue;
            }
            let body = a.trim_start_matches('-');
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            if flags.contains(&name.as_str()) {
                if inline.is_some() && !matches!(inline.as_deref(), Some("true" | "1")) {
                    if matches!(inline.as_deref(), Some("false" | "0")) {
                        continue;
                    }
                    return Err(Failure::usage(format!("--{name} takes no value")));
                }
                out.options.push((name, None));
                continue;
            }
            let value = match inline {
                Some(v) => v,
                None => it
                    .next()
                    .ok_or_else(|| Failure::usage(format!("--{name} needs a value")))?,
            };
            out.options.push((name, Some(value)));
        }
        Ok(out)
    }

    /// Positional arguments in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// True if the flag was given.
    pub fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, v)| n == name && v.is_none())
    }

    /// The last value of an option.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, v)| n == name && v.is_some())
            .and_then(|(_, v)| v.as_deref())
    }

    /// Fails on any option not in `known`.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), Failure> {
        match self
            .options
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((n, _)) => Err(Failure::usage(format!("unknown option --{n}"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_all_forms() {
        let p = Args::parse(
            a(&["show", "-", "--json", "--product=milan", "-vmpl", "1"]),
            &["json"],
        )
        .unwrap();
        assert_eq!(p.positional(), &["show", "-"]);
        assert!(p.flag("json"));
        assert_eq!(p.value("product"), Some("milan"));
        assert_eq!(p.value("vmpl"), Some("1"));
        assert!(p.reject_unknown(&["json", "product"]).is_err());
        assert!(Args::parse(a(&["--product"]), &[]).is_err());
    }
}

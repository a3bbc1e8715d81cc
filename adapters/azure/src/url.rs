//! Percent-encoding for query strings and form bodies (RFC 3986 unreserved set kept), and the
//! service endpoints callers name (`host[:port]`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Percent-encodes everything but `A-Z a-z 0-9 - . _ ~`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes percent-encoding (and `+` as space when `form` is set); `None` on bad escapes.
pub fn percent_decode(s: &str, form: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if form => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A service endpoint as the sidecars' callers give it: a host name, IPv4 address or bracketed
/// IPv6 address, and an optional port 1-65535. Displays as `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// The port, when one was given.
    pub port: Option<u16>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// Why an endpoint is not a `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Nothing but the scheme or slashes.
    #[error("no host")]
    Empty,
    /// A port that is not a number from 1 to 65535.
    #[error("port {0:?} is not a number from 1 to 65535")]
    Port(String),
    /// A host that is not a DNS name, IPv4 address or bracketed IPv6 address.
    #[error(
        "{0:?} is not a host name, IPv4 address or [IPv6] address (expected host[:port], e.g. myvault.vault.azure.net)"
    )]
    Host(String),
}

fn dns_name(host: &str) -> bool {
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    // A last label of digits only would be a malformed IPv4 address, not a name.
    let last_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    !host.is_empty() && host.len() <= 253 && labels_ok && !last_numeric
}

fn port(text: &str) -> Result<u16, EndpointError> {
    let bad = || EndpointError::Port(text.to_string());
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u32>() {
        Ok(p @ 1..=65535) => u16::try_from(p).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Parses `host[:port]`; an `https://` prefix and trailing `/` are accepted and dropped.
/// Anything else (paths, queries, credentials, other schemes, ports outside 1-65535) is
/// refused, so that a caller's endpoint can only ever name a host.
pub fn parse_endpoint(text: &str) -> Result<Endpoint, EndpointError> {
    let rest = match text.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => text.get(8..).unwrap_or(""),
        _ => text,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Err(EndpointError::Empty);
    }
    // Another scheme, a path, a query or credentials.
    if rest.contains(['/', '?', '#', '@', '\\']) {
        return Err(EndpointError::Host(rest.to_string()));
    }
    let (host, port_text) = if let Some(inner) = rest.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| EndpointError::Host(rest.to_string()))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(EndpointError::Host(rest.to_string()));
        }
        let port_text = match after {
            "" => None,
            a => Some(
                a.strip_prefix(':')
                    .ok_or_else(|| EndpointError::Host(rest.to_string()))?,
            ),
        };
        (addr.to_string(), port_text)
    } else {
        let (host, port_text) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if host.parse::<Ipv4Addr>().is_err() && !dns_name(host) {
            return Err(EndpointError::Host(host.to_string()));
        }
        (host.to_ascii_lowercase(), port_text)
    };
    let port = port_text.map(port).transpose()?;
    Ok(Endpoint { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = "https://vault.azure.net/.default a+b&c=d";
        assert_eq!(
            query_escape(s),
            "https%3A%2F%2Fvault.azure.net%2F.default%20a%2Bb%26c%3Dd"
        );
        assert_eq!(percent_decode(&query_escape(s), false).unwrap(), s);
        assert_eq!(percent_decode("a+b", true).unwrap(), "a b");
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%4", false), None);
    }

    #[test]
    fn endpoints_are_host_and_port_only() {
        let ok = |s: &str| parse_endpoint(s).map(|e| e.to_string());
        assert_eq!(
            ok("myattest.eus.attest.azure.net").unwrap(),
            "myattest.eus.attest.azure.net"
        );
        assert_eq!(ok("https://Vault.Azure.net/").unwrap(), "vault.azure.net");
        assert_eq!(ok("127.0.0.1:8443").unwrap(), "127.0.0.1:8443");
        assert_eq!(ok("localhost:1").unwrap(), "localhost:1");
        assert_eq!(ok("h:65535").unwrap(), "h:65535");
        assert_eq!(ok("[::1]:443").unwrap(), "[::1]:443");
        assert_eq!(ok("[::1]").unwrap(), "[::1]");
        assert_eq!(
            ok("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "127.0.0.1:99999",
            "h:0",
            "h:",
            "h:+80",
            "h:4294967297",
            "h:1:2",
        ] {
            assert!(
                matches!(parse_endpoint(bad), Err(EndpointError::Port(_))),
                "{bad}: {:?}",
                parse_endpoint(bad)
            );
        }
        for bad in [
            ":::",
            "[::1",
            "[::1]x",
            "[nothex]:1",
            "::1",
            ":443",
            "evil.com/path?x=",
            "user@host",
            "http://host",
            "ftp://host",
            "-lead.example",
            "a..b",
            "999.1.1.1",
            "1.2.3",
            "host name",
            "h\u{0}",
            "https:///",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse_endpoint(""), Err(EndpointError::Empty));
        assert_eq!(parse_endpoint("https://"), Err(EndpointError::Empty));
        assert!(parse_endpoint(&"a".repeat(254)).is_err());
        assert!(parse_endpoint(&format!("{}.b", "a".repeat(64))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_fails_and_accepted_endpoints_are_canonical(text in "\\PC{0,40}") {
            if let Ok(e) = parse_endpoint(&text) {
                let shown = e.to_string();
                proptest::prop_assert_eq!(parse_endpoint(&shown), Ok(e.clone()));
                proptest::prop_assert!(shown
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
                proptest::prop_assert!(e.port != Some(0));
            }
        }

        #[test]
        fn host_and_port_accepted_exactly_in_range(
            labels in proptest::collection::vec("[a-z][a-z0-9-]{0,10}[a-z0-9]", 1..4),
            port in 0u32..200_000,
        ) {
            let host = labels.join(".");
            let r = parse_endpoint(&format!("{host}:{port}"));
            if (1..=65535).contains(&port) {
                proptest::prop_assert_eq!(
                    r,
                    Ok(Endpoint { host, port: Some(u16::try_from(port).unwrap()) })
                );
            } else {
                proptest::prop_assert!(matches!(r, Err(EndpointError::Port(_))));
            }
        }
    }
}

//! `azure_url` (and `azure_url_private`): an https:// blob URL naming a container and a blob,
//! or a file:// path to a local image; plain http:// only for public blobs, with a warning.

use super::super::decode::FieldPath;
use super::super::model::{AzureFilesystem, redact_url};
use super::super::plan::SourceSpec;
use super::{Validator, has_control};

impl Validator {
    pub(super) fn source(&mut self, fs: &AzureFilesystem, path: &FieldPath) -> Option<SourceSpec> {
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

//! The minimal PEM un-armouring the key readers need: the first `-----BEGIN <label>-----` block,
//! its base64 body decoded into a caller buffer. Encrypted PEM (header lines) is refused.
//!
//! Private to the key readers; the crate-wide PEM module may replace it later.

use zeroize::Zeroize;

use super::KeyError;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// What a PEM label says the DER is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PemKind {
    /// `RSA PRIVATE KEY`: PKCS#1 RSAPrivateKey.
    Pkcs1,
    /// `PRIVATE KEY`: PKCS#8 PrivateKeyInfo.
    Pkcs8,
    /// `EC PRIVATE KEY`: SEC1 ECPrivateKey.
    Sec1,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True if `text` contains a PEM begin line (otherwise callers treat it as DER).
pub(crate) fn looks_like_pem(text: &[u8]) -> bool {
    find(text, BEGIN).is_some()
}

/// Decodes the first PEM block of `text` into `out`.
pub(crate) fn unarmor<'o>(text: &[u8], out: &'o mut [u8]) -> Result<(PemKind, &'o [u8]), KeyError> {
    let start = find(text, BEGIN).ok_or(KeyError::Pem)?;
    let after_begin = text
        .get(start.saturating_add(BEGIN.len())..)
        .ok_or(KeyError::Pem)?;
    let label_len = find(after_begin, DASHES).ok_or(KeyError::Pem)?;
    let label = after_begin.get(..label_len).ok_or(KeyError::Pem)?;
    let kind = match label {
        b"RSA PRIVATE KEY" => PemKind::Pkcs1,
        b"PRIVATE KEY" => PemKind::Pkcs8,
        b"EC PRIVATE KEY" => PemKind::Sec1,
        _ => return Err(KeyError::PemLabel),
    };
    let body_and_rest = after_begin
        .get(label_len.saturating_add(DASHES.len())..)
        .ok_or(KeyError::Pem)?;
    let end = find(body_and_rest, END).ok_or(KeyError::Pem)?;
    let body = body_and_rest.get(..end).ok_or(KeyError::Pem)?;
    let end_line = body_and_rest
        .get(end.saturating_add(END.len())..)
        .ok_or(KeyError::Pem)?;
    let end_label = end_line.get(..label_len).ok_or(KeyError::Pem)?;
    let end_dashes = end_line
        .get(label_len..label_len.saturating_add(DASHES.len()))
        .ok_or(KeyError::Pem)?;
    if end_label != label || end_dashes != DASHES {
        return Err(KeyError::Pem);
    }
    // RFC 1421 headers (Proc-Type, DEK-Info) mean an encrypted key.
    if body.contains(&b':') {
        return Err(KeyError::Pem);
    }
    let capacity = out.len();
    match crate::base64::decode_into(body, out) {
        Ok(n) => Ok((kind, out.get(..n).unwrap_or(&[]))),
        Err(crate::base64::Base64Error::OutputTooSmall { .. }) => {
            out.zeroize();
            Err(KeyError::BufferTooSmall { capacity })
        }
        Err(e) => {
            out.zeroize();
            Err(KeyError::Base64(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_first_block() {
        let text = b"junk\n-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----\n";
        let mut out = [0u8; 8];
        let (kind, der) = unarmor(text, &mut out).unwrap();
        assert_eq!((kind, der), (PemKind::Pkcs8, &[0u8, 1, 2, 3][..]));
        assert!(looks_like_pem(text));
        assert!(!looks_like_pem(&[0x30, 0x82]));
    }

    #[test]
    fn refuses_bad_blocks() {
        let mut out = [0u8; 8];
        let e = |t: &[u8], out: &mut [u8]| unarmor(t, out).unwrap_err();
        assert_eq!(
            e(
                b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----",
                &mut out
            ),
            KeyError::PemLabel
        );
        assert_eq!(
            e(
                b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----",
                &mut out
            ),
            KeyError::Pem
        );
        assert_eq!(
            e(
                b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAA==\n-----END RSA PRIVATE KEY-----",
                &mut out
            ),
            KeyError::Pem
        );
        assert_eq!(
            e(b"-----BEGIN PRIVATE KEY-----\nAA==", &mut out),
            KeyError::Pem
        );
        assert_eq!(
            e(
                b"-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAA\n-----END PRIVATE KEY-----",
                &mut out
            ),
            KeyError::BufferTooSmall { capacity: 8 }
        );
        assert_eq!(out, [0u8; 8]);
    }
}

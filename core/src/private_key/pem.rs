//! Private-key PEM for the key readers, over the crate's PEM reader ([`crate::pem`]): the first
//! block must be a private key (`RSA PRIVATE KEY`, `PRIVATE KEY` or `EC PRIVATE KEY`); encrypted
//! PEM (RFC 1421 header lines) is refused, and the output buffer is wiped on any failure.

use zeroize::Zeroize;

use super::KeyError;
use crate::pem::PemError;

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

/// True if `text` contains a PEM begin line (otherwise callers treat it as DER).
pub(crate) fn looks_like_pem(text: &[u8]) -> bool {
    crate::pem::is_pem(text)
}

/// Decodes the first PEM block of `text` into `out`.
pub(crate) fn unarmor<'o>(text: &[u8], out: &'o mut [u8]) -> Result<(PemKind, &'o [u8]), KeyError> {
    let block = match crate::pem::blocks(text).next() {
        Some(Ok(b)) => b,
        _ => return Err(KeyError::Pem),
    };
    let kind = match block.label {
        b"RSA PRIVATE KEY" => PemKind::Pkcs1,
        b"PRIVATE KEY" => PemKind::Pkcs8,
        b"EC PRIVATE KEY" => PemKind::Sec1,
        _ => return Err(KeyError::PemLabel),
    };
    // RFC 1421 headers (Proc-Type, DEK-Info) mean an encrypted key.
    if block.body.contains(&b':') {
        return Err(KeyError::Pem);
    }
    let capacity = out.len();
    match block.decode_into(out) {
        Ok(der) => {
            let n = der.len();
            Ok((kind, out.get(..n).unwrap_or(&[])))
        }
        Err(e) => {
            out.zeroize();
            Err(match e {
                PemError::Base64 {
                    error: crate::base64::Base64Error::OutputTooSmall { .. },
                    ..
                } => KeyError::BufferTooSmall { capacity },
                PemError::Base64 { error, .. } => KeyError::Base64(error),
                _ => KeyError::Pem,
            })
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

//! PEM (RFC 7468) decoding into caller buffers.
//!
//! A PEM file is any text with `-----BEGIN LABEL-----` ... `-----END LABEL-----` blocks whose
//! bodies are base64. [`blocks`] walks them without decoding; [`Block::decode_into`] decodes one
//! into a buffer the caller owns. Text outside blocks (comments, `openssl x509 -text` output) is
//! skipped, as RFC 7468 allows. Headers inside a block (RFC 1421 `Proc-Type:`) are not accepted:
//! none of the formats read here use them.

use core::fmt;

use crate::base64::{self, Base64Error};

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// Why PEM text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemError {
    /// No `-----BEGIN` line at all.
    NoBlock,
    /// A BEGIN line that is not `-----BEGIN LABEL-----`.
    BadBeginLine {
        /// Offset of the line.
        offset: usize,
    },
    /// A block without its matching END line.
    MissingEnd {
        /// Offset of the BEGIN line.
        offset: usize,
    },
    /// The END label differs from the BEGIN label.
    LabelMismatch {
        /// Offset of the END line.
        offset: usize,
    },
    /// A block with another label than the one asked for.
    UnexpectedLabel {
        /// Offset of the BEGIN line.
        offset: usize,
    },
    /// The body is not base64.
    Base64 {
        /// Offset of the block's body.
        offset: usize,
        /// What the decoder found.
        error: Base64Error,
    },
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PemError::NoBlock => f.write_str("no PEM block (-----BEGIN ...-----) found"),
            PemError::BadBeginLine { offset } => {
                write!(f, "malformed PEM BEGIN line at byte {offset}")
            }
            PemError::MissingEnd { offset } => {
                write!(f, "PEM block at byte {offset} has no END line")
            }
            PemError::LabelMismatch { offset } => {
                write!(
                    f,
                    "PEM END line at byte {offset} does not match its BEGIN label"
                )
            }
            PemError::UnexpectedLabel { offset } => {
                write!(f, "PEM block at byte {offset} has an unexpected label")
            }
            PemError::Base64 { offset, error } => {
                write!(f, "PEM body at byte {offset}: {error}")
            }
        }
    }
}

impl core::error::Error for PemError {}

/// One `BEGIN`/`END` block, not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// The label, e.g. `CERTIFICATE` or `X509 CRL`.
    pub label: &'a [u8],
    /// The base64 body (with its line breaks).
    pub body: &'a [u8],
    /// Offset of the BEGIN line in the text.
    pub offset: usize,
    body_offset: usize,
}

impl<'a> Block<'a> {
    /// True if the label is `label`.
    pub fn is(&self, label: &str) -> bool {
        self.label == label.as_bytes()
    }

    /// Upper bound of the decoded size, for sizing a buffer.
    pub fn decoded_len_max(&self) -> usize {
        base64::decoded_len_max(self.body.len())
    }

    /// Decodes the body into `out` and returns the filled part.
    pub fn decode_into<'o>(&self, out: &'o mut [u8]) -> Result<&'o [u8], PemError> {
        let body_offset = self.body_offset;
        let n = base64::decode_into(self.body, out).map_err(|error| PemError::Base64 {
            offset: body_offset,
            error,
        })?;
        Ok(out.get(..n).unwrap_or_default())
    }
}

/// Iterator over the PEM blocks of a text; see [`blocks`].
#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    text: &'a [u8],
    pos: usize,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let tail = hay.get(from..)?;
    tail.windows(needle.len())
        .position(|w| w == needle)
        .and_then(|p| p.checked_add(from))
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, PemError>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        let begin = find(text, BEGIN, self.pos)?;
        // Stop after any error: the rest of the text cannot be trusted to be aligned.
        self.pos = text.len();
        let label_start = begin.saturating_add(BEGIN.len());
        let Some(label_end) = find(text, DASHES, label_start) else {
            return Some(Err(PemError::BadBeginLine { offset: begin }));
        };
        let label = text.get(label_start..label_end).unwrap_or_default();
        if !label.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Some(Err(PemError::BadBeginLine { offset: begin }));
        }
        let body_start = label_end.saturating_add(DASHES.len());
        let Some(end) = find(text, END, body_start) else {
            return Some(Err(PemError::MissingEnd { offset: begin }));
        };
        let end_label_start = end.saturating_add(END.len());
        let end_label_end = end_label_start.saturating_add(label.len());
        let closes = text.get(end_label_start..end_label_end) == Some(label)
            && text.get(end_label_end..end_label_end.saturating_add(DASHES.len())) == Some(DASHES);
        if !closes {
            return Some(Err(PemError::LabelMismatch { offset: end }));
        }
        self.pos = end_label_end.saturating_add(DASHES.len());
        Some(Ok(Block {
            label,
            body: text.get(body_start..end).unwrap_or_default(),
            offset: begin,
            body_offset: body_start,
        }))
    }
}

/// The PEM blocks of `text`, in order. Text between blocks is ignored.
pub fn blocks(text: &[u8]) -> Blocks<'_> {
    Blocks { text, pos: 0 }
}

/// True if `bytes` holds a PEM BEGIN line (as opposed to DER, which starts with a tag byte).
pub fn is_pem(bytes: &[u8]) -> bool {
    find(bytes, BEGIN, 0).is_some()
}

/// Decodes the first block labelled `label` into `out`; blocks with other labels are skipped.
pub fn decode_first<'o>(text: &[u8], label: &str, out: &'o mut [u8]) -> Result<&'o [u8], PemError> {
    for block in blocks(text) {
        let block = block?;
        if block.is(label) {
            return block.decode_into(out);
        }
    }
    Err(PemError::NoBlock)
}

/// Decodes the only block of `text`, which must be labelled `label`.
pub fn decode_single<'o>(
    text: &[u8],
    label: &str,
    out: &'o mut [u8],
) -> Result<&'o [u8], PemError> {
    let mut it = blocks(text);
    let block = it.next().ok_or(PemError::NoBlock)??;
    if !block.is(label) {
        return Err(PemError::UnexpectedLabel {
            offset: block.offset,
        });
    }
    if let Some(next) = it.next() {
        let offset = next.map(|b| b.offset).unwrap_or(block.offset);
        return Err(PemError::UnexpectedLabel { offset });
    }
    block.decode_into(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TWO: &str = "junk before\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n\
        text\r\n-----BEGIN X509 CRL-----\r\nBAUG\r\n-----END X509 CRL-----\r\n";

    #[test]
    fn walks_and_decodes_blocks() {
        let all: std::vec::Vec<_> = blocks(TWO.as_bytes()).map(|b| b.unwrap()).collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].is("CERTIFICATE") && all[1].is("X509 CRL"));
        let mut out = [0u8; 8];
        assert_eq!(all[0].decode_into(&mut out).unwrap(), &[0, 1, 2, 3]);
        assert_eq!(
            decode_first(TWO.as_bytes(), "X509 CRL", &mut out).unwrap(),
            &[4, 5, 6]
        );
        let second = TWO.find("-----BEGIN X509 CRL").unwrap();
        assert_eq!(
            decode_single(TWO.as_bytes(), "CERTIFICATE", &mut out),
            Err(PemError::UnexpectedLabel { offset: second })
        );
        assert!(is_pem(TWO.as_bytes()) && !is_pem(&[0x30, 0x82]));
    }

    #[test]
    fn rejects_broken_blocks() {
        let mut out = [0u8; 8];
        let e = |t: &str| decode_first(t.as_bytes(), "CERTIFICATE", &mut [0u8; 8]).unwrap_err();
        assert_eq!(e("nothing"), PemError::NoBlock);
        assert_eq!(
            e("-----BEGIN CERTIFICATE-----\nAAAA\n"),
            PemError::MissingEnd { offset: 0 }
        );
        assert_eq!(
            e("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n"),
            PemError::LabelMismatch { offset: 33 }
        );
        assert!(matches!(
            e("-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----"),
            PemError::Base64 { offset: 27, .. }
        ));
        assert!(matches!(
            decode_first(
                b"-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----",
                "CERTIFICATE",
                &mut out[..4]
            ),
            Err(PemError::Base64 { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut out = [0u8; 256];
            for b in blocks(&bytes).take(8).flatten() {
                let _ = b.decode_into(&mut out);
            }
        }
    }
}

//! Sealing a request message and opening a response message: the framing without state.
//!
//! [`seal_request`] writes header and encrypted payload into a buffer. [`open_response`] is the
//! response parser: it copies the header out of the buffer (so a buffer that changes under it
//! cannot make it check one header and use another), checks every header field against the
//! request, then authenticates and decrypts the payload in place. Nothing is trusted before the
//! tag has been checked, and every failure names the field.

use zerocopy::{FromBytes, IntoBytes};

use super::crypto::{AeadError, MessageAead, VmpckId};
use super::error::ResponseError;
use super::header::{
    ALGO_AES_256_GCM, HEADER_SIZE, HEADER_VERSION, MAX_PAYLOAD, MESSAGE_VERSION, MessageType,
    RawHeader,
};

/// What a response must say to answer a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// MSG_TYPE: the request's type plus one.
    pub msg_type: MessageType,
    /// MSG_VERSION: the request's.
    pub msg_version: u8,
    /// MSG_VMPCK: the request's.
    pub vmpck: VmpckId,
    /// MSG_SEQNO: the request's plus one.
    pub seqno: u64,
}

impl Expected {
    /// What answers a request of `msg_type` numbered `seqno` under `vmpck` (`None` if the type
    /// or the number has no successor).
    pub fn answer_to(msg_type: MessageType, seqno: u64, vmpck: VmpckId) -> Option<Expected> {
        Some(Expected {
            msg_type: msg_type.response()?,
            msg_version: MESSAGE_VERSION,
            vmpck,
            seqno: seqno.checked_add(1)?,
        })
    }
}

/// Writes a request of `msg_type` numbered `seqno` carrying `payload`, sealed with `key`, into
/// `out`; returns the message length. Fails only if `payload` exceeds [`MAX_PAYLOAD`] or `out`
/// is too small.
pub fn seal_request<K: MessageAead + ?Sized>(
    key: &K,
    vmpck: VmpckId,
    msg_type: MessageType,
    seqno: u64,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, AeadError> {
    let size = u16::try_from(payload.len())
        .ok()
        .filter(|s| usize::from(*s) <= MAX_PAYLOAD)
        .ok_or(AeadError)?;
    let total = HEADER_SIZE.checked_add(payload.len()).ok_or(AeadError)?;
    let (head, body) = out
        .get_mut(..total)
        .ok_or(AeadError)?
        .split_at_mut(HEADER_SIZE);
    body.copy_from_slice(payload);
    let mut header = RawHeader::request(msg_type, seqno, vmpck.get(), size);
    key.seal(&mut header, body)?;
    head.copy_from_slice(header.as_bytes());
    Ok(total)
}

/// Checks the response in `message` against `expected` and decrypts its payload in place;
/// returns the plaintext (MSG_SIZE bytes after the header).
pub fn open_response<'b, K: MessageAead + ?Sized>(
    key: &K,
    expected: &Expected,
    message: &'b mut [u8],
) -> Result<&'b mut [u8], ResponseError> {
    let capacity = message.len();
    let (header, _) =
        RawHeader::read_from_prefix(message).map_err(|_| ResponseError::MessageSize {
            size: HEADER_SIZE,
            capacity,
        })?;
    check_header(&header, expected)?;
    let size = usize::from(header.msg_size.get());
    let end = HEADER_SIZE.saturating_add(size);
    let payload = message
        .get_mut(HEADER_SIZE..end)
        .ok_or(ResponseError::MessageSize {
            size: end,
            capacity,
        })?;
    key.open(&header, payload)
        .map_err(|_| ResponseError::Authentication)?;
    Ok(payload)
}

/// The header checks of [`open_response`], in the order a person would look.
pub fn check_header(header: &RawHeader, expected: &Expected) -> Result<(), ResponseError> {
    if header.algo != ALGO_AES_256_GCM {
        return Err(ResponseError::Algorithm {
            actual: header.algo,
        });
    }
    if header.hdr_version != HEADER_VERSION {
        return Err(ResponseError::HeaderVersion {
            actual: header.hdr_version,
        });
    }
    if usize::from(header.hdr_size.get()) != HEADER_SIZE {
        return Err(ResponseError::HeaderSize {
            actual: header.hdr_size.get(),
        });
    }
    if header.msg_type != expected.msg_type.0 {
        return Err(ResponseError::MessageType {
            expected: expected.msg_type,
            actual: MessageType(header.msg_type),
        });
    }
    if header.msg_version != expected.msg_version {
        return Err(ResponseError::MessageVersion {
            expected: expected.msg_version,
            actual: header.msg_version,
        });
    }
    if header.msg_vmpck != expected.vmpck.get() {
        return Err(ResponseError::Vmpck {
            expected: expected.vmpck.get(),
            actual: header.msg_vmpck,
        });
    }
    if header.msg_seqno.get() != expected.seqno {
        return Err(ResponseError::SequenceNumber {
            expected: expected.seqno,
            actual: header.msg_seqno.get(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::crypto::Vmpck;
    use proptest::prelude::*;

    fn vmpck() -> Vmpck {
        Vmpck::new([0x42; 32])
    }

    /// A response as the PSP would make it: same framing, response type, seqno + 1.
    fn response(seqno: u64, payload: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec![0u8; HEADER_SIZE + payload.len()];
        let id = VmpckId::new(1).unwrap();
        seal_request(&vmpck(), id, MessageType::KEY_RSP, seqno, payload, &mut out).unwrap();
        out
    }

    fn expected(seqno: u64) -> Expected {
        Expected::answer_to(MessageType::KEY_REQ, seqno, VmpckId::new(1).unwrap()).unwrap()
    }

    #[test]
    fn a_good_response_opens() {
        let mut m = response(8, &[1, 2, 3]);
        assert_eq!(
            open_response(&vmpck(), &expected(7), &mut m).unwrap(),
            &[1, 2, 3]
        );
    }

    #[test]
    fn each_header_field_is_named() {
        let cases: [(usize, u8, &str); 6] = [
            (0x30, 2, "ALGO is 2"),
            (0x31, 2, "HDR_VERSION is 2"),
            (0x32, 0x61, "HDR_SIZE is 97"),
            (0x34, 6, "MSG_TYPE is MSG_REPORT_RSP, expected MSG_KEY_RSP"),
            (0x35, 2, "MSG_VERSION is 2"),
            (0x3C, 0, "MSG_VMPCK is 0, but the request used VMPCK1"),
        ];
        for (at, value, text) in cases {
            let mut m = response(8, &[1, 2, 3]);
            m[at] = value;
            let e = open_response(&vmpck(), &expected(7), &mut m).unwrap_err();
            assert!(std::string::ToString::to_string(&e).contains(text), "{e}");
        }
        // A replayed answer to an earlier request.
        let mut m = response(6, &[1, 2, 3]);
        assert_eq!(
            open_response(&vmpck(), &expected(7), &mut m),
            Err(ResponseError::SequenceNumber {
                expected: 8,
                actual: 6
            })
        );
        // A tampered payload or reserved header byte inside the authenticated part.
        for at in [HEADER_SIZE + 1, 0x40] {
            let mut m = response(8, &[1, 2, 3]);
            m[at] ^= 1;
            assert_eq!(
                open_response(&vmpck(), &expected(7), &mut m),
                Err(ResponseError::Authentication)
            );
        }
        // MSG_SIZE larger than the buffer, and a buffer shorter than a header.
        let mut m = response(8, &[1, 2, 3]);
        m[0x36] = 4;
        assert_eq!(
            open_response(&vmpck(), &expected(7), &mut m),
            Err(ResponseError::MessageSize {
                size: 100,
                capacity: 99
            })
        );
        let mut short = [0u8; 50];
        assert!(matches!(
            open_response(&vmpck(), &expected(7), &mut short),
            Err(ResponseError::MessageSize { .. })
        ));
    }

    #[test]
    fn sealing_refuses_what_does_not_fit() {
        let id = VmpckId::new(0).unwrap();
        let mut small = [0u8; 100];
        assert!(seal_request(&vmpck(), id, MessageType::KEY_REQ, 1, &[0; 5], &mut small).is_err());
        let mut page = [0u8; 5000];
        assert!(
            seal_request(&vmpck(), id, MessageType::KEY_REQ, 1, &[0; 4001], &mut page).is_err()
        );
        assert_eq!(
            seal_request(&vmpck(), id, MessageType::KEY_REQ, 1, &[0; 4000], &mut page),
            Ok(4096)
        );
        assert!(Expected::answer_to(MessageType::KEY_REQ, u64::MAX, id).is_none());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..400), seq in any::<u64>()) {
            let mut m = bytes.clone();
            if let Ok(plain) = open_response(&vmpck(), &expected(seq.saturating_sub(1)), &mut m) {
                // Only possible with a forged tag: astronomically unlikely.
                prop_assert!(plain.len() <= bytes.len());
            }
        }

        #[test]
        fn any_single_bit_flip_is_refused(payload in proptest::collection::vec(any::<u8>(), 1..64), bit in 0usize..1000) {
            let good = response(8, &payload);
            let at = bit / 8 % good.len();
            // Flips in AUTHTAG's unused half or the unauthenticated reserved bytes are harmless.
            prop_assume!(!(16..0x20).contains(&at) && !(0x28..0x30).contains(&at));
            let mut m = good.clone();
            m[at] ^= 1 << (bit % 8);
            prop_assert!(open_response(&vmpck(), &expected(7), &mut m).is_err());
        }
    }
}

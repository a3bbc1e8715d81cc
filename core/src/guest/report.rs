//! MSG_REPORT_REQ and MSG_REPORT_RSP: an attestation report for 64 bytes of REPORT_DATA at a
//! VMPL, signed with the selected endorsement key.
//!
//! Source: AMD SEV-SNP firmware ABI specification, tables "MSG_REPORT_REQ Message Structure" and
//! "MSG_REPORT_RSP Message Structure" (KEY_SEL since ABI 1.55; zero means what older firmware
//! always did).

use zerocopy::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::error::{RequestError, ResponseError};
use super::header::MessageType;
use super::key::KeySelect;
use super::status::check_response_status;
use crate::abi::{REPORT_SIZE, size};
use crate::report::Report;
use crate::source::{AnswerMismatch, ReportRequest, Vmpl};

/// Size of MSG_REPORT_REQ.
pub const REPORT_REQ_SIZE: usize = 0x60;
/// Offset of REPORT in MSG_REPORT_RSP.
pub const REPORT_RSP_REPORT_OFFSET: usize = 0x20;
/// Size of MSG_REPORT_RSP with a report of [`REPORT_SIZE`] bytes.
pub const REPORT_RSP_SIZE: usize = REPORT_RSP_REPORT_OFFSET + REPORT_SIZE;
/// Mask of KEY_SEL in the word after VMPL.
const KEY_SEL_MASK: u32 = 0b11;

/// The wire layout of MSG_REPORT_REQ.
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawReportRequest {
    /// REPORT_DATA.
    pub report_data: [u8; size::REPORT_DATA],
    /// VMPL.
    pub vmpl: U32,
    /// KEY_SEL in bits 1:0, the rest reserved.
    pub key_sel: U32,
    /// Reserved.
    pub reserved: [u8; 24],
}

const _: () = assert!(size_of::<RawReportRequest>() == REPORT_REQ_SIZE);

/// A report request as the PSP reads it: the core's [`ReportRequest`] plus the signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMessage {
    /// REPORT_DATA and VMPL.
    pub request: ReportRequest,
    /// The key that signs the report.
    pub key_select: KeySelect,
}

impl ReportMessage {
    /// A request for `request`, signed with the default key.
    pub fn new(request: ReportRequest) -> Self {
        ReportMessage {
            request,
            key_select: KeySelect::Default,
        }
    }

    /// The 96 bytes of MSG_REPORT_REQ.
    pub fn encode(&self) -> [u8; REPORT_REQ_SIZE] {
        let raw = RawReportRequest {
            report_data: self.request.report_data,
            vmpl: U32::new(self.request.vmpl.get().into()),
            key_sel: U32::new(self.key_select.bits()),
            reserved: [0; 24],
        };
        let mut out = [0u8; REPORT_REQ_SIZE];
        out.copy_from_slice(raw.as_bytes());
        out
    }

    /// Reads MSG_REPORT_REQ, refusing reserved bits and out-of-range values.
    pub fn decode(bytes: &[u8]) -> Result<ReportMessage, RequestError> {
        let raw = RawReportRequest::read_from_bytes(bytes).map_err(|_| RequestError::Length {
            message: MessageType::REPORT_REQ,
            expected: REPORT_REQ_SIZE,
            actual: bytes.len(),
        })?;
        let field = |field, value: u32| RequestError::Field {
            field,
            value: value.into(),
        };
        let vmpl = Vmpl::new(raw.vmpl.get()).ok_or(field("VMPL", raw.vmpl.get()))?;
        let sel = raw.key_sel.get();
        if sel & !KEY_SEL_MASK != 0 {
            return Err(field("KEY_SEL reserved bits", sel));
        }
        let key_select = KeySelect::from_bits(sel).ok_or(field("KEY_SEL", sel))?;
        if let Some(i) = raw.reserved.iter().position(|b| *b != 0) {
            let at = i.saturating_add(0x48);
            return Err(RequestError::Field {
                field: "reserved bytes 0x48..0x60",
                value: at as u64,
            });
        }
        Ok(ReportMessage {
            request: ReportRequest::new(raw.report_data, vmpl),
            key_select,
        })
    }
}

/// Reads a decrypted MSG_REPORT_RSP: STATUS must be 0 and REPORT_SIZE 1184; returns the report.
pub fn parse_report_response(plain: &[u8]) -> Result<Report<'_>, ResponseError> {
    let short = |expected| ResponseError::PayloadLength {
        message: MessageType::REPORT_RSP,
        expected,
        actual: plain.len(),
    };
    check_response_status(plain, MessageType::REPORT_RSP)?;
    let report_size = plain
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or(short(8))?;
    if report_size as usize != REPORT_SIZE {
        return Err(ResponseError::ReportSize {
            actual: report_size,
        });
    }
    let body = plain
        .get(REPORT_RSP_REPORT_OFFSET..REPORT_RSP_SIZE)
        .ok_or(short(REPORT_RSP_SIZE))?;
    Ok(Report::parse(body)?)
}

/// Checks that `report` answers `request`: same REPORT_DATA, same VMPL.
pub fn check_binding(report: &Report<'_>, request: &ReportRequest) -> Result<(), ResponseError> {
    request.check_answer(report).map_err(|m| match m {
        AnswerMismatch::ReportData { offset } => ResponseError::ReportDataMismatch { offset },
        AnswerMismatch::Vmpl { expected, actual } => {
            ResponseError::VmplMismatch { expected, actual }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn request_bytes_are_the_abi() {
        let m = ReportMessage {
            request: ReportRequest::new([0xAB; 64], Vmpl::new(3).unwrap()),
            key_select: KeySelect::Vcek,
        };
        let b = m.encode();
        assert_eq!(&b[..64], &[0xAB; 64]);
        assert_eq!(&b[64..68], &[3, 0, 0, 0]);
        assert_eq!(&b[68..72], &[1, 0, 0, 0]);
        assert!(b[72..].iter().all(|x| *x == 0));
        assert_eq!(ReportMessage::decode(&b), Ok(m));
        let mut bad = b;
        bad[64] = 4;
        assert!(
            ReportMessage::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("VMPL = 0x4")
        );
        let mut bad = b;
        bad[68] = 3;
        assert!(
            ReportMessage::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("KEY_SEL = 0x3")
        );
        let mut bad = b;
        bad[70] = 1;
        assert!(
            ReportMessage::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("reserved bits")
        );
        let mut bad = b;
        bad[0x50] = 1;
        assert!(
            ReportMessage::decode(&bad)
                .unwrap_err()
                .to_string()
                .contains("0x50")
        );
        assert!(ReportMessage::decode(&b[..95]).is_err());
    }

    fn response(report: &[u8]) -> std::vec::Vec<u8> {
        let mut r = std::vec![0u8; REPORT_RSP_SIZE];
        r[4..8].copy_from_slice(&(REPORT_SIZE as u32).to_le_bytes());
        r[0x20..].copy_from_slice(report);
        r
    }

    fn sample_report() -> std::vec::Vec<u8> {
        let mut r = std::vec![0u8; REPORT_SIZE];
        r[0] = 2; // VERSION
        r[0x34] = 1; // SIGNATURE_ALGO
        r[0x30] = 1; // VMPL
        r[0x50..0x90].copy_from_slice(&[5; 64]);
        r
    }

    #[test]
    fn responses() {
        let rsp = response(&sample_report());
        let report = parse_report_response(&rsp).unwrap();
        assert_eq!(report.version(), 2);
        let req = ReportRequest::new([5; 64], Vmpl::new(1).unwrap());
        check_binding(&report, &req).unwrap();
        let other = ReportRequest::new([6; 64], Vmpl::new(1).unwrap());
        assert_eq!(
            check_binding(&report, &other),
            Err(ResponseError::ReportDataMismatch { offset: 0 })
        );
        let lower = ReportRequest::new([5; 64], Vmpl::ZERO);
        assert_eq!(
            check_binding(&report, &lower),
            Err(ResponseError::VmplMismatch {
                expected: 0,
                actual: 1
            })
        );

        let mut refused = rsp.clone();
        refused[0] = 0x27;
        assert!(
            parse_report_response(&refused)
                .unwrap_err()
                .to_string()
                .contains("MSG_REPORT_RSP STATUS 0x27 INVALID_KEY")
        );
        let mut sized = rsp.clone();
        sized[4] = 0;
        assert!(matches!(
            parse_report_response(&sized),
            Err(ResponseError::ReportSize { .. })
        ));
        assert!(matches!(
            parse_report_response(&rsp[..1000]),
            Err(ResponseError::PayloadLength {
                expected: 1216,
                actual: 1000,
                ..
            })
        ));
        assert!(parse_report_response(&rsp[..6]).is_err());
        let mut bad_version = rsp.clone();
        bad_version[0x20] = 9;
        assert!(matches!(
            parse_report_response(&bad_version),
            Err(ResponseError::Report(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_response_bytes_give_a_report_or_an_error(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1300)
        ) {
            if let Ok(r) = parse_report_response(&bytes) {
                proptest::prop_assert!(bytes.len() >= REPORT_RSP_SIZE);
                proptest::prop_assert_eq!(r.as_bytes(), &bytes[0x20..REPORT_RSP_SIZE]);
            }
        }
    }
}

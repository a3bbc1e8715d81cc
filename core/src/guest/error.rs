//! Why a guest message exchange failed: one enum for what is wrong with a response, one for a
//! request the PSP side cannot read, and [`GuestError`] for a whole exchange.

use core::fmt;

use super::header::MessageType;
use super::seqno::SequenceError;
use super::status::FirmwareStatus;
use crate::error::ReportError;

/// What is wrong with a response message. Every variant names the field and, where there is
/// one, the value expected and the value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// MSG_SIZE is larger than the response buffer can hold.
    MessageSize {
        /// MSG_SIZE plus the header.
        size: usize,
        /// Bytes of the response buffer.
        capacity: usize,
    },
    /// ALGO is not AES-256-GCM.
    Algorithm {
        /// The ALGO field.
        actual: u8,
    },
    /// HDR_VERSION is not one this crate reads.
    HeaderVersion {
        /// The HDR_VERSION field.
        actual: u8,
    },
    /// HDR_SIZE is not the header's size.
    HeaderSize {
        /// The HDR_SIZE field.
        actual: u16,
    },
    /// MSG_TYPE is not the response to the request sent.
    MessageType {
        /// The type that answers the request.
        expected: MessageType,
        /// The MSG_TYPE field.
        actual: MessageType,
    },
    /// MSG_VERSION differs from the request's.
    MessageVersion {
        /// The request's version.
        expected: u8,
        /// The MSG_VERSION field.
        actual: u8,
    },
    /// MSG_VMPCK names another key than the request's.
    Vmpck {
        /// The request's VMPCK.
        expected: u8,
        /// The MSG_VMPCK field.
        actual: u8,
    },
    /// MSG_SEQNO is not the request's plus one: a replayed, reordered or forged response.
    SequenceNumber {
        /// The request's number plus one.
        expected: u64,
        /// The MSG_SEQNO field.
        actual: u64,
    },
    /// AUTHTAG does not match: the header or payload was altered, or another key made it.
    Authentication,
    /// The decrypted payload is shorter than the response message it should hold.
    PayloadLength {
        /// The response type.
        message: MessageType,
        /// Bytes needed.
        expected: usize,
        /// MSG_SIZE.
        actual: usize,
    },
    /// The PSP refused the request: the response's STATUS field.
    Status {
        /// The response type.
        message: MessageType,
        /// STATUS.
        status: FirmwareStatus,
    },
    /// MSG_REPORT_RSP's REPORT_SIZE is not the size of a report.
    ReportSize {
        /// The REPORT_SIZE field.
        actual: u32,
    },
    /// The report inside MSG_REPORT_RSP does not parse.
    Report(ReportError),
    /// The report's REPORT_DATA differs from the request's.
    ReportDataMismatch {
        /// Offset of the first differing byte within REPORT_DATA.
        offset: usize,
    },
    /// The report was made at another VMPL than requested.
    VmplMismatch {
        /// The VMPL requested.
        expected: u8,
        /// The report's VMPL field.
        actual: u32,
    },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::MessageSize { size, capacity } => write!(
                f,
                "the response message claims {size} bytes (MSG_SIZE plus header), more than the {capacity}-byte response buffer"
            ),
            ResponseError::Algorithm { actual } => write!(
                f,
                "the response's ALGO is {actual}, not 1 (AES-256-GCM)"
            ),
            ResponseError::HeaderVersion { actual } => {
                write!(f, "the response's HDR_VERSION is {actual}, not 1")
            }
            ResponseError::HeaderSize { actual } => {
                write!(f, "the response's HDR_SIZE is {actual}, not 96")
            }
            ResponseError::MessageType { expected, actual } => write!(
                f,
                "the response's MSG_TYPE is {actual}, expected {expected}: it answers another request"
            ),
            ResponseError::MessageVersion { expected, actual } => write!(
                f,
                "the response's MSG_VERSION is {actual}, expected {expected}"
            ),
            ResponseError::Vmpck { expected, actual } => write!(
                f,
                "the response's MSG_VMPCK is {actual}, but the request used VMPCK{expected}"
            ),
            ResponseError::SequenceNumber { expected, actual } => write!(
                f,
                "the response's MSG_SEQNO is {actual}, expected {expected}: a replayed, reordered or forged response"
            ),
            ResponseError::Authentication => f.write_str(
                "the response's AUTHTAG does not match (AES-256-GCM): the message was altered or not made with this VMPCK",
            ),
            ResponseError::PayloadLength {
                message,
                expected,
                actual,
            } => write!(
                f,
                "{message} holds {actual} bytes, {expected} are needed"
            ),
            ResponseError::Status { message, status } => {
                write!(f, "the PSP refused the request: {message} STATUS {status}")
            }
            ResponseError::ReportSize { actual } => write!(
                f,
                "MSG_REPORT_RSP's REPORT_SIZE is {actual}, not {}",
                crate::abi::REPORT_SIZE
            ),
            ResponseError::Report(e) => write!(f, "MSG_REPORT_RSP carries a bad report: {e}"),
            ResponseError::ReportDataMismatch { offset } => write!(
                f,
                "the report's REPORT_DATA differs from the request at byte {offset}: it answers another request"
            ),
            ResponseError::VmplMismatch { expected, actual } => write!(
                f,
                "the report was made at VMPL {actual}, but VMPL {expected} was requested"
            ),
        }
    }
}

impl core::error::Error for ResponseError {}

impl From<ReportError> for ResponseError {
    fn from(e: ReportError) -> Self {
        ResponseError::Report(e)
    }
}

/// What is wrong with a request payload (read by the PSP side: a simulator or an emulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The payload is not the size of the request message.
    Length {
        /// The request type.
        message: MessageType,
        /// Its size.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A field holds a value the ABI does not define (reserved bits set, a VMPL above 3, a
    /// reserved key selection).
    Field {
        /// The field's name in the ABI.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Length {
                message,
                expected,
                actual,
            } => write!(f, "{message} is {expected} bytes, got {actual}"),
            RequestError::Field { field, value } => {
                write!(f, "{field} = 0x{value:x} is not a value the ABI defines")
            }
        }
    }
}

impl core::error::Error for RequestError {}

/// Why a guest message exchange failed; `E` is the transport's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuestError<E> {
    /// The channel's VMPCK was wiped after an earlier failure, or was never provisioned.
    Disabled,
    /// The sequence numbers of this VMPCK are used up.
    Sequence(SequenceError),
    /// The request could not be sealed into the request buffer (it is larger than any message
    /// this channel sends).
    Request,
    /// The transport (the caller's GHCB protocol, or the hypervisor) failed. The VMPCK has been
    /// wiped: the PSP may or may not have seen the request.
    Transport(E),
    /// The response is unusable. Unless it is a [`ResponseError::Status`] refusal or a report
    /// that does not bind the request, the VMPCK has been wiped.
    Response(ResponseError),
}

impl<E: fmt::Display> fmt::Display for GuestError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestError::Disabled => f.write_str(
                "the VMPCK of this channel is wiped (an earlier exchange failed, and reusing its sequence numbers would reuse AES-GCM nonces) or was never provisioned",
            ),
            GuestError::Sequence(e) => e.fmt(f),
            GuestError::Request => f.write_str("the request does not fit in a guest message"),
            GuestError::Transport(e) => write!(
                f,
                "the guest request did not complete ({e}); the VMPCK has been wiped to rule out nonce reuse"
            ),
            GuestError::Response(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for GuestError<E> {}

impl<E> From<ResponseError> for GuestError<E> {
    fn from(e: ResponseError) -> Self {
        GuestError::Response(e)
    }
}

//! Talking to the PSP without a kernel driver: SNP guest messages.
//!
//! In minimal guest firmware or an early init there is no `/dev/sev-guest`; the guest itself
//! encrypts a request under a VM platform communication key (VMPCK) from its secrets page, the
//! hypervisor carries it to the PSP through the GHCB, and the PSP answers the same way (AMD
//! SEV-SNP firmware ABI, "SNP_GUEST_REQUEST" and "Guest Messages"). Everything here works on
//! caller buffers, without an allocator, and never panics.
//!
//! - [`header`]: the 96-byte message header, message types, nonce and additional data.
//! - [`crypto`]: the VMPCK and AES-256-GCM (RustCrypto `aes-gcm`) sealing and opening, behind
//!   the [`MessageAead`] trait.
//! - [`seqno`]: sequence numbers, which are the nonces: spent in pairs, never reused, and
//!   refused before they wrap around.
//! - [`message`]: sealing a request and the response parser ([`message::open_response`]), which
//!   names the header field that is wrong, or reports a failed authentication.
//! - [`report`] and [`key`]: MSG_REPORT_REQ/RSP (VMPL, key selection) and MSG_KEY_REQ/RSP (root
//!   key, guest field select, VMPL, guest SVN, TCB version), encoded and decoded.
//! - [`transport`]: the [`GuestTransport`] trait the caller implements (the GHCB is theirs).
//! - [`channel`]: [`GuestChannel`], which ties these together and wipes its key after any
//!   exchange whose outcome it cannot know.
//! - [`secrets`]: the secrets page (VMPCKs and the stored sequence numbers).
//! - [`status`]: firmware status codes by name.

pub mod channel;
pub mod crypto;
pub mod error;
pub mod header;
pub mod key;
pub mod message;
pub mod report;
pub mod secrets;
pub mod seqno;
pub mod status;
pub mod transport;

#[cfg(test)]
mod tests;

pub use channel::{GuestChannel, REPORT_RESPONSE_BUFFER};
pub use crypto::{MessageAead, Vmpck, VmpckId};
pub use error::{GuestError, RequestError, ResponseError};
pub use key::{DerivedKey, GuestFields, KeyRequest, KeySelect, RootKey};
pub use report::ReportMessage;
pub use secrets::SecretsPage;
pub use status::FirmwareStatus;
pub use transport::{ExitInfo2, GuestTransport};

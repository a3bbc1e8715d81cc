//! A guest's channel to the PSP under one VMPCK: sequence numbers, sealing, checking, and the
//! rule that a failed exchange ends the key's use.
//!
//! [`GuestChannel::report`] and [`GuestChannel::derive_key`] build the request, seal it under
//! the next sequence number, hand it to the caller's [`GuestTransport`], and check and open the
//! answer. Once a sealed request has left, its numbers are spent whatever happens. If the
//! exchange then fails (transport error, a response that is replayed, reordered, altered or
//! malformed), the guest cannot know whether the PSP's counter moved: retrying with the same
//! number and a different message would reuse an AES-GCM nonce, retrying with the next number
//! would be refused. So the key is wiped, as the Linux driver does, and every later call
//! returns [`GuestError::Disabled`]. A response that the PSP authenticated but whose STATUS
//! refuses the request leaves the channel usable.

use zeroize::Zeroize;

use super::crypto::{MessageAead, Vmpck, VmpckId};
use super::error::GuestError;
use super::header::{HEADER_SIZE, MessageType};
use super::key::{DerivedKey, KEY_REQ_SIZE, KEY_RSP_SIZE, KeyRequest, parse_key_response};
use super::message::{Expected, open_response, seal_request};
use super::report::{
    REPORT_REQ_SIZE, REPORT_RSP_SIZE, ReportMessage, check_binding, parse_report_response,
};
use super::seqno::SequenceNumbers;
use super::transport::GuestTransport;
use crate::report::Report;

/// Bytes of the buffer a report exchange needs for the response message.
pub const REPORT_RESPONSE_BUFFER: usize = HEADER_SIZE + REPORT_RSP_SIZE;
/// Largest request this channel sends (MSG_REPORT_REQ).
const REQUEST_BUFFER: usize = HEADER_SIZE + REPORT_REQ_SIZE;
/// Bytes of the buffer a derived-key exchange needs for the response message.
const KEY_RESPONSE_BUFFER: usize = HEADER_SIZE + KEY_RSP_SIZE;

const _: () = assert!(KEY_REQ_SIZE <= REPORT_REQ_SIZE);

/// The guest's side of the guest-message protocol under one VMPCK (`K` is the key and its
/// AEAD: [`Vmpck`]).
#[derive(Debug)]
pub struct GuestChannel<K: MessageAead = Vmpck> {
    key: K,
    id: VmpckId,
    seqno: SequenceNumbers,
}

impl<K: MessageAead> GuestChannel<K> {
    /// A channel using `key` as VMPCK `id`, whose last used sequence number is `last_seqno`
    /// (0 for a key no one has used; see [`super::secrets::SecretsPage::last_seqno`]).
    pub fn new(key: K, id: VmpckId, last_seqno: u64) -> GuestChannel<K> {
        GuestChannel {
            key,
            id,
            seqno: SequenceNumbers::new(last_seqno),
        }
    }

    /// The VMPCK this channel uses.
    pub fn vmpck_id(&self) -> VmpckId {
        self.id
    }

    /// The last sequence number used; the next owner of the key must start from it.
    pub fn last_seqno(&self) -> u64 {
        self.seqno.last()
    }

    /// True once the key has been wiped (or was never provisioned).
    pub fn is_disabled(&self) -> bool {
        self.key.is_wiped()
    }

    /// Asks the PSP for an attestation report. The report is read from `buf` (which receives
    /// the response message) and checked to bind the request's REPORT_DATA and VMPL.
    pub fn report<'b, T: GuestTransport>(
        &mut self,
        transport: &mut T,
        message: &ReportMessage,
        buf: &'b mut [u8; REPORT_RESPONSE_BUFFER],
    ) -> Result<Report<'b>, GuestError<T::Error>> {
        let plain = self.exchange(
            transport,
            MessageType::REPORT_REQ,
            &message.encode(),
            buf.as_mut_slice(),
        )?;
        let plain: &'b [u8] = plain;
        let report = parse_report_response(plain)?;
        check_binding(&report, &message.request)?;
        Ok(report)
    }

    /// Asks the PSP for a derived key. The response is wiped from memory once the key is out.
    pub fn derive_key<T: GuestTransport>(
        &mut self,
        transport: &mut T,
        request: &KeyRequest,
    ) -> Result<DerivedKey, GuestError<T::Error>> {
        let mut buf = [0u8; KEY_RESPONSE_BUFFER];
        let result = self
            .exchange(transport, MessageType::KEY_REQ, &request.encode(), &mut buf)
            .and_then(|plain| parse_key_response(plain).map_err(GuestError::from));
        buf.zeroize();
        result
    }

    /// One request and its response; returns the decrypted response payload inside `response`.
    fn exchange<'b, T: GuestTransport>(
        &mut self,
        transport: &mut T,
        msg_type: MessageType,
        payload: &[u8],
        response: &'b mut [u8],
    ) -> Result<&'b mut [u8], GuestError<T::Error>> {
        if self.key.is_wiped() {
            return Err(GuestError::Disabled);
        }
        let seqno = self.seqno.next_request().map_err(GuestError::Sequence)?;
        let expected = Expected::answer_to(msg_type, seqno, self.id).ok_or(
            GuestError::Sequence(super::seqno::SequenceError {
                last: self.seqno.last(),
            }),
        )?;
        let mut request = [0u8; REQUEST_BUFFER];
        let len = seal_request(&self.key, self.id, msg_type, seqno, payload, &mut request)
            .map_err(|_| GuestError::Request)?;
        // From here on, the request's number and its response's are spent.
        self.seqno.spend(seqno);
        response.fill(0);
        let sent = request.get(..len).unwrap_or(&request);
        if let Err(e) = transport.exchange(sent, response) {
            self.key.wipe();
            return Err(GuestError::Transport(e));
        }
        match open_response(&self.key, &expected, response) {
            Ok(plain) => Ok(plain),
            Err(e) => {
                self.key.wipe();
                Err(GuestError::Response(e))
            }
        }
    }
}

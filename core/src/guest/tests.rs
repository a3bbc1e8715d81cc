//! The channel against a small in-test PSP and a hostile host between them.
//!
//! The PSP here answers with the core's own sealing; `csc-simulate` has an independent PSP
//! (aws-lc-rs) that the end-to-end tests use.

use std::vec::Vec;

use zerocopy::FromBytes;

use super::header::{HEADER_SIZE, MessageType, RawHeader};
use super::key::{KEY_RSP_SIZE, KeyRequest};
use super::message::seal_request;
use super::report::{REPORT_RSP_SIZE, ReportMessage};
use super::*;
use crate::abi::REPORT_SIZE;
use crate::source::{ReportRequest, Vmpl};

const KEY: [u8; 32] = [0x5A; 32];

/// The PSP: checks each request's number, answers with number + 1.
struct Psp {
    key: Vmpck,
    last: u64,
    /// STATUS to put into the next answer.
    status: u32,
    /// Every response sent, for replays.
    sent: Vec<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
struct HostError(&'static str);
impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl Psp {
    fn new() -> Psp {
        Psp {
            key: Vmpck::new(KEY),
            last: 0,
            status: 0,
            sent: Vec::new(),
        }
    }

    fn answer(&mut self, request: &[u8]) -> Result<Vec<u8>, HostError> {
        let (h, _) = RawHeader::read_from_prefix(request).map_err(|_| HostError("short"))?;
        let seqno = h.msg_seqno.get();
        if seqno != self.last + 1 {
            return Err(HostError("INVALID_PARAM: sequence number"));
        }
        let mut payload = request[HEADER_SIZE..].to_vec();
        crypto::MessageAead::open(&self.key, &h, &mut payload).map_err(|_| HostError("bad tag"))?;
        let rsp = match MessageType(h.msg_type) {
            MessageType::KEY_REQ => {
                let req = KeyRequest::decode(&payload).map_err(|_| HostError("bad key req"))?;
                let mut r = std::vec![0u8; KEY_RSP_SIZE];
                r[0..4].copy_from_slice(&self.status.to_le_bytes());
                r[0x20..].fill(req.fields.bits() as u8 ^ req.vmpl.get());
                r
            }
            MessageType::REPORT_REQ => {
                let req = ReportMessage::decode(&payload).map_err(|_| HostError("bad req"))?;
                let mut r = std::vec![0u8; REPORT_RSP_SIZE];
                r[0..4].copy_from_slice(&self.status.to_le_bytes());
                r[4..8].copy_from_slice(&(REPORT_SIZE as u32).to_le_bytes());
                let rep = &mut r[0x20..];
                rep[0] = 2;
                rep[0x30] = req.request.vmpl.get();
                rep[0x34] = 1;
                rep[0x50..0x90].copy_from_slice(&req.request.report_data);
                r
            }
            _ => return Err(HostError("unknown type")),
        };
        let mut out = std::vec![0u8; HEADER_SIZE + rsp.len()];
        let id = VmpckId::new(h.msg_vmpck).ok_or(HostError("vmpck"))?;
        let rsp_type = MessageType(h.msg_type + 1);
        seal_request(&self.key, id, rsp_type, seqno + 1, &rsp, &mut out)
            .map_err(|_| HostError("seal"))?;
        self.last = seqno + 1;
        self.sent.push(out.clone());
        Ok(out)
    }
}

/// What the host between guest and PSP does to the next exchange.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    Honest,
    /// Answers with the PSP's first response again (the request never reaches the PSP).
    ReplayFirst,
    /// Forwards the request, but answers with the previous response (reordering).
    AnswerWithPrevious,
    /// Flips one bit of the response at this offset.
    Flip(usize),
    /// Drops the request and fails.
    Fail,
}

struct Transport {
    psp: Psp,
    host: Host,
    calls: usize,
}

impl GuestTransport for Transport {
    type Error = HostError;
    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), HostError> {
        self.calls += 1;
        let answer = match self.host {
            Host::Honest => self.psp.answer(request)?,
            Host::ReplayFirst => self.psp.sent[0].clone(),
            Host::AnswerWithPrevious => {
                let previous = self.psp.sent.last().cloned().ok_or(HostError("none"))?;
                self.psp.answer(request)?;
                previous
            }
            Host::Flip(at) => {
                let mut a = self.psp.answer(request)?;
                a[at] ^= 0x01;
                a
            }
            Host::Fail => return Err(HostError("host error")),
        };
        let n = answer.len().min(response.len());
        response[..n].copy_from_slice(&answer[..n]);
        Ok(())
    }
}

fn setup() -> (GuestChannel, Transport) {
    let channel = GuestChannel::new(Vmpck::new(KEY), VmpckId::new(0).unwrap(), 0);
    let t = Transport {
        psp: Psp::new(),
        host: Host::Honest,
        calls: 0,
    };
    (channel, t)
}

fn key_request() -> KeyRequest {
    KeyRequest {
        fields: GuestFields::MEASUREMENT,
        vmpl: Vmpl::new(1).unwrap(),
        ..KeyRequest::default()
    }
}

fn report_message() -> ReportMessage {
    ReportMessage::new(ReportRequest::new([9; 64], Vmpl::new(2).unwrap()))
}

#[test]
fn reports_and_keys_round_trip_and_number_in_pairs() {
    let (mut ch, mut t) = setup();
    let k = ch.derive_key(&mut t, &key_request()).unwrap();
    assert_eq!(k.as_bytes(), &[0b1000 ^ 1; 32]);
    assert_eq!(ch.last_seqno(), 2);
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    let r = ch.report(&mut t, &report_message(), &mut buf).unwrap();
    assert_eq!(r.vmpl(), 2);
    assert_eq!(r.report_data(), &[9; 64]);
    assert_eq!(ch.last_seqno(), 4);
    assert_eq!(t.psp.last, 4);
    assert!(!ch.is_disabled());
}

#[test]
fn a_replayed_response_is_refused_and_disables_the_key() {
    let (mut ch, mut t) = setup();
    ch.derive_key(&mut t, &key_request()).unwrap();
    t.host = Host::ReplayFirst;
    let e = ch.derive_key(&mut t, &key_request()).unwrap_err();
    assert_eq!(
        e,
        GuestError::Response(ResponseError::SequenceNumber {
            expected: 4,
            actual: 2
        })
    );
    assert!(ch.is_disabled());
    t.host = Host::Honest;
    let calls = t.calls;
    assert_eq!(
        ch.derive_key(&mut t, &key_request()).unwrap_err(),
        GuestError::Disabled
    );
    assert_eq!(t.calls, calls, "a disabled channel sends nothing");
}

#[test]
fn a_reordered_response_is_refused() {
    let (mut ch, mut t) = setup();
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    ch.report(&mut t, &report_message(), &mut buf).unwrap();
    // The key request is answered with the earlier report response.
    t.host = Host::AnswerWithPrevious;
    let e = ch.derive_key(&mut t, &key_request()).unwrap_err();
    assert!(
        matches!(e, GuestError::Response(ResponseError::MessageType { .. })),
        "{e:?}"
    );
    // Same type, earlier number: the sequence number gives it away.
    let (mut ch, mut t) = setup();
    ch.derive_key(&mut t, &key_request()).unwrap();
    t.host = Host::AnswerWithPrevious;
    assert_eq!(
        ch.derive_key(&mut t, &key_request()).unwrap_err(),
        GuestError::Response(ResponseError::SequenceNumber {
            expected: 4,
            actual: 2
        })
    );
}

#[test]
fn a_tampered_response_is_refused() {
    for at in [
        0,
        5,
        0x30,
        0x34,
        0x36,
        0x3C,
        0x40,
        HEADER_SIZE,
        HEADER_SIZE + 0x20,
    ] {
        let (mut ch, mut t) = setup();
        t.host = Host::Flip(at);
        let e = ch.derive_key(&mut t, &key_request()).unwrap_err();
        assert!(matches!(e, GuestError::Response(_)), "offset {at}: {e:?}");
        assert!(ch.is_disabled(), "offset {at}");
    }
}

#[test]
fn a_failed_transport_disables_the_key_but_a_refusal_does_not() {
    let (mut ch, mut t) = setup();
    t.psp.status = 0x16;
    let e = ch.derive_key(&mut t, &key_request()).unwrap_err();
    assert_eq!(
        std::string::ToString::to_string(&e),
        "the PSP refused the request: MSG_KEY_RSP STATUS 0x16 INVALID_PARAM"
    );
    assert!(!ch.is_disabled());
    t.psp.status = 0;
    ch.derive_key(&mut t, &key_request()).unwrap();
    t.host = Host::Fail;
    let e = ch.derive_key(&mut t, &key_request()).unwrap_err();
    assert_eq!(e, GuestError::Transport(HostError("host error")));
    assert!(ch.is_disabled());
    assert_eq!(
        ch.last_seqno(),
        6,
        "the failed request's numbers stay spent"
    );
}

#[test]
fn wrap_around_is_refused_before_anything_is_sent() {
    let mut ch = GuestChannel::new(Vmpck::new(KEY), VmpckId::new(0).unwrap(), u64::MAX - 1);
    let (_, mut t) = setup();
    assert!(matches!(
        ch.derive_key(&mut t, &key_request()),
        Err(GuestError::Sequence(_))
    ));
    assert_eq!(t.calls, 0);
    // The last usable pair still works when the PSP agrees.
    let mut ch = GuestChannel::new(Vmpck::new(KEY), VmpckId::new(0).unwrap(), u64::MAX - 2);
    t.psp.last = u64::MAX - 2;
    ch.derive_key(&mut t, &key_request()).unwrap();
    assert_eq!(ch.last_seqno(), u64::MAX);
    assert!(matches!(
        ch.derive_key(&mut t, &key_request()),
        Err(GuestError::Sequence(_))
    ));
}

#[test]
fn a_wiped_key_is_never_used() {
    let mut ch = GuestChannel::new(Vmpck::new([0; 32]), VmpckId::new(0).unwrap(), 0);
    let (_, mut t) = setup();
    assert_eq!(
        ch.derive_key(&mut t, &key_request()).unwrap_err(),
        GuestError::Disabled
    );
    assert_eq!(t.calls, 0);
}

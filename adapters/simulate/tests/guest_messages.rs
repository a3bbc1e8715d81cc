//! The core's guest-message layer against the simulated PSP: reports and derived keys round
//! trip (RustCrypto AES-GCM on the guest side, aws-lc-rs on the PSP side); a hostile host that
//! replays, reorders or alters messages is caught; the PSP's rules for derived keys hold; and
//! derived keys change exactly when a selected field changes.

mod common;

use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use csc_core::Product;
use csc_core::guest::secrets::{self, SecretsError};
use csc_core::guest::{
    ExitInfo2, FirmwareStatus, GuestChannel, GuestError, GuestFields, GuestTransport, KeyRequest,
    KeySelect, REPORT_RESPONSE_BUFFER, ReportMessage, ResponseError, RootKey, SecretsPage, VmpckId,
};
use csc_core::source::{ReportRequest, Vmpl};
use csc_simulate::{Platform, PlatformConfig, SimulatedPsp};

use common::cache;

fn psp_with(config: PlatformConfig) -> SimulatedPsp {
    let platform = Platform::new(config, &cache()).unwrap();
    SimulatedPsp::new(Arc::new(platform), &cache()).unwrap()
}

fn psp() -> SimulatedPsp {
    psp_with(PlatformConfig::new(Product::Genoa, 5).unwrap())
}

fn id(n: u8) -> VmpckId {
    VmpckId::new(n).unwrap()
}

/// The guest: a channel from the secrets page, as firmware would make it.
fn guest(psp: &SimulatedPsp, vmpck: u8) -> GuestChannel {
    let page = psp.secrets_page();
    SecretsPage::parse(&page[..])
        .unwrap()
        .channel(id(vmpck))
        .unwrap()
}

fn key_request(fields: GuestFields) -> KeyRequest {
    KeyRequest {
        fields,
        ..KeyRequest::default()
    }
}

/// One derivation by a guest that kept count of the sequence numbers (as the kernel does in
/// the secrets page).
fn derive(psp: &SimulatedPsp, request: &KeyRequest) -> [u8; 32] {
    let page = psp.secrets_page();
    let key = SecretsPage::parse(&page[..]).unwrap().vmpck(id(0));
    let mut ch = GuestChannel::new(key, id(0), psp.last_seqno(id(0)));
    *ch.derive_key(&mut psp.transport(), request)
        .unwrap()
        .as_bytes()
}

#[test]
fn a_report_round_trips_and_is_signed_by_the_vcek() {
    let psp = psp();
    let mut ch = guest(&psp, 0);
    let message = ReportMessage::new(ReportRequest::new([0xC3; 64], Vmpl::new(1).unwrap()));
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    let report = ch.report(&mut psp.transport(), &message, &mut buf).unwrap();
    assert_eq!(report.report_data(), &[0xC3; 64]);
    assert_eq!(report.vmpl(), 1);
    assert_eq!(report.version(), 5);
    let sig = report.signature();
    let mut rs = sig.r_be().unwrap().to_vec();
    rs.extend_from_slice(&sig.s_be().unwrap());
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, psp.platform().vcek_public_key())
        .verify(report.signed_bytes(), &rs)
        .expect("the report is signed by the simulated VCEK");
    assert_eq!(ch.last_seqno(), 2);
    assert_eq!(psp.last_seqno(id(0)), 2);
}

#[test]
fn derived_keys_are_deterministic_and_follow_the_selected_fields() {
    let fields = GuestFields::MEASUREMENT.union(GuestFields::POLICY);
    let base = PlatformConfig::new(Product::Milan, 3).unwrap();
    let a = psp_with(base.clone());
    let k1 = derive(&a, &key_request(fields));
    assert_eq!(
        k1,
        derive(&a, &key_request(fields)),
        "same request, same key"
    );
    // Another launch on the same chip (new VMPCKs, same cache): same key.
    let b = psp_with(base.clone());
    assert_eq!(k1, derive(&b, &key_request(fields)));

    let mut measured = base.clone();
    measured.measurement[0] ^= 1;
    let m = psp_with(measured);
    assert_ne!(k1, derive(&m, &key_request(fields)), "another measurement");
    let mut policy = base.clone();
    policy.guest_policy |= 1 << 19;
    let p = psp_with(policy);
    assert_ne!(k1, derive(&p, &key_request(fields)), "another policy");
    // Unselected fields do not matter.
    let only_policy = key_request(GuestFields::POLICY);
    assert_eq!(derive(&a, &only_policy), derive(&m, &only_policy));
    assert_ne!(derive(&a, &only_policy), derive(&p, &only_policy));
    // The VMPL, the field mask and the requested SVN and TCB are mixed in.
    let at_vmpl1 = KeyRequest {
        vmpl: Vmpl::new(1).unwrap(),
        ..key_request(fields)
    };
    assert_ne!(k1, derive(&a, &at_vmpl1));
    assert_ne!(k1, derive(&a, &key_request(GuestFields::MEASUREMENT)));
    let svn0 = KeyRequest {
        guest_svn: 0,
        ..key_request(GuestFields::GUEST_SVN)
    };
    let svn1 = KeyRequest {
        guest_svn: 1,
        ..svn0
    };
    assert_ne!(derive(&a, &svn0), derive(&a, &svn1));
    // A different chip (another cache) gives other keys.
    let other_cache = csc_simulate::KeyCache::open(common::scratch("other-chip")).unwrap();
    let platform = Platform::new(base, &other_cache).unwrap();
    let other = SimulatedPsp::new(Arc::new(platform), &other_cache).unwrap();
    assert_ne!(k1, derive(&other, &key_request(fields)));
}

#[test]
fn the_psp_refuses_what_the_abi_forbids_and_the_channel_survives_it() {
    let config = PlatformConfig::new(Product::Genoa, 3).unwrap();
    let committed = config.tcb_version().raw();
    let psp = psp_with(config);
    let mut ch = guest(&psp, 1);
    let refused = |ch: &mut GuestChannel, r: KeyRequest| match ch
        .derive_key(&mut psp.transport(), &r)
        .unwrap_err()
    {
        GuestError::Response(ResponseError::Status { status, .. }) => status,
        e => panic!("{e}"),
    };
    // VMPCK1 cannot ask for a VMPL 0 key, nor for more than the guest's SVN or the TCB.
    assert_eq!(
        refused(&mut ch, KeyRequest::default()),
        FirmwareStatus::INVALID_PARAM
    );
    let vmpl1 = KeyRequest {
        vmpl: Vmpl::new(1).unwrap(),
        ..KeyRequest::default()
    };
    let svn = KeyRequest {
        guest_svn: 2,
        ..vmpl1
    };
    assert_eq!(refused(&mut ch, svn), FirmwareStatus::INVALID_PARAM);
    let tcb = KeyRequest {
        tcb_version: committed + (1 << 56),
        ..vmpl1
    };
    assert_eq!(refused(&mut ch, tcb), FirmwareStatus::INVALID_PARAM);
    let vmrk = KeyRequest {
        root_key: RootKey::Vmrk,
        ..vmpl1
    };
    assert_eq!(refused(&mut ch, vmrk), FirmwareStatus::INVALID_KEY);
    let vlek = KeyRequest {
        key_select: KeySelect::Vlek,
        ..vmpl1
    };
    assert_eq!(refused(&mut ch, vlek), FirmwareStatus::INVALID_KEY);
    // The committed TCB itself and the guest's own SVN are fine; refusals kept the channel.
    let ok = KeyRequest {
        tcb_version: committed,
        guest_svn: 1,
        ..vmpl1
    };
    ch.derive_key(&mut psp.transport(), &ok).unwrap();
    assert!(!ch.is_disabled());
    // Reports: below the VMPCK's VMPL, and with a VLEK the platform does not have.
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    let low = ReportMessage::new(ReportRequest::new([0; 64], Vmpl::ZERO));
    let e = ch.report(&mut psp.transport(), &low, &mut buf).unwrap_err();
    assert!(
        e.to_string()
            .contains("MSG_REPORT_RSP STATUS 0x16 INVALID_PARAM"),
        "{e}"
    );
    let vlek = ReportMessage {
        key_select: KeySelect::Vlek,
        ..ReportMessage::new(ReportRequest::new([0; 64], Vmpl::new(1).unwrap()))
    };
    let e = ch
        .report(&mut psp.transport(), &vlek, &mut buf)
        .unwrap_err();
    assert!(e.to_string().contains("INVALID_KEY"), "{e}");
    assert_eq!(ch.last_seqno(), psp.last_seqno(id(1)));
}

/// What a hostile host does between guest and PSP.
enum Attack {
    /// Sends the guest the PSP's answer to its first request again.
    ReplayFirstAnswer,
    /// Holds the answer back and sends it with the next exchange.
    Reorder,
    /// Flips a bit of the answer.
    Flip(usize),
    /// Delivers the guest's first request to the PSP again instead of the new one.
    ReplayFirstRequest,
}

struct Host<'p> {
    psp: &'p SimulatedPsp,
    attack: Option<Attack>,
    requests: Vec<Vec<u8>>,
    answers: Vec<Vec<u8>>,
}

impl GuestTransport for Host<'_> {
    type Error = ExitInfo2;
    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), ExitInfo2> {
        self.requests.push(request.to_vec());
        let mut answer = vec![0u8; response.len()];
        match &self.attack {
            Some(Attack::ReplayFirstRequest) => {
                let first = self.requests[0].clone();
                self.psp.guest_request(&first, &mut answer)?
            }
            _ => self.psp.guest_request(request, &mut answer)?,
        }
        self.answers.push(answer.clone());
        let delivered = match &self.attack {
            None | Some(Attack::ReplayFirstRequest) => answer,
            Some(Attack::ReplayFirstAnswer) => self.answers[0].clone(),
            Some(Attack::Reorder) => self.answers[self.answers.len() - 2].clone(),
            Some(Attack::Flip(at)) => {
                let mut a = answer;
                a[*at] ^= 0x10;
                a
            }
        };
        let n = delivered.len().min(response.len());
        response[..n].copy_from_slice(&delivered[..n]);
        Ok(())
    }
}

fn attacked(attack: Attack) -> (GuestError<ExitInfo2>, GuestChannel, SimulatedPsp) {
    let psp = psp();
    let mut ch = guest(&psp, 0);
    let mut host = Host {
        psp: &psp,
        attack: None,
        requests: Vec::new(),
        answers: Vec::new(),
    };
    ch.derive_key(&mut host, &key_request(GuestFields::MEASUREMENT))
        .unwrap();
    host.attack = Some(attack);
    let e = ch
        .derive_key(&mut host, &key_request(GuestFields::POLICY))
        .unwrap_err();
    (e, ch, psp)
}

#[test]
fn replayed_reordered_and_tampered_responses_are_refused() {
    let (e, ch, _) = attacked(Attack::ReplayFirstAnswer);
    assert_eq!(
        e,
        GuestError::Response(ResponseError::SequenceNumber {
            expected: 4,
            actual: 2
        })
    );
    assert!(ch.is_disabled());

    let (e, ch, _) = attacked(Attack::Reorder);
    assert!(
        matches!(
            e,
            GuestError::Response(ResponseError::SequenceNumber {
                expected: 4,
                actual: 2
            })
        ),
        "{e}"
    );
    assert!(ch.is_disabled());

    for at in [
        0,
        15,
        0x20,
        0x34,
        0x36,
        0x3C,
        0x48,
        0x60,
        0x60 + 0x20,
        0x60 + 0x3F,
    ] {
        let (e, ch, _) = attacked(Attack::Flip(at));
        assert!(
            matches!(e, GuestError::Response(_)),
            "bit flip at {at}: {e}"
        );
        assert!(ch.is_disabled(), "bit flip at {at}");
    }

    // A replayed request is refused by the PSP (its counter has moved on); the guest then
    // gives the key up, since it cannot know what the PSP saw.
    let (e, ch, psp) = attacked(Attack::ReplayFirstRequest);
    assert_eq!(e, GuestError::Transport(ExitInfo2(0x16)));
    assert!(e.to_string().contains("0x16 INVALID_PARAM"), "{e}");
    assert!(ch.is_disabled());
    assert_eq!(psp.last_seqno(id(0)), 2, "the PSP's counter did not move");
    let mut again = ch;
    assert_eq!(
        again
            .derive_key(&mut psp.transport(), &KeyRequest::default())
            .unwrap_err(),
        GuestError::Disabled
    );
}

#[test]
fn the_counter_is_handed_over_through_the_secrets_page_and_never_wraps() {
    let psp = psp();
    let mut page = psp.secrets_page();
    let mut ch = SecretsPage::parse(&page[..])
        .unwrap()
        .channel(id(0))
        .unwrap();
    for _ in 0..3 {
        ch.derive_key(&mut psp.transport(), &KeyRequest::default())
            .unwrap();
    }
    secrets::store_last_seqno(&mut page, id(0), ch.last_seqno());
    drop(ch);
    let mut next = SecretsPage::parse(&page[..])
        .unwrap()
        .channel(id(0))
        .unwrap();
    assert_eq!(next.last_seqno(), 6);
    next.derive_key(&mut psp.transport(), &KeyRequest::default())
        .unwrap();

    // A guest that lost count is refused by the PSP.
    let mut stale = guest(&psp, 0);
    assert_eq!(
        stale
            .derive_key(&mut psp.transport(), &KeyRequest::default())
            .unwrap_err(),
        GuestError::Transport(ExitInfo2(0x16))
    );

    // At the end of the counter: the guest refuses before sending, the PSP says AEAD_OFLOW.
    psp.set_last_seqno(id(2), u64::MAX - 1);
    let page = psp.secrets_page();
    let mut end = GuestChannel::new(
        SecretsPage::parse(&page[..]).unwrap().vmpck(id(2)),
        id(2),
        u64::MAX - 1,
    );
    let req = KeyRequest {
        vmpl: Vmpl::new(2).unwrap(),
        ..KeyRequest::default()
    };
    assert!(matches!(
        end.derive_key(&mut psp.transport(), &req),
        Err(GuestError::Sequence(_))
    ));
    let mut lying = GuestChannel::new(
        SecretsPage::parse(&page[..]).unwrap().vmpck(id(2)),
        id(2),
        u64::MAX - 3,
    );
    assert_eq!(
        lying.derive_key(&mut psp.transport(), &req).unwrap_err(),
        GuestError::Transport(ExitInfo2(u64::from(FirmwareStatus::AEAD_OFLOW.0)))
    );
}

#[test]
fn a_guest_below_vmpl0_gets_only_its_own_keys() {
    let mut config = PlatformConfig::new(Product::Milan, 2).unwrap();
    config.guest_vmpl = Vmpl::new(2).unwrap();
    let psp = psp_with(config);
    let page = psp.secrets_page();
    let page = SecretsPage::parse(&page[..]).unwrap();
    for withheld in [0, 1] {
        assert_eq!(
            page.channel(id(withheld)).unwrap_err(),
            SecretsError::VmpckWiped { id: id(withheld) }
        );
    }
    let mut ch = page.channel(id(2)).unwrap();
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    let msg = ReportMessage::new(ReportRequest::new([1; 64], Vmpl::new(3).unwrap()));
    assert_eq!(
        ch.report(&mut psp.transport(), &msg, &mut buf)
            .unwrap()
            .vmpl(),
        3
    );
}

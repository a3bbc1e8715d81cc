//! The PSP's side of SNP guest messages, for the simulated platform.
//!
//! [`SimulatedPsp`] holds the four VMPCKs of a launch (random per instance, as a new VM gets
//! new ones) and answers sealed MSG_REPORT_REQ and MSG_KEY_REQ messages as the firmware does:
//! it checks the header, the sequence number (one more than the last number used under that
//! VMPCK, never wrapping) and the AES-256-GCM tag, refuses bad requests, and seals the answer
//! under the next number. Its crypto is aws-lc-rs, independent of the core's RustCrypto
//! implementation, so the round trip checks both against each other.
//!
//! Derived keys are deterministic: HMAC-SHA384, keyed with a chip secret kept in the key cache
//! (so the same cache is the same chip, run after run), over the root key choice, the VMPL, the
//! guest field select mask and each selected field (POLICY, IMAGE_ID, FAMILY_ID, MEASUREMENT
//! from the platform's configuration; GUEST_SVN and TCB_VERSION from the request), truncated
//! to 32 bytes. Change the measurement or the policy and the key changes. The real PSP's
//! derivation is AMD's and differs; only its inputs and rules are reproduced:
//! - the VMPL must not be more privileged than the VMPCK's (INVALID_PARAM);
//! - GUEST_SVN must not exceed the guest's SVN, and each SPL of TCB_VERSION must not exceed
//!   the committed TCB's (INVALID_PARAM);
//! - the VMRK root and the VLEK need a migration agent and a loaded VLEK, which this platform
//!   has neither of (INVALID_KEY).
//!
//! A request the PSP cannot read (malformed header, wrong sequence number, failed tag) gets
//! no response: the firmware status comes back in EXIT_INFO_2 ([`ExitInfo2`]) and the
//! counter does not move. INVALID_PARAM is what this simulation answers for each of them, and
//! AEAD_OFLOW when the counter is used up.

use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use csc_core::guest::header::{
    AAD_OFFSET, ALGO_AES_256_GCM, HEADER_SIZE, HEADER_VERSION, MAX_PAYLOAD, MESSAGE_VERSION,
    MessageType, PAGE_SIZE, RawHeader, TAG_SIZE, nonce_for,
};
use csc_core::guest::key::{KEY_RSP_KEY_OFFSET, KEY_RSP_SIZE};
use csc_core::guest::report::{REPORT_RSP_REPORT_OFFSET, REPORT_RSP_SIZE};
use csc_core::guest::secrets::{self, SECRETS_PAGE_SIZE};
use csc_core::guest::{
    ExitInfo2, FirmwareStatus, GuestFields, GuestTransport, KeyRequest, KeySelect, ReportMessage,
    RootKey, VmpckId,
};
use csc_core::report::TcbVersion;
use zerocopy::{FromBytes, IntoBytes};
use zeroize::Zeroizing;

use crate::cache::KeyCache;
use crate::error::SimError;
use crate::platform::Platform;

/// The cache file holding the simulated chip's secret for derived keys.
const CHIP_SECRET: &str = "chip-secret.bin";
/// Its size.
const CHIP_SECRET_SIZE: usize = 64;
/// Number of VMPCKs.
const VMPCKS: usize = 4;
/// VERSION of the secrets page this PSP writes.
const SECRETS_PAGE_VERSION: u32 = 3;

/// The simulated PSP: VMPCKs, their sequence numbers, and the platform that signs reports.
pub struct SimulatedPsp {
    platform: Arc<Platform>,
    vmpcks: [Zeroizing<[u8; 32]>; VMPCKS],
    chip_secret: Zeroizing<Vec<u8>>,
    /// The last sequence number used under each VMPCK.
    counters: Mutex<[u64; VMPCKS]>,
}

impl std::fmt::Debug for SimulatedPsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedPsp")
            .field("platform", &self.platform)
            .field("counters", &*self.counters())
            .finish_non_exhaustive()
    }
}

fn fail(status: FirmwareStatus) -> ExitInfo2 {
    ExitInfo2(status.0.into())
}

impl SimulatedPsp {
    /// A PSP for `platform`; the chip secret for derived keys comes from (or is made into) the
    /// platform's directory in `cache`.
    pub fn new(platform: Arc<Platform>, cache: &KeyCache) -> Result<SimulatedPsp, SimError> {
        let dir = cache.subdir(&platform.product().name().to_ascii_lowercase())?;
        let chip_secret = dir.get_or_create(CHIP_SECRET, || {
            let mut s = vec![0u8; CHIP_SECRET_SIZE];
            SystemRandom::new()
                .fill(&mut s)
                .map_err(|_| SimError::Crypto("random chip secret"))?;
            Ok(s)
        })?;
        if chip_secret.len() != CHIP_SECRET_SIZE {
            return Err(SimError::CorruptCache {
                path: dir.path(CHIP_SECRET),
                what: "chip secret",
            });
        }
        let rng = SystemRandom::new();
        let mut vmpcks: [Zeroizing<[u8; 32]>; VMPCKS] = Default::default();
        for k in &mut vmpcks {
            rng.fill(&mut k[..])
                .map_err(|_| SimError::Crypto("random VMPCK"))?;
        }
        Ok(SimulatedPsp {
            platform,
            vmpcks,
            chip_secret: Zeroizing::new(chip_secret.to_vec()),
            counters: Mutex::new([0; VMPCKS]),
        })
    }

    /// The platform.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, [u64; VMPCKS]> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last sequence number used under VMPCK `id`.
    pub fn last_seqno(&self, id: VmpckId) -> u64 {
        self.counters()[usize::from(id.get())]
    }

    /// Sets the counter of VMPCK `id`, as if that many messages had been exchanged already.
    pub fn set_last_seqno(&self, id: VmpckId, last: u64) {
        self.counters()[usize::from(id.get())] = last;
    }

    /// The secrets page the guest finds in its memory: VERSION 3, FMS, and the VMPCKs of the
    /// guest's VMPL and the less privileged ones (the more privileged ones zero, as a
    /// paravisor at VMPL 0 hands the page on).
    pub fn secrets_page(&self) -> Zeroizing<[u8; SECRETS_PAGE_SIZE]> {
        let mut page = Zeroizing::new([0u8; SECRETS_PAGE_SIZE]);
        page[secrets::offset::VERSION..][..4].copy_from_slice(&SECRETS_PAGE_VERSION.to_le_bytes());
        let floor = self.platform.config().guest_vmpl.get();
        for (i, key) in self.vmpcks.iter().enumerate() {
            if i >= usize::from(floor) {
                page[secrets::offset::VMPCK0 + 32 * i..][..32].copy_from_slice(&key[..]);
            }
        }
        page
    }

    /// A transport that carries guest messages straight to this PSP (what the hypervisor does
    /// with an SNP guest request).
    pub fn transport(&self) -> PspTransport<'_> {
        PspTransport(self)
    }

    /// Handles one SNP guest request: `request` is the request page's message; the response
    /// message is written into `response` (as much as fits: the hypervisor copies a page).
    pub fn guest_request(&self, request: &[u8], response: &mut [u8]) -> Result<(), ExitInfo2> {
        let invalid = || fail(FirmwareStatus::INVALID_PARAM);
        let (header, _) = RawHeader::read_from_prefix(request).map_err(|_| invalid())?;
        let size = usize::from(header.msg_size.get());
        if header.algo != ALGO_AES_256_GCM
            || header.hdr_version != HEADER_VERSION
            || usize::from(header.hdr_size.get()) != HEADER_SIZE
            || header.msg_version != MESSAGE_VERSION
            || size > MAX_PAYLOAD
        {
            return Err(invalid());
        }
        let id = VmpckId::new(header.msg_vmpck).ok_or_else(invalid)?;
        let seqno = header.msg_seqno.get();
        let mut counters = self.counters();
        let last = counters[usize::from(id.get())];
        if last.checked_add(2).is_none() {
            return Err(fail(FirmwareStatus::AEAD_OFLOW));
        }
        if seqno != last + 1 {
            return Err(invalid());
        }
        let key = self.key(id)?;
        let mut payload = request
            .get(HEADER_SIZE..HEADER_SIZE + size)
            .ok_or_else(invalid)?
            .to_vec();
        let aad = &header.as_bytes()[AAD_OFFSET..];
        key.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_for(seqno)),
            Aad::from(aad),
            &header.authtag[..TAG_SIZE],
            &mut payload,
        )
        .map_err(|_| invalid())?;
        let payload = Zeroizing::new(payload);
        let msg_type = MessageType(header.msg_type);
        let answer = match msg_type {
            MessageType::REPORT_REQ => self.answer_report(id, &payload)?,
            MessageType::KEY_REQ => self.answer_key(id, &payload),
            _ => return Err(invalid()),
        };
        let rsp_type = msg_type.response().ok_or_else(invalid)?;
        let mut rsp_header = RawHeader::request(rsp_type, seqno + 1, id.get(), answer.len() as u16);
        let mut body = answer;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce_for(seqno + 1)),
                Aad::from(&rsp_header.as_bytes()[AAD_OFFSET..]),
                &mut body,
            )
            .map_err(|_| fail(FirmwareStatus(0x13)))?;
        rsp_header.authtag[..TAG_SIZE].copy_from_slice(tag.as_ref());
        let mut page = [0u8; PAGE_SIZE];
        page[..HEADER_SIZE].copy_from_slice(rsp_header.as_bytes());
        page[HEADER_SIZE..HEADER_SIZE + body.len()].copy_from_slice(&body);
        let n = response.len().min(PAGE_SIZE);
        response[..n].copy_from_slice(&page[..n]);
        counters[usize::from(id.get())] = seqno + 1;
        Ok(())
    }

    fn key(&self, id: VmpckId) -> Result<LessSafeKey, ExitInfo2> {
        UnboundKey::new(&AES_256_GCM, &self.vmpcks[usize::from(id.get())][..])
            .map(LessSafeKey::new)
            .map_err(|_| fail(FirmwareStatus(0x13)))
    }

    /// MSG_REPORT_RSP for a MSG_REPORT_REQ payload.
    fn answer_report(&self, id: VmpckId, payload: &[u8]) -> Result<Zeroizing<Vec<u8>>, ExitInfo2> {
        let mut rsp = Zeroizing::new(vec![0u8; REPORT_RSP_SIZE]);
        let status = match ReportMessage::decode(payload) {
            Err(_) => FirmwareStatus::INVALID_PARAM,
            Ok(m) if m.request.vmpl.get() < id.get() => FirmwareStatus::INVALID_PARAM,
            Ok(m) if m.key_select == KeySelect::Vlek => FirmwareStatus::INVALID_KEY,
            Ok(m) => match self.platform.report(&m.request) {
                Ok(report) => {
                    rsp[4..8].copy_from_slice(&(report.len() as u32).to_le_bytes());
                    rsp[REPORT_RSP_REPORT_OFFSET..].copy_from_slice(&report);
                    FirmwareStatus::SUCCESS
                }
                Err(SimError::VmplBelowFloor { .. }) => FirmwareStatus::INVALID_PARAM,
                Err(_) => return Err(fail(FirmwareStatus(0x13))),
            },
        };
        rsp[..4].copy_from_slice(&status.0.to_le_bytes());
        Ok(rsp)
    }

    /// MSG_KEY_RSP for a MSG_KEY_REQ payload.
    fn answer_key(&self, id: VmpckId, payload: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut rsp = Zeroizing::new(vec![0u8; KEY_RSP_SIZE]);
        match KeyRequest::decode(payload)
            .map_err(|_| FirmwareStatus::INVALID_PARAM)
            .and_then(|r| self.derive(id, &r))
        {
            Ok(key) => rsp[KEY_RSP_KEY_OFFSET..].copy_from_slice(&key[..]),
            Err(status) => rsp[..4].copy_from_slice(&status.0.to_le_bytes()),
        }
        rsp
    }

    /// The derived key for `request` under VMPCK `id`, or the status refusing it.
    pub fn derive(
        &self,
        id: VmpckId,
        request: &KeyRequest,
    ) -> Result<Zeroizing<[u8; 32]>, FirmwareStatus> {
        let c = self.platform.config();
        if request.root_key == RootKey::Vmrk || request.key_select == KeySelect::Vlek {
            return Err(FirmwareStatus::INVALID_KEY);
        }
        if request.vmpl.get() < id.get() || request.guest_svn > c.guest_svn {
            return Err(FirmwareStatus::INVALID_PARAM);
        }
        let asked = TcbVersion::new(request.tcb_version, c.product.tcb_layout());
        if !c.tcb_version().meets(asked.parts()) || asked.reserved_bits() != 0 {
            return Err(FirmwareStatus::INVALID_PARAM);
        }
        let f = request.fields;
        let mut ctx =
            hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA384, &self.chip_secret));
        ctx.update(b"csc-simulate MSG_KEY_REQ vcek-root");
        ctx.update(&f.bits().to_le_bytes());
        ctx.update(&u32::from(request.vmpl.get()).to_le_bytes());
        let selected: [(GuestFields, &[u8]); 6] = [
            (GuestFields::POLICY, &c.guest_policy.to_le_bytes()),
            (GuestFields::IMAGE_ID, &c.image_id),
            (GuestFields::FAMILY_ID, &c.family_id),
            (GuestFields::MEASUREMENT, &c.measurement),
            (GuestFields::GUEST_SVN, &request.guest_svn.to_le_bytes()),
            (GuestFields::TCB_VERSION, &request.tcb_version.to_le_bytes()),
        ];
        for (field, bytes) in selected {
            if f.contains(field) {
                ctx.update(bytes);
            }
        }
        let tag = ctx.sign();
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&tag.as_ref()[..32]);
        Ok(key)
    }
}

/// The hypervisor's path from a guest to a [`SimulatedPsp`]: a [`GuestTransport`] whose errors
/// are EXIT_INFO_2 values.
#[derive(Debug, Clone, Copy)]
pub struct PspTransport<'a>(&'a SimulatedPsp);

impl GuestTransport for PspTransport<'_> {
    type Error = ExitInfo2;

    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), ExitInfo2> {
        self.0.guest_request(request, response)
    }
}

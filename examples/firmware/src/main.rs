//! What guest firmware needs to attest itself and seal data without a kernel driver, as one
//! freestanding program: read the secrets page, ask the PSP for a report over SNP guest
//! messages, verify it against the host's VCEK and AMD's roots, derive a sealing key bound to
//! the launch measurement and policy, and leave the sequence number for the next owner of the
//! VMPCK. The GHCB call is a stub (a real firmware issues VMGEXIT there); everything else is the
//! code a firmware would link. `firmware_main` is the entry point whose stack ci/firmware.sh
//! measures.
#![no_std]
#![no_main]

use core::hint::black_box;

use csc_core::guest::header::PAGE_SIZE;
use csc_core::guest::secrets::{self, SECRETS_PAGE_SIZE};
use csc_core::guest::{
    ExitInfo2, GuestFields, GuestTransport, KeyRequest, REPORT_RESPONSE_BUFFER, ReportMessage,
    SecretsPage, VmpckId,
};
use csc_core::source::{ReportRequest, Vmpl};
use csc_core::verify::{CoreCrypto, Evidence, VerifyOptions, verify};

/// The secrets page the PSP placed in guest memory at launch (the loader maps it here).
#[unsafe(no_mangle)]
static mut CSC_SECRETS_PAGE: [u8; SECRETS_PAGE_SIZE] = [0; SECRETS_PAGE_SIZE];

/// The two pages shared with the hypervisor (mapped unencrypted by the firmware).
#[unsafe(no_mangle)]
static mut CSC_SHARED_PAGES: [[u8; PAGE_SIZE]; 2] = [[0; PAGE_SIZE]; 2];

/// The VCEK the host provides (an extended request's certificate table, or a certificate area).
#[unsafe(no_mangle)]
#[unsafe(link_section = ".host_certs")]
static CSC_HOST_VCEK: [u8; 2048] = [0; 2048];

/// The SNP guest request through the GHCB: the sealed request goes into the shared request page
/// and the response is copied out of the shared response page into private memory before the
/// core looks at it.
struct Ghcb {
    pages: &'static mut [[u8; PAGE_SIZE]; 2],
}

impl GuestTransport for Ghcb {
    type Error = ExitInfo2;

    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), ExitInfo2> {
        let [shared_request, shared_response] = &mut *self.pages;
        let n = request.len().min(PAGE_SIZE);
        shared_request.fill(0);
        if let (Some(dst), Some(src)) = (shared_request.get_mut(..n), request.get(..n)) {
            dst.copy_from_slice(src);
        }
        let exit_info_2 = vmgexit_guest_request(shared_request, shared_response);
        if exit_info_2 != 0 {
            return Err(ExitInfo2(exit_info_2));
        }
        let n = response.len().min(PAGE_SIZE);
        if let (Some(dst), Some(src)) = (response.get_mut(..n), shared_response.get(..n)) {
            dst.copy_from_slice(src);
        }
        Ok(())
    }
}

/// SNP_GUEST_REQUEST (exit code 0x8000_0011, the two pages' addresses in EXIT_INFO_1/2) through
/// the GHCB; returns EXIT_INFO_2. Stub: the optimiser must assume the response page changed.
#[inline(never)]
fn vmgexit_guest_request(request: &[u8; PAGE_SIZE], response: &mut [u8; PAGE_SIZE]) -> u64 {
    black_box((request, response));
    black_box(0)
}

/// The key of VMPL 0, which this firmware runs at.
const VMPCK0: VmpckId = match VmpckId::new(0) {
    Some(id) => id,
    None => panic!("VMPCK0 exists"),
};

/// Why firmware_main stopped (0 = attested and sealed).
#[repr(u32)]
enum Outcome {
    Sealed = 0,
    NoSecretsPage = 1,
    NoVmpck = 2,
    ReportFailed = 3,
    NotVerified = 4,
    KeyFailed = 5,
}

/// The entry point: attest, verify, seal.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn firmware_main(vcek_len: usize) -> u32 {
    let (page, pages) = (&raw mut CSC_SECRETS_PAGE, &raw mut CSC_SHARED_PAGES);
    // SAFETY: single-threaded firmware; this is the only code touching the secrets page and the
    // shared pages, and it runs once, so these are the only references to them.
    let (page, pages) = unsafe { (&mut *page, &mut *pages) };
    let page: &mut [u8; SECRETS_PAGE_SIZE] = black_box(page);
    let id = VMPCK0;
    let mut channel = match SecretsPage::parse(&page[..]) {
        Err(_) => return Outcome::NoSecretsPage as u32,
        Ok(s) => match s.channel(id) {
            Ok(c) => c,
            Err(_) => return Outcome::NoVmpck as u32,
        },
    };
    let mut ghcb = Ghcb { pages };

    // A report whose REPORT_DATA binds what this firmware is about to hand over.
    let request = ReportRequest::for_runtime_data(b"csc firmware example: next stage", Vmpl::ZERO);
    let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
    let outcome = match channel.report(&mut ghcb, &ReportMessage::new(request), &mut buf) {
        Err(_) => Outcome::ReportFailed,
        Ok(report) => {
            let host_vcek: &[u8] = black_box(&CSC_HOST_VCEK[..]);
            let vcek = host_vcek.get(..vcek_len).unwrap_or(host_vcek);
            match verify(
                &CoreCrypto,
                &report,
                &Evidence::signer(vcek),
                &VerifyOptions::default(),
            ) {
                Err(_) => Outcome::NotVerified,
                Ok(_) => {
                    // A sealing key only this launch measurement and policy can get again.
                    let sealing = KeyRequest {
                        fields: GuestFields::MEASUREMENT.union(GuestFields::POLICY),
                        ..KeyRequest::default()
                    };
                    match channel.derive_key(&mut ghcb, &sealing) {
                        Ok(key) => {
                            black_box(key.as_bytes());
                            Outcome::Sealed
                        }
                        Err(_) => Outcome::KeyFailed,
                    }
                }
            }
        }
    };
    // The next owner of VMPCK0 continues the sequence; a disabled key is wiped from the page.
    secrets::store_last_seqno(page, id, channel.last_seqno());
    if channel.is_disabled() {
        secrets::wipe_vmpck(page, id);
    }
    outcome as u32
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    black_box(firmware_main(black_box(1360)));
    loop {
        core::hint::spin_loop();
    }
}

/// Firmware halts on a panic. (The core's own code has no panic path, link-checked by
/// ci/nopanic; RustCrypto's AES key schedule and keystream check keep some that are
/// unreachable here but not provably so for the compiler.)
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

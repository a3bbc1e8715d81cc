//! The core's entry points in a freestanding binary (no allocator), built two ways:
//!
//! - default: the input-facing parsers only (report, HCL, report JSON, hex, base64, JSON, PEM,
//!   DER/X.509, CRL, certificate table, private-key readers, policy, report sources), with a
//!   panic handler that calls an undefined function: any panic path that survives optimisation
//!   is a link error. This is the no-panic proof.
//! - `--features full`: everything the core does (those parsers, plus report and chain
//!   verification, key unwrap, RSA-OAEP, HKDF and JWK rendering) with a defined panic handler,
//!   so it links; `ci/nopanic.sh` lists the panic sites left in it (each must be inside a
//!   third-party primitive) and measures its code size.
#![no_std]
#![no_main]

use core::hint::black_box;

use core::future::Future;

use csc_core::report::{Report, json};
use csc_core::source::{self, ReportRequest, ReportSource, Vmpl};

// In its own section so that the size report counts only code and constants.
#[unsafe(link_section = ".input")]
static INPUT: [u8; 4096] = [0; 4096];

/// Exercises every no-panic entry point on input the optimiser cannot predict.
#[unsafe(no_mangle)]
pub extern "C" fn csc_check(len: usize) -> usize {
    let input: &[u8] = black_box(&INPUT[..]);
    let input = input.get(..black_box(len)).unwrap_or(input);
    let mut out = 0usize;
    let mut scratch = [0u8; 2048];
    if let Ok(p) = csc_core::input::parse(input, &mut scratch, None) {
        out ^= p.report.version() as usize;
        let r: Report<'_> = p.report;
        out ^= r.reported_tcb().parts().snp as usize;
        out ^= r.reserved_nonzero().count();
        if let Some(h) = p.hcl {
            out ^= h.runtime_data_bound() as usize;
        }
        let mut buf = [0u8; json::RENDER_CAPACITY];
        if let Ok(text) = json::render(&r, &mut buf) {
            out ^= text.len();
            let mut back = [0u8; 1184];
            out ^= json::from_json(text, &mut back).is_ok() as usize;
        }
    }
    let mut b = [0u8; 64];
    out ^= csc_core::hex::decode_into(input, &mut b).unwrap_or(0);
    if let Ok(text) = core::str::from_utf8(input) {
        if let Ok(v) = csc_core::json::parse(text) {
            out ^= matches!(v, csc_core::json::Value::Object(_)) as usize;
        }
    }
    out ^= csc_core::runtime::report_data_for(input)[0] as usize;
    out ^= fetch_from(input);
    out ^= check_parsers(input);
    out ^= check_guest_messages(input);
    #[cfg(feature = "full")]
    {
        out ^= check_keywrap(input);
        out ^= check_crypto(input);
        out ^= check_verification(input);
    }
    out
}

/// A report source that answers with the unpredictable input, for `source::fetch`.
struct InputSource<'a>(&'a [u8]);

#[derive(Debug)]
struct Refused;
impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("refused")
    }
}
impl csc_core::source::SourceError for Refused {}

impl ReportSource for InputSource<'_> {
    type Error = Refused;
    fn name(&self) -> &'static str {
        "input"
    }
    async fn report(&self, _: &ReportRequest, out: &mut [u8; 1184]) -> Result<(), Refused> {
        let src = self.0.get(..out.len()).ok_or(Refused)?;
        out.copy_from_slice(src);
        Ok(())
    }
    async fn extended_report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; 1184],
        certs: &mut [u8],
    ) -> Result<usize, Refused> {
        self.report(request, out).await?;
        let n = certs.len().min(self.0.len());
        certs.get_mut(..n).ok_or(Refused)?.fill(0);
        Ok(n)
    }
}

/// Drives `source::fetch` and `fetch_extended` with a no-op waker (they complete in one poll).
fn fetch_from(input: &[u8]) -> usize {
    use core::task::{Context, Poll, Waker};
    let source = InputSource(input);
    let mut rd = [0u8; 64];
    let n = rd.len().min(input.len());
    if let (Some(d), Some(s)) = (rd.get_mut(..n), input.get(..n)) {
        d.copy_from_slice(s);
    }
    let vmpl = Vmpl::new(black_box(input.len() as u32) & 3).unwrap_or(Vmpl::ZERO);
    let request = ReportRequest::new(rd, vmpl);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = 0usize;
    let mut buf = [0u8; 1184];
    let fut = core::pin::pin!(source::fetch(&source, &request, &mut buf));
    if let Poll::Ready(Ok(r)) = fut.poll(&mut cx) {
        out ^= r.vmpl() as usize;
    }
    let mut buf = [0u8; 1184];
    let mut certs = [0u8; 32];
    let fut = core::pin::pin!(source::fetch_extended(
        &source, &request, &mut buf, &mut certs
    ));
    if let Poll::Ready(Ok((r, used))) = fut.poll(&mut cx) {
        out ^= r.version() as usize ^ used;
    }
    out
}

/// Key unwrap entry points: AES-KW/KWP, the key readers, RSA-OAEP with the core's key, Key Vault
/// release unwrap, HKDF derivation and JWK rendering.
#[cfg(feature = "full")]
#[inline(never)]
fn check_keywrap(input: &[u8]) -> usize {
    use csc_core::jwk;
    use csc_core::keywrap::{self, Kek, Mode, aes_kw, hkdf, pkcs8};
    use csc_core::rsa::oaep::{OaepDecrypt, OaepHash};
    use csc_core::rsa::private::RsaPrivateKey;
    use csc_core::secret::BlindingSeed;

    let mut out = 0usize;
    let (kek_bytes, rest) = input
        .split_at_checked(black_box(32))
        .unwrap_or((input, &[]));
    let mut buf = [0u8; 4096];
    if let Ok(kek) = Kek::new(kek_bytes) {
        out ^= aes_kw::unwrap(&kek, Mode::Kwp, rest, &mut buf).map_or(1, |k| k.len());
        out ^= aes_kw::unwrap(&kek, Mode::Kw, rest, &mut buf).map_or(2, |k| k.len());
        out ^= aes_kw::wrap(&kek, Mode::Kwp, rest, &mut buf).map_or(3, |k| k.len());
    }
    let mut scratch = [0u8; 4096];
    if let Ok(key) = pkcs8::read(input, &mut scratch) {
        let mut jwk_buf = [0u8; jwk::PRIVATE_JWK_CAPACITY];
        out ^= match key {
            pkcs8::PrivateKeyDer::Rsa(k) => {
                jwk::render_rsa_private(&k, &[jwk::KeyOp::Sign], &mut jwk_buf).map_or(4, str::len)
            }
            pkcs8::PrivateKeyDer::Ec(k) => {
                jwk::render_ec_private(&k, &[], &mut jwk_buf).map_or(5, str::len)
            }
        };
    }
    let kty =
        jwk::ReleasedKeyType::from_kty(black_box("RSA-HSM")).unwrap_or(jwk::ReleasedKeyType::Ec);
    let mut jwk_buf = [0u8; jwk::PRIVATE_JWK_CAPACITY];
    out ^= jwk::render_released_key(kty, input, &[], &mut jwk_buf).map_or(6, str::len);
    out ^=
        hkdf::derive_from_rsa_key(input, black_box("00ff"), black_box("")).map_or(7, |k| k.len());
    let seed = BlindingSeed::new([black_box(0x42); 32]);
    if let Ok(key) = RsaPrivateKey::from_der(input) {
        let mut set = [0u8; jwk::PUBLIC_JWK_SET_CAPACITY];
        out ^= jwk::render_public_jwk_set(key.public_key(), &mut set).map_or(8, str::len);
        let ct = input.get(..key.modulus_len()).unwrap_or(input);
        let mut msg = [0u8; 512];
        out ^= key
            .decrypt_oaep(OaepHash::Sha256, ct, &seed, &mut msg)
            .map_or(9, |m| m.len());
        let enc = black_box("CKM_RSA_AES_KEY_WRAP");
        let mut released = keywrap::ReleasedKey::new();
        out ^=
            keywrap::unwrap_release(&key, enc, input, &seed, &mut released).map_or(10, |k| k.len());
    }
    out
}

/// Certificates, CRLs, PEM, base64, the extended-report certificate table, private-key
/// readers and policy evaluation: parsing only.
#[inline(never)]
fn check_parsers(input: &[u8]) -> usize {
    use csc_core::cert::{Certificate, amd::AmdExtensions, crl::Crl};
    let mut out = 0usize;
    let mut der = [0u8; 2048];
    if let Ok(d) = csc_core::pem::decode_first(input, "CERTIFICATE", &mut der) {
        out ^= d.len();
    }
    out ^= csc_core::base64::decode_into(input, &mut der).unwrap_or(0);
    let mut scratch = [0u8; 2048];
    if let Ok(key) = csc_core::private_key::pkcs8::read(input, &mut scratch) {
        out ^= match key {
            csc_core::private_key::pkcs8::PrivateKeyDer::Rsa(k) => k.n.len(),
            csc_core::private_key::pkcs8::PrivateKeyDer::Ec(k) => k.curve.size(),
        };
    }
    if let Ok(report) = Report::parse(input) {
        let policy = csc_core::policy::PolicyOptions::default();
        out ^= csc_core::policy::violations(&report, &policy).count();
    }
    if let Ok(c) = Certificate::from_der(input) {
        out ^= c.tbs().len() ^ c.extensions().count() ^ c.validity().not_after.0 as usize;
        out ^= c.subject().common_name().map_or(0, str::len);
        if let Ok(e) = AmdExtensions::from_cert(&c) {
            let layout = csc_core::report::TcbLayout::Zen5;
            out ^= e.tcb(layout).raw() as usize ^ e.hwid.map_or(0, <[u8]>::len);
        }
        out ^= csc_core::verify::classify(&c).is_some() as usize;
        out ^= c.signature_algorithm().scheme().is_ok() as usize;
    }
    if let Ok(crl) = Crl::from_der(input) {
        out ^= crl.revoked().count() ^ crl.is_revoked(&[1]) as usize;
    }
    if let Ok(t) = csc_core::certtable::parse(input) {
        out ^= t.iter().map(|e| e.data.len()).sum::<usize>();
    }
    // Certificates read by role (any order, extra ones ignored) for a report, and the
    // report-or-HCL input reader.
    let (report, rest) = input.split_at(input.len().min(1184));
    if let Ok(report) = Report::parse(report) {
        let (a, b) = rest.split_at(rest.len() / 2);
        let pool = [a, b, input];
        if let Ok(ev) = csc_core::verify::select(&pool, &report) {
            out ^= usize::from(ev.intermediate.is_some());
        }
    }
    let mut scratch = [0u8; 2048];
    if let Ok(p) = csc_core::input::parse(input, &mut scratch, None) {
        out ^= p.report.version() as usize ^ usize::from(p.hcl.is_some());
    }
    out
}

/// A certificate's signature checked with the core's crypto backend.
#[cfg(feature = "full")]
#[inline(never)]
fn check_crypto(input: &[u8]) -> usize {
    use csc_core::cert::Certificate;
    let Ok(c) = Certificate::from_der(input) else {
        return 0;
    };
    let v = csc_core::verify::x509::check_signed_by(&csc_core::verify::CoreCrypto, &c, &c);
    v.is_ok() as usize
}

/// Report verification with the core's crypto backend (p384, crypto-bigint RSA) and policy
/// checks: a report, then a VCEK, from the unpredictable input.
#[cfg(feature = "full")]
#[inline(never)]
fn check_verification(input: &[u8]) -> usize {
    use csc_core::verify::{CoreCrypto, Evidence, VerifyOptions};
    let (report, signer) = input.split_at(input.len().min(1184));
    let Ok(report) = Report::parse(report) else {
        return 0;
    };
    let (signer, crl) = signer.split_at(signer.len() / 2);
    let evidence = Evidence {
        signer,
        crl: Some(crl),
        ..Evidence::default()
    };
    let options = VerifyOptions {
        now: Some(csc_core::cert::Time(black_box(0))),
        ..VerifyOptions::default()
    };
    let mut out = match csc_core::verify::verify(&CoreCrypto, &report, &evidence, &options) {
        Ok(v) => v.tcb.raw() as usize,
        Err(e) => e.category() as usize,
    };
    // The same bytes as an input whose HCL variable data must be bound. The verifier holds the
    // backend by reference, as `verify` does: one instantiation of the chain code, as a
    // firmware program has (a `Verifier<CoreCrypto>` beside `verify`'s `Verifier<&CoreCrypto>`
    // would link all of it twice, about 7 KB).
    let mut scratch = [0u8; 2048];
    if let Ok(p) = csc_core::input::parse(input, &mut scratch, None) {
        let mut verifier = csc_core::verify::Verifier::new(&CoreCrypto, options);
        out ^= match verifier.verify_input(&p, &evidence) {
            Ok(v) => usize::from(v.hcl_variable_data.is_some()),
            Err(e) => e.category() as usize,
        };
    }
    let policy = csc_core::policy::PolicyOptions::default();
    out ^= csc_core::policy::violations(&report, &policy).count();
    out
}

/// The guest-message layer: the response parser (header checks, MSG_REPORT_RSP, MSG_KEY_RSP),
/// the request decoders of the PSP side, the secrets page, sequence numbers and a whole channel
/// exchange over a transport that answers with the unpredictable input. The AEAD is a stand-in
/// ([`StandInAead`]): RustCrypto's AES key schedule (aes 0.9 fixslice) and keystream length
/// check (cipher 0.5) keep bounds checks and an `expect` that LLVM cannot remove although they
/// are unreachable for guest messages, so the cipher itself is outside this proof.
#[inline(never)]
fn check_guest_messages(input: &[u8]) -> usize {
    use csc_core::guest::message::{Expected, open_response};
    use csc_core::guest::{self, GuestChannel, KeyRequest, ReportMessage};
    use csc_core::guest::{SecretsPage, VmpckId, header::MessageType};

    let mut out = 0usize;
    let key = StandInAead(black_box(0x11));
    let Some(id) = VmpckId::new(black_box(1)) else {
        return 0;
    };
    let mut msg = [0u8; guest::REPORT_RESPONSE_BUFFER];
    let n = msg.len().min(input.len());
    if let (Some(d), Some(s)) = (msg.get_mut(..n), input.get(..n)) {
        d.copy_from_slice(s);
    }
    let seqno = black_box(input.len() as u64);
    if let Some(expected) = Expected::answer_to(MessageType::REPORT_REQ, seqno, id) {
        if let Ok(plain) = open_response(&key, &expected, &mut msg) {
            out ^= plain.len();
            if let Ok(r) = guest::report::parse_report_response(plain) {
                out ^= r.vmpl() as usize;
            }
        }
    }
    if let Ok(k) = guest::key::parse_key_response(input) {
        out ^= k.as_bytes()[0] as usize;
    }
    if let Ok(r) = guest::report::parse_report_response(input) {
        out ^= r.version() as usize;
    }
    if let Ok(r) = KeyRequest::decode(input) {
        out ^= r.guest_svn as usize;
    }
    if let Ok(m) = ReportMessage::decode(input) {
        out ^= m.request.vmpl.get() as usize;
    }
    if let Ok(page) = SecretsPage::parse(input) {
        out ^= page.last_seqno(id) as usize ^ page.vmpck(id).is_wiped() as usize;
    }
    let mut channel = GuestChannel::new(key, id, black_box(input.len() as u64));
    let mut t = InputTransport(input);
    if let Ok(k) = channel.derive_key(&mut t, &KeyRequest::default()) {
        out ^= k.as_bytes()[1] as usize;
    }
    let mut buf = [0u8; guest::REPORT_RESPONSE_BUFFER];
    let req = ReportMessage::new(ReportRequest::new([0; 64], Vmpl::ZERO));
    if let Ok(r) = channel.report(&mut t, &req, &mut buf) {
        out ^= r.version() as usize;
    }
    out ^= channel.last_seqno() as usize;
    if let Ok(fields) = guest::GuestFields::parse_list(core::str::from_utf8(input).unwrap_or("")) {
        out ^= fields.bits() as usize;
    }
    out
}

/// A stand-in AEAD for the proof: XOR with a key byte, a one-byte sum as the tag.
struct StandInAead(u8);

impl csc_core::guest::MessageAead for StandInAead {
    fn seal(
        &self,
        header: &mut csc_core::guest::header::RawHeader,
        payload: &mut [u8],
    ) -> Result<(), csc_core::guest::crypto::AeadError> {
        let mut sum = 0u8;
        for b in payload.iter_mut() {
            sum = sum.wrapping_add(*b);
            *b ^= self.0;
        }
        header.authtag[0] = sum;
        Ok(())
    }
    fn open(
        &self,
        header: &csc_core::guest::header::RawHeader,
        payload: &mut [u8],
    ) -> Result<(), csc_core::guest::crypto::AeadError> {
        let sum = payload.iter().fold(0u8, |s, b| s.wrapping_add(b ^ self.0));
        if sum != header.authtag[0] {
            return Err(csc_core::guest::crypto::AeadError);
        }
        payload.iter_mut().for_each(|b| *b ^= self.0);
        Ok(())
    }
    fn is_wiped(&self) -> bool {
        self.0 == 0
    }
    fn wipe(&mut self) {
        self.0 = 0;
    }
}

/// A transport whose "PSP" answers with the unpredictable input.
struct InputTransport<'a>(&'a [u8]);

impl csc_core::guest::GuestTransport for InputTransport<'_> {
    type Error = Refused;
    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), Refused> {
        if request.len() == black_box(0) {
            return Err(Refused);
        }
        let n = response.len().min(self.0.len());
        response
            .get_mut(..n)
            .ok_or(Refused)?
            .copy_from_slice(self.0.get(..n).ok_or(Refused)?);
        Ok(())
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let r = csc_check(black_box(1184));
    black_box(r);
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "full"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        // Defined nowhere: referencing it makes any surviving panic path a link error.
        fn csc_core_has_a_panic_path() -> !;
    }
    // SAFETY: never called; if a panic path survives, the program does not link at all.
    unsafe { csc_core_has_a_panic_path() }
}

/// The full core links with a defined handler; `ci/nopanic.sh` lists what can reach it.
#[cfg(feature = "full")]
#[panic_handler]
fn panic_found(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

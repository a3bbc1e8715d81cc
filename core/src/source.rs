//! The trait a report source implements: a report for 64 bytes of report data at a VMPL, into a
//! fixed 1184-byte buffer; async and runtime-free.
//!
//! Implementations live outside the core (`csc-sev` for the kernel interfaces, `csc-simulate`
//! for the software platform). The futures they return are `Send`, so a tokio task can hold
//! them across an `.await`; nothing here depends on a runtime, and a busy-polling executor such
//! as embassy-futures' `block_on` drives them as well.
//!
//! [`fetch`] and [`fetch_extended`] are what callers use: they ask the source, parse the answer
//! and check that it binds what was asked for (REPORT_DATA and VMPL), so a confused or hostile
//! source cannot hand back a report made for another request.

use core::fmt;
use core::future::Future;

use crate::abi::{REPORT_SIZE, size};
use crate::error::ReportError;
use crate::report::Report;

/// A Virtual Machine Privilege Level: 0 (most privileged) to [`Vmpl::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Vmpl(u8);

impl Vmpl {
    /// The highest VMPL SEV-SNP defines.
    pub const MAX: u8 = 3;
    /// VMPL 0, what a guest without a paravisor runs at (and upstream always asks for).
    pub const ZERO: Vmpl = Vmpl(0);

    /// A VMPL, or `None` above [`Vmpl::MAX`].
    pub const fn new(level: u32) -> Option<Vmpl> {
        if level <= Self::MAX as u32 {
            Some(Vmpl(level as u8))
        } else {
            None
        }
    }

    /// The level as a number.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Vmpl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VMPL {}", self.0)
    }
}

/// What a report is asked for: the 64 bytes of REPORT_DATA and the VMPL to report at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRequest {
    /// REPORT_DATA, copied into the report verbatim.
    pub report_data: [u8; size::REPORT_DATA],
    /// The VMPL the report is requested at; it must not be below the guest's own VMPL.
    pub vmpl: Vmpl,
}

impl ReportRequest {
    /// A request for `report_data` at `vmpl`.
    pub const fn new(report_data: [u8; size::REPORT_DATA], vmpl: Vmpl) -> Self {
        ReportRequest { report_data, vmpl }
    }

    /// A request at `vmpl` whose REPORT_DATA binds `runtime_data` the sidecars' way
    /// (SHA-256 in bytes 0..32, zeros after: [`crate::runtime::report_data_for`]).
    pub fn for_runtime_data(runtime_data: &[u8], vmpl: Vmpl) -> Self {
        Self::new(crate::runtime::report_data_for(runtime_data), vmpl)
    }

    /// Checks that `report` answers this request: the same REPORT_DATA, made at this VMPL.
    pub fn check_answer(&self, report: &Report<'_>) -> Result<(), AnswerMismatch> {
        if let Some(offset) = report
            .report_data()
            .iter()
            .zip(self.report_data.iter())
            .position(|(a, b)| a != b)
        {
            return Err(AnswerMismatch::ReportData { offset });
        }
        if report.vmpl() != u32::from(self.vmpl.get()) {
            return Err(AnswerMismatch::Vmpl {
                expected: self.vmpl.get(),
                actual: report.vmpl(),
            });
        }
        Ok(())
    }
}

/// How a report fails to answer its [`ReportRequest`] (each caller reports it in its own
/// error type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMismatch {
    /// REPORT_DATA differs, first at this offset.
    ReportData {
        /// Offset of the first differing byte within REPORT_DATA.
        offset: usize,
    },
    /// The report was made at another VMPL.
    Vmpl {
        /// The VMPL requested.
        expected: u8,
        /// The report's VMPL field.
        actual: u32,
    },
}

/// The error of a report source: printable, and able to say how large a certificate buffer an
/// extended report needs when the one given was too small.
pub trait SourceError: fmt::Debug + fmt::Display {
    /// Bytes the certificate buffer must have, when this error says it was too small.
    fn certs_needed(&self) -> Option<usize> {
        None
    }
}

/// Something that produces SEV-SNP attestation reports.
///
/// Both methods fill `out` with the 1184-byte report exactly as the platform returned it; they
/// do not check it (use [`fetch`]). `Sync` and the `Send` futures let one source serve
/// concurrent requests from a multi-threaded runtime.
pub trait ReportSource: Sync {
    /// Why a report could not be obtained.
    type Error: SourceError + Send;

    /// A short stable name for logs and tool output (`configfs-tsm`, `sev-guest`, `sev`,
    /// `simulated`).
    fn name(&self) -> &'static str;

    /// True only for a software platform: its reports prove nothing about hardware, and every
    /// output made from them must say so.
    fn simulated(&self) -> bool {
        false
    }

    /// A report for `request`, into `out`.
    fn report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A report for `request`, into `out`, plus the certificate table the host supplies (AMD GHCB
    /// specification: GUID, offset, length entries ended by a zero entry, then the
    /// certificates) into `certs`. Returns the number of bytes of `certs` used; 0 when the host
    /// supplies no certificates. When `certs` is too small the error's
    /// [`SourceError::certs_needed`] says how large it must be.
    fn extended_report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
        certs: &mut [u8],
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// Why [`fetch`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError<E> {
    /// The source could not produce a report.
    Source(E),
    /// The source produced bytes that are not a report.
    Report(ReportError),
    /// The report's REPORT_DATA differs from the request's: it was made for another request.
    ReportDataMismatch {
        /// Offset of the first differing byte within REPORT_DATA.
        offset: usize,
    },
    /// The report was made at another VMPL than requested.
    VmplMismatch {
        /// The VMPL requested.
        expected: u8,
        /// The VMPL field of the report.
        actual: u32,
    },
}

impl<E: fmt::Display> fmt::Display for FetchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Source(e) => e.fmt(f),
            FetchError::Report(e) => write!(f, "the report source returned a bad report: {e}"),
            FetchError::ReportDataMismatch { offset } => write!(
                f,
                "the report's report_data differs from the request at byte {offset}: the source answered another request"
            ),
            FetchError::VmplMismatch { expected, actual } => write!(
                f,
                "the report was made at VMPL {actual}, but VMPL {expected} was requested"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for FetchError<E> {}

/// Asks `source` for a report, reads it and checks that it binds the request.
pub async fn fetch<'b, S: ReportSource + ?Sized>(
    source: &S,
    request: &ReportRequest,
    buf: &'b mut [u8; REPORT_SIZE],
) -> Result<Report<'b>, FetchError<S::Error>> {
    source
        .report(request, buf)
        .await
        .map_err(FetchError::Source)?;
    check(request, buf)
}

/// As [`fetch`], also filling `certs` with the host's certificate table; returns the report and
/// the number of bytes of `certs` used.
pub async fn fetch_extended<'b, S: ReportSource + ?Sized>(
    source: &S,
    request: &ReportRequest,
    buf: &'b mut [u8; REPORT_SIZE],
    certs: &mut [u8],
) -> Result<(Report<'b>, usize), FetchError<S::Error>> {
    let used = source
        .extended_report(request, buf, certs)
        .await
        .map_err(FetchError::Source)?;
    Ok((check(request, buf)?, used))
}

fn check<'b, E>(
    request: &ReportRequest,
    buf: &'b [u8; REPORT_SIZE],
) -> Result<Report<'b>, FetchError<E>> {
    let report = Report::parse(buf).map_err(FetchError::Report)?;
    request.check_answer(&report).map_err(|m| match m {
        AnswerMismatch::ReportData { offset } => FetchError::ReportDataMismatch { offset },
        AnswerMismatch::Vmpl { expected, actual } => FetchError::VmplMismatch { expected, actual },
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::offset;
    use core::cell::Cell;
    use core::sync::atomic::{AtomicU32, Ordering};
    use embassy_futures::block_on;

    /// A source that answers from a template report, optionally misbehaving.
    struct Template {
        fault: Fault,
        calls: AtomicU32,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Fault {
        None,
        WrongData,
        WrongVmpl,
        Garbage,
        Refuse,
        CertsTooSmall,
    }

    #[derive(Debug, PartialEq)]
    struct TestError(Option<usize>);
    impl fmt::Display for TestError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("refused")
        }
    }
    impl SourceError for TestError {
        fn certs_needed(&self) -> Option<usize> {
            self.0
        }
    }

    impl Template {
        fn new(fault: Fault) -> Self {
            Template {
                fault,
                calls: AtomicU32::new(0),
            }
        }
        fn fill(&self, req: &ReportRequest, out: &mut [u8; REPORT_SIZE]) -> Result<(), TestError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.fault == Fault::Refuse {
                return Err(TestError(None));
            }
            out.fill(0);
            out[offset::VERSION..][..4].copy_from_slice(&2u32.to_le_bytes());
            out[offset::SIGNATURE_ALGO..][..4].copy_from_slice(&1u32.to_le_bytes());
            let rd = &mut out[offset::REPORT_DATA..offset::REPORT_DATA + 64];
            rd.copy_from_slice(&req.report_data);
            if self.fault == Fault::WrongData {
                rd[63] ^= 1;
            }
            let vmpl = u32::from(req.vmpl.get()) + u32::from(self.fault == Fault::WrongVmpl);
            out[offset::VMPL..offset::VMPL + 4].copy_from_slice(&vmpl.to_le_bytes());
            if self.fault == Fault::Garbage {
                out[offset::VERSION] = 0xEE;
            }
            Ok(())
        }
    }

    impl ReportSource for Template {
        type Error = TestError;
        fn name(&self) -> &'static str {
            "template"
        }
        async fn report(
            &self,
            request: &ReportRequest,
            out: &mut [u8; REPORT_SIZE],
        ) -> Result<(), TestError> {
            self.fill(request, out)
        }
        async fn extended_report(
            &self,
            request: &ReportRequest,
            out: &mut [u8; REPORT_SIZE],
            certs: &mut [u8],
        ) -> Result<usize, TestError> {
            const TABLE: &[u8] = &[0u8; 24];
            if self.fault == Fault::CertsTooSmall || certs.len() < TABLE.len() {
                return Err(TestError(Some(TABLE.len())));
            }
            self.fill(request, out)?;
            certs[..TABLE.len()].copy_from_slice(TABLE);
            Ok(TABLE.len())
        }
    }

    fn request(vmpl: u32) -> ReportRequest {
        let mut rd = [0u8; 64];
        for (i, b) in rd.iter_mut().enumerate() {
            *b = i as u8;
        }
        ReportRequest::new(rd, Vmpl::new(vmpl).unwrap())
    }

    #[test]
    fn vmpl_range() {
        assert_eq!(Vmpl::new(0), Some(Vmpl::ZERO));
        assert_eq!(Vmpl::new(3).map(Vmpl::get), Some(3));
        assert_eq!(Vmpl::new(4), None);
        assert_eq!(Vmpl::new(u32::MAX), None);
    }

    #[test]
    fn fetch_checks_the_binding() {
        let source = Template::new(Fault::None);
        let req = request(2);
        let mut buf = [0u8; REPORT_SIZE];
        let report = block_on(fetch(&source, &req, &mut buf)).unwrap();
        assert_eq!(report.report_data(), &req.report_data);
        assert_eq!(report.vmpl(), 2);
        assert_eq!(source.calls.load(Ordering::Relaxed), 1);
        assert!(!source.simulated());
        assert_eq!(source.name(), "template");
    }

    #[test]
    fn fetch_rejects_a_report_for_another_request() {
        let mut buf = [0u8; REPORT_SIZE];
        let e = block_on(fetch(
            &Template::new(Fault::WrongData),
            &request(0),
            &mut buf,
        ));
        assert_eq!(
            e.unwrap_err(),
            FetchError::ReportDataMismatch { offset: 63 }
        );
        let e = block_on(fetch(
            &Template::new(Fault::WrongVmpl),
            &request(1),
            &mut buf,
        ));
        assert_eq!(
            e.unwrap_err(),
            FetchError::VmplMismatch {
                expected: 1,
                actual: 2
            }
        );
        let e = block_on(fetch(&Template::new(Fault::Garbage), &request(0), &mut buf));
        assert!(matches!(
            e.unwrap_err(),
            FetchError::Report(ReportError::UnsupportedVersion { .. })
        ));
        let e = block_on(fetch(&Template::new(Fault::Refuse), &request(0), &mut buf));
        let e = e.unwrap_err();
        assert_eq!(e, FetchError::Source(TestError(None)));
        assert_eq!(std::format!("{e}"), "refused");
    }

    #[test]
    fn extended_reports_say_how_much_room_certs_need() {
        let source = Template::new(Fault::None);
        let req = request(0);
        let mut buf = [0u8; REPORT_SIZE];
        let mut small = [0u8; 8];
        let e = block_on(fetch_extended(&source, &req, &mut buf, &mut small)).unwrap_err();
        let FetchError::Source(inner) = e else {
            panic!("{e:?}")
        };
        assert_eq!(inner.certs_needed(), Some(24));
        let mut certs = [0xAAu8; 64];
        let (report, used) = block_on(fetch_extended(&source, &req, &mut buf, &mut certs)).unwrap();
        assert_eq!(used, 24);
        assert_eq!(report.version(), 2);
        assert!(certs[..24].iter().all(|b| *b == 0));
    }

    #[test]
    fn futures_are_send_and_runtime_free() {
        fn assert_send<T: Send>(t: T) -> T {
            t
        }
        let source = Template::new(Fault::None);
        let req = ReportRequest::for_runtime_data(b"", Vmpl::ZERO);
        let mut buf = [0u8; REPORT_SIZE];
        // Polled by hand with a no-op waker: nothing here needs a runtime.
        let polled = Cell::new(0);
        let fut = assert_send(fetch(&source, &req, &mut buf));
        let mut fut = core::pin::pin!(fut);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        let out = loop {
            polled.set(polled.get() + 1);
            if let core::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                break v;
            }
        };
        assert!(out.is_ok());
        assert_eq!(polled.get(), 1);
        assert_eq!(
            &req.report_data[..32],
            &crate::runtime::report_data_for(b"")[..32]
        );
    }
}

//! Freestanding parse + verify, for measuring stack and code size (see Cargo.toml).
#![no_std]
#![no_main]

use core::hint::black_box;

use csc_core::report::Report;
use csc_core::verify::{CoreCrypto, Evidence, VerifyOptions, verify};

// Inputs the optimiser cannot see: a report followed by a VCEK.
#[unsafe(link_section = ".input")]
static INPUT: [u8; 4096] = [0; 4096];

/// Parses a report and a VCEK and verifies them; the entry point whose stack is measured.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn csc_verify(report_len: usize, vcek_len: usize) -> u32 {
    let input: &[u8] = black_box(&INPUT[..]);
    let (report, rest) = input.split_at(report_len.min(input.len()));
    let vcek = rest.get(..vcek_len).unwrap_or(rest);
    let Ok(report) = Report::parse(report) else {
        return 1;
    };
    let options = VerifyOptions::default();
    match verify(&CoreCrypto, &report, &Evidence::signer(vcek), &options) {
        Ok(v) => v.tcb.raw() as u32,
        Err(e) => 2 + e.category() as u32,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    black_box(csc_verify(black_box(1184), black_box(1360)));
    loop {
        core::hint::spin_loop();
    }
}

/// Verification uses third-party primitives (p384, crypto-bigint) whose remaining panic sites
/// ci/nopanic.sh lists and bounds; here the handler only has to exist.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

//! Links the core's entry points into a freestanding binary whose panic handler is undefined.
#![no_std]
#![no_main]

use core::hint::black_box;

use csc_core::report::{Report, json};

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
    out
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let r = csc_check(black_box(1184));
    black_box(r);
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "find"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        // Defined nowhere: referencing it makes any surviving panic path a link error.
        fn csc_core_has_a_panic_path() -> !;
    }
    // SAFETY: never called; if a panic path survives, the program does not link at all.
    unsafe { csc_core_has_a_panic_path() }
}

/// With `--features find`, a defined handler so the program links and panic sites can be listed.
#[cfg(feature = "find")]
#[panic_handler]
fn panic_found(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

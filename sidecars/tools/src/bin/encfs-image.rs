//! `encfs-image`: make, check and mount encrypted filesystem images (LUKS2, aes-xts-plain64,
//! ext4) as upstream's generatefs makes them, without root for `create` and `check`.
//!
//! ```text
//! encfs-image create --dir DIR --key-file KEY --out IMAGE [--size 64M] [--iterations 1000]
//!                    [--sector-size 4096] [--label TEXT]
//! encfs-image check  --image IMAGE --key-file KEY
//! encfs-image mount  --image IMAGE --key-file KEY --mount-point PATH [--read-write]
//!                    [--name NAME] [--exposure auto|dm-crypt|userspace]
//!                    [--block-size-kib 512] [--blocks 32] [--read-ahead-kib 1024]
//!                    [--loop-direct-io]
//! ```
//! `create` sizes the whole image (header included, 16 MiB) with `--size` (default 64M as
//! generatefs). `mount` runs until SIGTERM or SIGINT; it prints `ready PATH` on standard output
//! once the mount point is published, and tears everything down on the signal.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use csc_mount::luks2::{FormatParams, Passphrase};
use csc_mount::mount::{Exposure, MountRequest};
use csc_mount::signals::TermSignals;
use csc_mount::{CacheConfig, FuseOptions, LocalFile, image};
use csc_tools::args::Args;
use csc_tools::exit::{self, Failure};

const USAGE: &str = "usage: encfs-image create --dir DIR --key-file KEY --out IMAGE [--size 64M] \
[--iterations 1000] [--sector-size 4096] [--label TEXT]
       encfs-image check --image IMAGE --key-file KEY
       encfs-image mount --image IMAGE --key-file KEY --mount-point PATH [--read-write] \
[--name NAME] [--exposure auto|dm-crypt|userspace] [--block-size-kib 512] [--blocks 32]";

fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, Failure> {
    args.value(name)
        .ok_or_else(|| Failure::usage(format!("--{name} is required; {USAGE}")))
}

fn parse_size(s: &str) -> Result<u64, Failure> {
    let (num, mult) = match s.trim_end_matches("iB").trim_end_matches('B') {
        t if t.ends_with('K') || t.ends_with('k') => (&t[..t.len() - 1], 1u64 << 10),
        t if t.ends_with('M') || t.ends_with('m') => (&t[..t.len() - 1], 1 << 20),
        t if t.ends_with('G') || t.ends_with('g') => (&t[..t.len() - 1], 1 << 30),
        t => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Failure::usage(format!("bad size {s:?} (e.g. 64M, 1G, 67108864)")))
}

fn number<T: std::str::FromStr>(args: &Args, name: &str, default: T) -> Result<T, Failure> {
    match args.value(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Failure::usage(format!("--{name}: {v:?} is not a number"))),
    }
}

fn key_file(args: &Args) -> Result<Passphrase, Failure> {
    let path = required(args, "key-file")?;
    let pass = Passphrase::from_file(Path::new(path))
        .map_err(|e| Failure::usage(format!("key file {path}: {e}")))?;
    Ok(pass)
}

/// A one-line progress bar on a terminal; silent otherwise.
struct Progress {
    tty: bool,
    start: Instant,
    last: Option<Instant>,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last: None,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        if !self.tty {
            return;
        }
        let now = Instant::now();
        if done < total
            && self
                .last
                .is_some_and(|l| now.duration_since(l).as_millis() < 100)
        {
            return;
        }
        self.last = Some(now);
        let width = 40u64;
        let filled = (done * width).checked_div(total).unwrap_or(width) as usize;
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-6);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r  encrypting [{}{}] {:3}% {:7.1} MiB/s",
            "#".repeat(filled),
            " ".repeat(width as usize - filled),
            (done * 100).checked_div(total).unwrap_or(100),
            done as f64 / secs / (1024.0 * 1024.0)
        );
        if done >= total {
            let _ = writeln!(err);
        }
    }
}

fn create(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&[
        "dir",
        "key-file",
        "out",
        "size",
        "iterations",
        "sector-size",
        "label",
    ])?;
    let dir = PathBuf::from(required(args, "dir")?);
    let out = PathBuf::from(required(args, "out")?);
    let pass = key_file(args)?;
    let total = parse_size(args.value("size").unwrap_or("64M"))?;
    let params = FormatParams {
        iterations: number(args, "iterations", 1000u32)?,
        sector_size: number(args, "sector-size", 4096u32)?,
        label: args.value("label").unwrap_or("").to_owned(),
        ..FormatParams::default()
    };
    if params.iterations < 1000 {
        return Err(Failure::usage(
            "--iterations must be at least 1000 (cryptsetup's minimum)",
        ));
    }
    if params.sector_size != 512 && params.sector_size != 4096 {
        return Err(Failure::usage("--sector-size must be 512 or 4096"));
    }
    let fs_size = total
        .checked_sub(params.data_offset)
        .filter(|s| *s >= 1 << 20)
        .ok_or_else(|| {
            Failure::usage("--size must leave at least 1 MiB after the 16 MiB header")
        })?
        / 4096
        * 4096;
    let plain = out.with_extension("ext4.tmp");
    let result = image::make_ext4(&dir, &plain, fs_size).and_then(|()| {
        let mut bar = Progress::new();
        image::encrypt_image(&plain, &out, &pass, &params, |d, t| bar.update(d, t))
    });
    let _ = std::fs::remove_file(&plain);
    result.map_err(Failure::usage)?;
    println!(
        "{}: LUKS2 aes-xts-plain64, {}-byte sectors, pbkdf2 {} iterations, {} bytes of ext4",
        out.display(),
        params.sector_size,
        params.iterations,
        fs_size
    );
    Ok(())
}

fn open_image(args: &Args, writable: bool) -> Result<(Arc<LocalFile>, image::Opened), Failure> {
    let path = required(args, "image")?;
    let pass = key_file(args)?;
    let store = Arc::new(
        LocalFile::open(Path::new(path), writable)
            .map_err(|e| Failure::usage(format!("image {path}: {e}")))?,
    );
    let opened = image::open(store.as_ref(), &pass)
        .map_err(|e| Failure::new(exit::MALFORMED, format!("image {path}: {e}")))?;
    Ok((store, opened))
}

fn check(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&["image", "key-file"])?;
    let (_, (header, _key)) = open_image(args, false)?;
    println!(
        "ok: LUKS2 uuid {} seqid {}, {} keyslot(s), data at {} ({} bytes, {}-byte sectors), key verified",
        header.uuid,
        header.seqid,
        header.keyslots.len(),
        header.segment.offset,
        header.data_size,
        header.segment.sector_size
    );
    Ok(())
}

fn mount(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&[
        "image",
        "key-file",
        "mount-point",
        "read-write",
        "name",
        "exposure",
        "block-size-kib",
        "blocks",
        "read-ahead-kib",
        "loop-direct-io",
    ])?;
    // Before any thread exists, so that every thread inherits the blocked mask.
    let signals = TermSignals::block().map_err(|e| Failure::usage(format!("signals: {e}")))?;
    let rw = args.bool("read-write");
    let mount_point = PathBuf::from(required(args, "mount-point")?);
    let exposure = match args.value("exposure").unwrap_or("auto") {
        "auto" => Exposure::Auto,
        "dm-crypt" => Exposure::DmCrypt,
        "userspace" => Exposure::Userspace,
        other => {
            return Err(Failure::usage(format!(
                "--exposure {other:?}: auto, dm-crypt or userspace"
            )));
        }
    };
    let block_size = number(args, "block-size-kib", 512usize)? * 1024;
    let cache = CacheConfig {
        block_size,
        capacity: number(args, "blocks", 32usize)?.saturating_mul(block_size),
        ..CacheConfig::default()
    };
    csc_mount::mount::check_mount_point(&mount_point).map_err(Failure::usage)?;
    let (store, (header, key)) = open_image(args, rw)?;
    let mounted = csc_mount::mount(MountRequest {
        store,
        header,
        key,
        mount_point: mount_point.clone(),
        name: args.value("name").unwrap_or("0").to_owned(),
        read_write: rw,
        cache,
        exposure,
        work_dir: std::env::temp_dir(),
        fuse: FuseOptions {
            read_ahead_kib: number(args, "read-ahead-kib", 1024u32)?,
            loop_direct_io: args.bool("loop-direct-io"),
            ..FuseOptions::default()
        },
    })
    .map_err(Failure::usage)?;
    println!("ready {}", mount_point.display());
    let _ = std::io::stdout().flush();
    let sig = signals
        .wait()
        .map_err(|e| Failure::usage(format!("waiting for a signal: {e}")))?;
    eprintln!("encfs-image: signal {sig}, tearing down");
    mounted.teardown().map_err(Failure::usage)?;
    Ok(())
}

fn run() -> Result<(), Failure> {
    let args = csc_tools::args::parse(
        std::env::args().skip(1),
        &["read-write", "loop-direct-io", "help", "h"],
    )?;
    if args.bool("help") || args.bool("h") {
        println!("{USAGE}");
        return Ok(());
    }
    match args.positional() {
        [cmd] if cmd == "create" => create(&args),
        [cmd] if cmd == "check" => check(&args),
        [cmd] if cmd == "mount" => mount(&args),
        _ => Err(Failure::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    csc_tools::log_warnings();
    exit::finish("encfs-image", run())
}

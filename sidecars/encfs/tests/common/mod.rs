//! Helpers for the end-to-end tests: images made with csc-mount's public API, the real
//! `encfs` binary started with an input and stopped with a signal (the sample tree, Azurite and
//! the checks that nothing is left mounted or attached come from csc-testkit). Runs as root
//! (CI does).

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use csc_mount::image;
use csc_mount::luks2::{FormatParams, Passphrase};
use zeroize::Zeroizing;

/// The 32-byte key file `[byte; 32]`.
pub fn key(byte: u8) -> Passphrase {
    Passphrase::new(Zeroizing::new(vec![byte; 32]))
}

/// `raw_key` text of [`key`].
pub fn raw_key(byte: u8) -> String {
    format!("{byte:02x}").repeat(32)
}

/// Makes a LUKS2 image of `dir` (total `size` bytes) at `out`.
pub fn make_image(dir: &Path, work: &Path, out: &Path, byte: u8, size: u64) {
    let params = FormatParams::default();
    let plain = work.join("plain.ext4");
    image::make_ext4(dir, &plain, size - params.data_offset).unwrap();
    image::encrypt_image(&plain, out, &key(byte), &params, |_, _| {}).unwrap();
    std::fs::remove_file(plain).unwrap();
}

/// One filesystem entry of the input.
pub fn fs_entry(mount_point: &Path, url: &str, byte: u8, rw: bool) -> String {
    format!(
        r#"{{"mount_point": "{}", "azure_url": "{url}", "raw_key": "{}", "read_write": {rw}}}"#,
        mount_point.display(),
        raw_key(byte)
    )
}

/// The base64 of `{"azure_filesystems": [entries]}`.
pub fn input(entries: &[String]) -> String {
    use base64::Engine as _;
    let json = format!(r#"{{"azure_filesystems": [{}]}}"#, entries.join(","));
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// A running (or failed) `encfs`.
#[derive(Debug)]
pub struct Encfs {
    child: Option<Child>,
    /// Its ready file.
    pub ready: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    stderr: PathBuf,
}

impl Drop for Encfs {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How start-up ended.
#[derive(Debug)]
pub enum Started {
    /// The ready file says `1`.
    Ready,
    /// The process exited before that (status, everything it logged).
    Exited(ExitStatus, String),
}

/// Starts `encfs` with `base64` in the environment, its temporary directories, ready file and
/// logs under `work` (a unique `tag` keeps runs apart).
pub fn start(base64: &str, work: &Path, tag: &str, extra: &[&str]) -> Encfs {
    start_with_env(base64, work, tag, extra, &[])
}

/// As [`start`], with further environment variables.
pub fn start_with_env(
    base64: &str,
    work: &Path,
    tag: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Encfs {
    let ready = work.join(format!("{tag}.ready"));
    let log = work.join(format!("{tag}.log"));
    let stderr = work.join(format!("{tag}.stderr"));
    let tmp = work.join(format!("{tag}.tmp"));
    std::fs::create_dir_all(&tmp).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_encfs"))
        .env("EncfsSideCarArgs", base64)
        .env("TMPDIR", &tmp)
        .arg("-readyfile")
        .arg(&ready)
        .arg("-logfile")
        .arg(&log)
        .args(["-loglevel", "info", "-exposure", "userspace"])
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("encfs starts");
    Encfs {
        child: Some(child),
        ready,
        log,
        stderr,
    }
}

impl Encfs {
    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Logs and standard error so far.
    pub fn output(&self) -> String {
        let mut s = String::new();
        for p in [&self.log, &self.stderr] {
            if let Ok(mut f) = std::fs::File::open(p) {
                let _ = f.read_to_string(&mut s);
            }
        }
        s
    }

    /// Waits until the ready file says `1` or the process exits.
    pub fn wait_started(&mut self, timeout: Duration) -> Started {
        let t0 = Instant::now();
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Started::Exited(status, self.output());
            }
            if std::fs::read(&self.ready).is_ok_and(|r| r == b"1\n") {
                return Started::Ready;
            }
            assert!(
                t0.elapsed() < timeout,
                "encfs neither ready nor exited: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for readiness, failing the test with the logs if it exits instead.
    pub fn ready(mut self) -> Self {
        match self.wait_started(Duration::from_secs(60)) {
            Started::Ready => self,
            Started::Exited(s, out) => panic!("encfs exited ({s}) before ready:\n{out}"),
        }
    }

    /// Expects start-up to fail; returns the exit status and the logs.
    pub fn failed(mut self) -> (ExitStatus, String) {
        match self.wait_started(Duration::from_secs(60)) {
            Started::Ready => panic!("encfs became ready:\n{}", self.output()),
            Started::Exited(s, out) => (s, out),
        }
    }

    /// Sends `signal` and waits for the exit.
    pub fn signal(mut self, signal: i32) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let (_, out) = run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string()));
        assert!(out.trim().is_empty(), "kill: {out}");
        let status = child.wait().unwrap();
        (status, self.output())
    }

    /// SIGTERM: orderly teardown; asserts a zero exit.
    pub fn stop(self) -> String {
        let (s, out) = self.signal(libc::SIGTERM);
        assert!(s.success(), "encfs exited with {s}:\n{out}");
        out
    }
}

/// Runs `cmd`, returning its status and combined output.
pub fn run(cmd: &mut Command) -> (ExitStatus, String) {
    let out = cmd
        .output()
        .expect("command runs (is the package installed?)");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status, s)
}

/// Decrypts `img` (key `[byte; 32]`) to a plain ext4 file and runs `e2fsck -fn` on it.
pub fn fsck(img: &Path, work: &Path, byte: u8) -> (ExitStatus, String) {
    let plain = work.join("fsck.ext4");
    let store = csc_mount::LocalFile::open(img, false).unwrap();
    let (header, vk) = image::open(&store, &key(byte)).unwrap();
    image::decrypt_to(&store, &header, &vk, &plain).unwrap();
    let r = run(Command::new("e2fsck").arg("-fn").arg(&plain));
    std::fs::remove_file(&plain).unwrap();
    r
}

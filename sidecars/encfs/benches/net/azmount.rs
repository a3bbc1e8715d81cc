//! Upstream's azmount as the baseline, deployed as upstream's encfs.sh does after it: the
//! FUSE file azmount serves, a loop device on it, ext4 mounted from that. Upstream puts
//! dm-crypt between the loop device and ext4; this machine's kernel has no device-mapper, so
//! azmount serves a plain ext4 image of the same files and is spared the decryption encfs
//! does (the comparison favours azmount).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Azmount {
    child: Option<Child>,
    stderr: PathBuf,
    fuse_dir: PathBuf,
    dev: Option<String>,
    pub mnt: PathBuf,
}

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn is_fuse_mount(dir: &Path) -> bool {
    let needle = format!(" {} ", dir.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(&needle) && l.contains(" - fuse"))
}

impl Azmount {
    /// Starts `bin` on `url` (TLS roots from `ca`) under `dir`, attaches and mounts; returns
    /// once the filesystem is mounted, with the time that took.
    pub fn start(bin: &Path, url: &str, ca: &Path, dir: &Path, rw: bool) -> (Azmount, Duration) {
        let fuse_dir = dir.join("fuse");
        let mnt = dir.join("mnt");
        std::fs::create_dir_all(&fuse_dir).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        let t0 = Instant::now();
        let child = Command::new(bin)
            .arg("-mountpoint")
            .arg(&fuse_dir)
            .args(["-url", url, "-loglevel", "info", "-readWrite"])
            .arg(if rw { "true" } else { "false" })
            .arg("-logfile")
            .arg(dir.join("azmount.log"))
            .env("SSL_CERT_FILE", ca)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("azmount.stderr")).unwrap())
            .spawn()
            .expect("azmount starts");
        let mut me = Azmount {
            child: Some(child),
            stderr: dir.join("azmount.stderr"),
            fuse_dir,
            dev: None,
            mnt,
        };
        while !is_fuse_mount(&me.fuse_dir) {
            if let Some(status) = me.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "azmount exited ({status}): {}",
                    std::fs::read_to_string(dir.join("azmount.log")).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "azmount did not mount"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let data = me.fuse_dir.join("data");
        let mut losetup = Command::new("losetup");
        losetup.args(["-f", "--show"]);
        if !rw {
            losetup.arg("-r");
        }
        me.dev = Some(sh(losetup.arg(&data)));
        let mut mount = Command::new("mount");
        mount.args(["-t", "ext4"]);
        if !rw {
            mount.args(["-o", "ro"]);
        }
        let out = mount
            .arg(me.dev.as_ref().unwrap())
            .arg(&me.mnt)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting ext4 from azmount's file failed: {}\nazmount's log:\n{}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("azmount.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("azmount.stderr")).unwrap_or_default()
        );
        let took = t0.elapsed();
        (me, took)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Unmounts ext4, detaches the loop device and unmounts the FUSE file (azmount then
    /// exits); prints what azmount wrote to standard error, if anything (its panics).
    pub fn stop(mut self) {
        self.teardown();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        if !err.trim().is_empty() {
            eprintln!("azmount's standard error:\n{err}");
        }
    }

    fn teardown(&mut self) {
        if self.dev.is_some() {
            let _ = Command::new("umount").arg(&self.mnt).status();
        }
        if let Some(dev) = self.dev.take() {
            let _ = Command::new("losetup").arg("-d").arg(&dev).status();
            // The kernel lets go of the FUSE file once the device is really detached.
            let backing = format!(
                "/sys/block/{}/loop/backing_file",
                dev.trim_start_matches("/dev/")
            );
            let t0 = Instant::now();
            while Path::new(&backing).exists() && t0.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if let Some(mut child) = self.child.take() {
            let t0 = Instant::now();
            while is_fuse_mount(&self.fuse_dir) && t0.elapsed() < Duration::from_secs(10) {
                let quiet = Command::new("umount")
                    .arg(&self.fuse_dir)
                    .stderr(Stdio::null())
                    .status();
                if quiet.is_ok_and(|s| s.success()) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if is_fuse_mount(&self.fuse_dir) {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&self.fuse_dir)
                    .status();
            }
            let t0 = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && t0.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Azmount {
    fn drop(&mut self) {
        self.teardown();
    }
}

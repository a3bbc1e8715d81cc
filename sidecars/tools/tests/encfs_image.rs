//! `encfs-image` driven as a real binary: create and check images, and the crash test of the
//! read-write mount: write and fsync, `kill -9` the process holding the mount, clean up what the
//! kernel kept, remount, find every fsync'd byte, and `e2fsck -fn` clean. Runs as root.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use csc_mount::{LocalFile, Passphrase, image};

const BIN: &str = env!("CARGO_BIN_EXE_encfs-image");

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Fixture {
    t: tempfile::TempDir,
    children: std::cell::RefCell<Vec<u32>>,
}

impl Drop for Fixture {
    /// After a failed assertion: end our mount processes and clear their mounts, so that a
    /// failing test leaves nothing behind either.
    fn drop(&mut self) {
        for pid in self.children.borrow().iter() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        for m in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

impl Fixture {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("tree/docs")).unwrap();
        std::fs::write(t.path().join("tree/test.txt"), b"hello from the image\n").unwrap();
        std::fs::write(t.path().join("tree/docs/log.txt"), b"line 1\n").unwrap();
        std::fs::write(t.path().join("key.bin"), [0x11u8; 32]).unwrap();
        std::fs::create_dir_all(t.path().join("pub")).unwrap();
        std::fs::create_dir_all(t.path().join("work")).unwrap();
        Self {
            t,
            children: Default::default(),
        }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    fn create(&self) -> PathBuf {
        let img = self.p("image.luks");
        let out = run_ok(
            Command::new(BIN)
                .args(["create", "--size", "40M", "--dir"])
                .arg(self.p("tree"))
                .arg("--key-file")
                .arg(self.p("key.bin"))
                .arg("--out")
                .arg(&img),
        );
        assert!(
            out.contains("LUKS2 aes-xts-plain64, 4096-byte sectors"),
            "{out}"
        );
        img
    }
    fn spawn_mount(&self, img: &Path, rw: bool) -> Child {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "mount",
            "--exposure",
            "userspace",
            "--name",
            "crash",
            "--image",
        ])
        .arg(img)
        .arg("--key-file")
        .arg(self.p("key.bin"))
        .arg("--mount-point")
        .arg(self.p("pub/fs"))
        .env("TMPDIR", self.p("work"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if rw {
            cmd.arg("--read-write");
        }
        let mut child = cmd.spawn().unwrap();
        self.children.borrow_mut().push(child.id());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        if !line.starts_with("ready ") {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "mount did not become ready: {line:?} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child
    }
    /// Mount table entries under the fixture, deepest first.
    fn mounts(&self) -> Vec<String> {
        let root = self.t.path().to_string_lossy().to_string();
        let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|m| m.starts_with(&root))
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse(m.len()));
        v
    }
}

fn sigterm(child: &mut Child) {
    let pid = child.id().to_string();
    run_ok(Command::new("kill").args(["-TERM", &pid]));
}

#[test]
fn create_and_check() {
    let f = Fixture::new();
    let img = f.create();
    let out = run_ok(
        Command::new(BIN)
            .args(["check", "--image"])
            .arg(&img)
            .arg("--key-file")
            .arg(f.p("key.bin")),
    );
    assert!(out.starts_with("ok: LUKS2"), "{out}");
    std::fs::write(f.p("wrong.bin"), [0x12u8; 32]).unwrap();
    let out = Command::new(BIN)
        .args(["check", "--image"])
        .arg(&img)
        .arg("--key-file")
        .arg(f.p("wrong.bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no keyslot opened with this key"));
}

#[test]
fn existing_mount_point_fails_with_nothing_mounted() {
    let f = Fixture::new();
    let img = f.create();
    std::os::unix::fs::symlink("elsewhere", f.p("pub/fs")).unwrap();
    let out = Command::new(BIN)
        .args(["mount", "--image"])
        .arg(&img)
        .arg("--key-file")
        .arg(f.p("key.bin"))
        .arg("--mount-point")
        .arg(f.p("pub/fs"))
        .env("TMPDIR", f.p("work"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(f.mounts(), Vec::<String>::new());
}

#[test]
fn kill_9_loses_no_fsynced_byte() {
    let f = Fixture::new();
    let img = f.create();
    let mut child = f.spawn_mount(&img, true);
    let fs = f.p("pub/fs");
    let mut synced: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for i in 0..6u32 {
        let data: Vec<u8> = (0..(150_000 + i * 77_777))
            .map(|j| (j ^ (i * 131)) as u8)
            .collect();
        let name = PathBuf::from(format!("synced-{i}.bin"));
        let mut file = std::fs::File::create(fs.join(&name)).unwrap();
        file.write_all(&data).unwrap();
        file.sync_all().unwrap();
        synced.push((name, data));
    }
    {
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(fs.join("docs/log.txt"))
            .unwrap();
        log.write_all(b"line 2\n").unwrap();
        log.sync_all().unwrap();
        std::fs::File::open(fs.join("docs"))
            .unwrap()
            .sync_all()
            .unwrap();
        synced.push((PathBuf::from("docs/log.txt"), b"line 1\nline 2\n".to_vec()));
    }
    // Unsynced data may be lost; it must not corrupt anything.
    std::fs::write(fs.join("unsynced.bin"), vec![9u8; 300_000]).unwrap();

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The kernel keeps the ext4 mount (now failing) and the dead FUSE mount: clear them.
    for m in f.mounts() {
        run_ok(Command::new("umount").arg("-l").arg(&m));
    }
    std::fs::remove_file(&fs).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let mut child = f.spawn_mount(&img, true);
    for (name, data) in &synced {
        assert_eq!(
            &std::fs::read(fs.join(name)).unwrap(),
            data,
            "{}",
            name.display()
        );
    }
    assert_eq!(
        std::fs::read(fs.join("test.txt")).unwrap(),
        b"hello from the image\n"
    );
    sigterm(&mut child);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f.mounts(), Vec::<String>::new());
    assert!(std::fs::symlink_metadata(&fs).is_err());

    let store = LocalFile::open(&img, false).unwrap();
    let pass = Passphrase::from_file(&f.p("key.bin")).unwrap();
    let (header, key) = image::open(&store, &pass).unwrap();
    image::decrypt_to(&store, &header, &key, &f.p("plain.ext4")).unwrap();
    let out = Command::new("e2fsck")
        .arg("-fn")
        .arg(f.p("plain.ext4"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "e2fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

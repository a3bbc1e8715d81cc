//! Evidence that the core's unwrap is constant-time: exact instruction counts (valgrind
//! callgrind, counting only inside one probe function) for inputs that differ only in secret
//! properties must be identical.
//!
//! - RSA-OAEP with the core's RSA-2048 key: every kind of invalid padding (leading byte, label
//!   hash, a stray byte before the separator, no separator, a random block) costs exactly the
//!   same number of instructions, and so do valid messages of the same length with different
//!   contents and different blinding seeds. Valid and invalid differ only after the single
//!   validity bit has been revealed (the message copy).
//! - AES-KWP unwrap with the core's key wrap over the `aes` crate: wrong KEK, wrong length indicator and bad
//!   padding all cost the same.
//!
//! For comparison (docs/ARCHITECTURE.md, "Key wrap"), the `aes-kw` crate's KWP unwrap runs on
//! the same AES-KWP inputs: its invalid inputs do not all cost the same, because its integrity
//! checks return early. That part asserts the difference, so that a change in aes-kw is noticed.
//!
//! Instruction counts do not show cache-timing leaks; the code has no secret-dependent memory
//! indices by construction (tables are scanned whole). This is a test harness of its own
//! (`harness = false`): the parent runs itself under valgrind once per input class, the child
//! (`--probe CLASS DIR`) runs one operation. valgrind is installed by ci/setup.sh.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use csc_core::keywrap::{Kek, KeyWrapError, Mode, aes_kw};
use csc_core::rsa::oaep::{OaepDecrypt, OaepHash};
use csc_core::rsa::private::RsaPrivateKey;
use csc_core::secret::BlindingSeed;
use openssl::rsa::{Padding, Rsa};
use sha2::Digest;

const PEM: &[u8] = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");
const KEK: [u8; 32] = [0x21; 32];

/// One RSA-OAEP decryption with the core key (what callgrind counts).
#[inline(never)]
fn probe_rsa_oaep(key: &RsaPrivateKey, ct: &[u8], seed: &BlindingSeed, out: &mut [u8]) -> bool {
    key.decrypt_oaep(OaepHash::Sha1, ct, seed, out).is_ok()
}

/// One AES-KWP unwrap with the core's AES, key schedule included.
#[inline(never)]
fn probe_kwp(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> Result<usize, KeyWrapError> {
    let k = Kek::new(kek)?;
    aes_kw::unwrap(&k, Mode::Kwp, wrapped, out).map(<[u8]>::len)
}

/// One AES-KWP unwrap with the `aes-kw` crate (for comparison only).
#[inline(never)]
fn probe_aes_kw_crate(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> bool {
    use ::aes_kw::KeyInit;
    ::aes_kw::KwpAes256::new_from_slice(kek)
        .map(|k| k.unwrap_key(wrapped, out).is_ok())
        .unwrap_or(false)
}

fn core_key() -> RsaPrivateKey {
    RsaPrivateKey::from_pem_or_der(PEM, &mut [0u8; 2048]).unwrap()
}

/// An OAEP-SHA1 encoding of `msg` with `seed`, changed by `damage` (positions in the plain
/// encoding), masked, then encrypted with textbook RSA (OpenSSL, no padding).
fn rsa_input(msg: &[u8], seed: &[u8; 20], damage: impl Fn(&mut [u8])) -> Vec<u8> {
    let (k, h) = (256, 20);
    let mut em = vec![0u8; k];
    em[1..1 + h].copy_from_slice(seed);
    {
        let db = &mut em[1 + h..];
        db[..h].copy_from_slice(&sha1::Sha1::digest([]));
        let sep = db.len() - msg.len() - 1;
        db[sep] = 1;
        db[sep + 1..].copy_from_slice(msg);
    }
    damage(&mut em);
    let (seed_part, db) = em[1..].split_at_mut(h);
    xor_mgf1(seed_part, db);
    xor_mgf1(db, seed_part);
    let rsa = Rsa::private_key_from_pem(PEM).unwrap();
    let public =
        Rsa::from_public_components(rsa.n().to_owned().unwrap(), rsa.e().to_owned().unwrap())
            .unwrap();
    let mut ct = vec![0u8; k];
    public.public_encrypt(&em, &mut ct, Padding::NONE).unwrap();
    ct
}

fn xor_mgf1(seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(20)) {
        let mut h = sha1::Sha1::new();
        h.update(seed);
        h.update(counter.to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize()) {
            *o ^= m;
        }
    }
}

/// RFC 3394 wrapping with a chosen initial value (to build KWP inputs with a wrong length
/// indicator or bad padding that still pass the AIV check).
fn raw_wrap(kek: &[u8], iv: [u8; 8], data: &[u8]) -> Vec<u8> {
    use csc_core::keywrap::BlockCipher;
    let c = Kek::new(kek).unwrap();
    let n = data.len() / 8;
    let mut a = iv;
    let mut r: Vec<[u8; 8]> = data.chunks(8).map(|c| c.try_into().unwrap()).collect();
    for j in 0..6u64 {
        for (i, ri) in r.iter_mut().enumerate() {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&a);
            b[8..].copy_from_slice(ri);
            let mut blk = b;
            c.encrypt_block(&mut blk);
            let t = (n as u64) * j + i as u64 + 1;
            a.copy_from_slice(&blk[..8]);
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            ri.copy_from_slice(&blk[8..]);
        }
    }
    let mut out = a.to_vec();
    for ri in r {
        out.extend_from_slice(&ri);
    }
    out
}

fn aiv(mli: u32) -> [u8; 8] {
    let mut a = [0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 0];
    a[4..].copy_from_slice(&mli.to_be_bytes());
    a
}

/// Writes every class's input to `dir`: `rsa-*` are ciphertexts, `kwp-*` wrapped keys.
fn write_inputs(dir: &Path) -> Vec<(String, bool)> {
    let m1 = [0x11u8; 32];
    let m2: [u8; 32] = core::array::from_fn(|i| (i * 37) as u8);
    let none = |_: &mut [u8]| {};
    let rsa: Vec<(&str, Vec<u8>, bool)> = vec![
        ("rsa-valid-a", rsa_input(&m1, &[1; 20], none), true),
        ("rsa-valid-b", rsa_input(&m2, &[2; 20], none), true),
        (
            "rsa-bad-leading-byte",
            rsa_input(&m1, &[3; 20], |e| e[0] = 1),
            false,
        ),
        (
            "rsa-bad-label-hash",
            rsa_input(&m1, &[4; 20], |e| e[21] ^= 0x40),
            false,
        ),
        (
            "rsa-bad-ps-byte",
            rsa_input(&m1, &[5; 20], |e| e[100] = 7),
            false,
        ),
        (
            "rsa-no-separator",
            rsa_input(&m1, &[6; 20], |e| {
                let sep = 256 - 32 - 1;
                e[sep] = 0;
            }),
            false,
        ),
        (
            "rsa-random-block",
            {
                let mut ct = rsa_input(&m1, &[7; 20], none);
                ct[0] = 0x3a;
                ct[200] ^= 0x99;
                ct
            },
            false,
        ),
    ];
    let key = [0x5Au8; 32];
    let good = {
        let mut out = vec![0u8; 48];
        let n = aes_kw::wrap(&Kek::new(&KEK).unwrap(), Mode::Kwp, &key, &mut out)
            .unwrap()
            .len();
        out.truncate(n);
        out
    };
    let mut bad_pad = key.to_vec();
    bad_pad.truncate(30);
    bad_pad.extend_from_slice(&[0, 9]);
    let kwp: Vec<(&str, Vec<u8>, bool)> = vec![
        ("kwp-valid", good.clone(), true),
        ("kwp-wrong-kek", raw_wrap(&[0x22; 32], aiv(32), &key), false),
        (
            "kwp-bad-length-indicator",
            raw_wrap(&KEK, aiv(20), &key),
            false,
        ),
        ("kwp-bad-padding", raw_wrap(&KEK, aiv(30), &bad_pad), false),
    ];
    rsa.into_iter()
        .chain(kwp)
        .map(|(name, bytes, valid)| {
            std::fs::write(dir.join(name), bytes).unwrap();
            (name.to_string(), valid)
        })
        .collect()
}

fn child(class: &str, dir: &Path) {
    let mut out = [0u8; 256];
    if let Some(kwp_class) = class.strip_prefix("aes-kw-crate-") {
        let input = std::fs::read(dir.join(kwp_class)).unwrap();
        let ok = probe_aes_kw_crate(&KEK, &input, &mut out);
        assert_eq!(ok, kwp_class == "kwp-valid", "{class}");
        return;
    }
    let input = std::fs::read(dir.join(class)).unwrap();
    if class.starts_with("rsa-") {
        let key = core_key();
        // The seed changes with the class: the count must not depend on the blinding either.
        let seed = BlindingSeed::new(sha2::Sha256::digest(class.as_bytes()).into());
        let ok = probe_rsa_oaep(&key, &input, &seed, &mut out);
        assert_eq!(ok, class.contains("valid-"), "{class}");
    } else {
        let r = probe_kwp(&KEK, &input, &mut out);
        assert_eq!(r.is_ok(), class == "kwp-valid", "{class}: {r:?}");
    }
}

fn instructions(exe: &Path, class: &str, dir: &Path, probe: &str) -> u64 {
    let out_file = dir.join(format!("callgrind.{class}"));
    // Without address-space randomisation (setarch -R): where the stack and heap start changes
    // the alignment of buffers, and with it the path memcpy takes, by a few instructions.
    let status = Command::new("setarch")
        .args([std::env::consts::ARCH, "-R", "valgrind"])
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(format!("--toggle-collect=*{probe}*"))
        .arg(exe)
        .args(["--probe", class])
        .arg(dir)
        .output()
        .expect("valgrind is required for this test (ci/setup.sh installs it)");
    assert!(
        status.status.success(),
        "{class}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::fs::read_to_string(&out_file).unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{class}: no totals in callgrind output"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--probe") {
        child(&args[pos + 1], Path::new(&args[pos + 2]));
        return;
    }
    let exe = PathBuf::from(&args[0]);
    let dir = std::env::temp_dir().join(format!("csc-ct-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let classes = write_inputs(&dir);
    let mut counts: BTreeMap<(bool, bool), Vec<(String, u64)>> = BTreeMap::new();
    for (class, valid) in &classes {
        let rsa = class.starts_with("rsa-");
        let probe = if rsa { "probe_rsa_oaep" } else { "probe_kwp" };
        let n = instructions(&exe, class, &dir, probe);
        println!("{class:28} {n:>12} instructions");
        // A probe that was not found (stripped or renamed symbol) counts nothing: that must fail,
        // not pass.
        let floor = if rsa { 1_000_000 } else { 10_000 };
        assert!(
            n > floor,
            "{class}: only {n} instructions counted in {probe}; is the binary stripped? (for --release run with CARGO_PROFILE_RELEASE_STRIP=none)"
        );
        counts
            .entry((rsa, *valid))
            .or_default()
            .push((class.clone(), n));
    }
    // The aes-kw crate on the same KWP inputs.
    let mut crate_counts = Vec::new();
    for (class, valid) in classes.iter().filter(|(c, _)| c.starts_with("kwp-")) {
        let name = format!("aes-kw-crate-{class}");
        let n = instructions(&exe, &name, &dir, "probe_aes_kw_crate");
        println!("{name:28} {n:>12} instructions");
        assert!(n > 1_000, "{name}: only {n} instructions counted");
        if !valid {
            crate_counts.push(n);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        crate_counts.iter().any(|n| *n != crate_counts[0]),
        "aes-kw's KWP unwrap now costs the same for every invalid input: re-evaluate \
         docs/ARCHITECTURE.md (Key wrap)"
    );
    println!("aes-kw crate, invalid KWP inputs: {crate_counts:?} instructions (not constant-time)");
    let mut failed = false;
    for ((rsa, valid), list) in &counts {
        let first = list[0].1;
        let same = list.iter().all(|(_, n)| *n == first);
        let what = format!(
            "{} {}",
            if *rsa { "RSA-OAEP" } else { "AES-KWP" },
            if *valid {
                "valid inputs"
            } else {
                "invalid inputs"
            }
        );
        if list.len() > 1 {
            println!(
                "{what}: {} classes, {}",
                list.len(),
                if same {
                    "identical instruction counts"
                } else {
                    "DIFFERENT instruction counts"
                }
            );
        }
        failed |= !same;
    }
    for rsa in [true, false] {
        if let (Some(v), Some(i)) = (counts.get(&(rsa, true)), counts.get(&(rsa, false))) {
            println!(
                "{}: valid - invalid = {} instructions (work done after the one validity bit is known)",
                if rsa { "RSA-OAEP" } else { "AES-KWP" },
                v[0].1 as i64 - i[0].1 as i64
            );
        }
    }
    assert!(!failed, "instruction counts depend on secret data");
    println!("test constant_time ... ok");
}

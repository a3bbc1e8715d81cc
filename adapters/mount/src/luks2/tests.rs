//! Property tests of the header parser: every header we write parses and unlocks, any single
//! flipped byte in either copy is refused, arbitrary bytes never panic, and keyslot / segment
//! placement is accepted exactly when it lies inside the areas the format allows.

use proptest::prelude::*;
use serde_json::Value;
use zeroize::Zeroizing;

use super::hash::sha256;
use super::layout::{BINARY_SIZE, field};
use super::*;
use crate::store::{BlockStore, StoreError, Version};

const HDR: usize = 0x4000;

#[derive(Debug)]
struct Mem(Vec<u8>);

impl BlockStore for Mem {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn version(&self) -> Option<Version> {
        None
    }
    fn writable(&self) -> bool {
        false
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let s = self
            .0
            .get(offset as usize..offset as usize + buf.len())
            .ok_or(StoreError::ReadOnly)?;
        buf.copy_from_slice(s);
        Ok(())
    }
    fn write_at(
        &self,
        _: u64,
        _: &[u8],
        _: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        Err(StoreError::ReadOnly)
    }
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn pass() -> Passphrase {
    Passphrase::new(Zeroizing::new(b"correct horse".to_vec()))
}

/// A formatted image: metadata plus 1 MiB of data.
fn base_image() -> &'static Vec<u8> {
    static IMG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMG.get_or_init(|| {
        let key = VolumeKey::random(64).unwrap();
        let mut img = format_metadata(&key, &pass(), &FormatParams::default()).unwrap();
        img.resize(img.len() + (1 << 20), 0);
        img
    })
}

/// Replaces the JSON of both copies and recomputes their checksums.
fn with_json(img: &[u8], edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut img = img.to_vec();
    let area = &img[BINARY_SIZE..HDR];
    let end = area.iter().position(|b| *b == 0).unwrap();
    let mut v: Value = serde_json::from_slice(&area[..end]).unwrap();
    edit(&mut v);
    let text = v.to_string();
    for copy in 0..2 {
        let hdr = &mut img[copy * HDR..(copy + 1) * HDR];
        hdr[BINARY_SIZE..].fill(0);
        hdr[BINARY_SIZE..BINARY_SIZE + text.len()].copy_from_slice(text.as_bytes());
        hdr[field::CSUM.0..field::CSUM.0 + field::CSUM.1].fill(0);
        let sum = sha256(&[hdr]);
        hdr[field::CSUM.0..field::CSUM.0 + 32].copy_from_slice(&sum);
    }
    img
}

#[test]
fn written_header_parses_and_unlocks() {
    let img = base_image();
    let h = Luks2Header::parse(img, img.len() as u64).unwrap();
    assert_eq!(h.segment.sector_size, 4096);
    assert_eq!(h.segment.offset, 16 << 20);
    assert_eq!(h.data_size, 1 << 20);
    assert_eq!(h.keyslots.len(), 1);
    let mem = Mem(img.clone());
    let key = h.unlock(&mem, &pass()).unwrap();
    assert!(h.verify_key(key.expose()));
    let wrong = Passphrase::new(Zeroizing::new(b"wrong".to_vec()));
    assert!(matches!(
        h.unlock(&mem, &wrong),
        Err(UnlockError::WrongKey { tried: 1 })
    ));
    assert!(format!("{key:?}").contains("hidden"));
}

#[test]
fn refuses_what_upstream_images_never_use() {
    let img = base_image();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "cipher_null",
            Box::new(|v| v["segments"]["0"]["encryption"] = "cipher_null-ecb".into()),
        ),
        (
            "aes-cbc",
            Box::new(|v| v["segments"]["0"]["encryption"] = "aes-cbc-essiv:sha256".into()),
        ),
        (
            "sector 1024",
            Box::new(|v| v["segments"]["0"]["sector_size"] = 1024.into()),
        ),
        (
            "256-bit key",
            Box::new(|v| v["keyslots"]["0"]["key_size"] = 32.into()),
        ),
        (
            "argon2i",
            Box::new(|v| v["keyslots"]["0"]["kdf"]["type"] = "argon2i".into()),
        ),
        (
            "whirlpool",
            Box::new(|v| v["keyslots"]["0"]["kdf"]["hash"] = "whirlpool".into()),
        ),
        (
            "integrity",
            Box::new(|v| {
                v["segments"]["0"]["integrity"] = serde_json::json!({"type": "hmac(sha256)"})
            }),
        ),
        (
            "token",
            Box::new(|v| v["tokens"]["0"] = serde_json::json!({"type": "luks2-keyring"})),
        ),
        (
            "two segments",
            Box::new(|v| v["segments"]["1"] = v["segments"]["0"].clone()),
        ),
        (
            "reencrypt",
            Box::new(|v| {
                v["config"]["requirements"] = serde_json::json!({"mandatory": ["online-reencrypt"]})
            }),
        ),
        (
            "unbound slot",
            Box::new(|v| v["digests"]["0"]["keyslots"] = serde_json::json!([])),
        ),
        (
            "huge iterations",
            Box::new(|v| v["keyslots"]["0"]["kdf"]["iterations"] = 4_000_000_000u64.into()),
        ),
        (
            "unknown field",
            Box::new(|v| v["segments"]["0"]["extra"] = 1.into()),
        ),
        (
            "json_size",
            Box::new(|v| v["config"]["json_size"] = "4096".into()),
        ),
    ];
    for (name, edit) in cases {
        let bad = with_json(img, edit);
        let err = Luks2Header::parse(&bad, bad.len() as u64).unwrap_err();
        assert!(
            matches!(
                err,
                HeaderError::Field { .. } | HeaderError::OutOfBounds { .. }
            ),
            "{name}: {err}"
        );
    }
    // The unchanged JSON through the same rewrite still parses.
    let same = with_json(img, |_| {});
    Luks2Header::parse(&same, same.len() as u64).unwrap();
}

#[test]
fn a_data_offset_without_room_for_the_keyslot_is_refused() {
    let key = VolumeKey::random(64).unwrap();
    for data_offset in [0, 0x8000, 0x8000 + 4096] {
        let params = FormatParams {
            data_offset,
            ..FormatParams::default()
        };
        assert!(matches!(
            format_metadata(&key, &pass(), &params),
            Err(FormatError::DataOffset { .. })
        ));
    }
}

#[test]
fn copies_must_agree() {
    let img = base_image();
    let mut bad = with_json(img, |_| {});
    // Rewrite only the secondary with a different (valid) JSON.
    let other = with_json(img, |v| v["keyslots"]["0"]["priority"] = 2.into());
    bad[HDR..2 * HDR].copy_from_slice(&other[HDR..2 * HDR]);
    let err = Luks2Header::parse(&bad, bad.len() as u64).unwrap_err();
    assert_eq!(err, HeaderError::CopiesDiffer { field: "JSON area" });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_flipped_header_byte_is_refused(pos in 0usize..2 * HDR, bit in 0u8..8) {
        let mut img = base_image().clone();
        img[pos] ^= 1 << bit;
        prop_assert!(Luks2Header::parse(&img, img.len() as u64).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40_000), size in any::<u64>()) {
        let _ = Luks2Header::parse(&data, size);
    }

    #[test]
    fn truncation_is_refused(len in 0usize..2 * HDR) {
        let img = base_image();
        prop_assert!(Luks2Header::parse(&img[..len], len as u64).is_err());
    }

    #[test]
    fn placement_is_accepted_exactly_inside_bounds(
        area_off in prop_oneof![Just(32768u64), 0u64..20_000_000],
        area_size in prop_oneof![Just(258_048u64), 0u64..20_000_000],
        seg_off in prop_oneof![Just(16u64 << 20), 0u64..20_000_000],
    ) {
        let img = base_image();
        let image_size = img.len() as u64;
        let bad = with_json(img, |v| {
            v["keyslots"]["0"]["area"]["offset"] = area_off.to_string().into();
            v["keyslots"]["0"]["area"]["size"] = area_size.to_string().into();
            v["segments"]["0"]["offset"] = seg_off.to_string().into();
        });
        let keyslots_end = 16u64 << 20; // 2 * hdr_size + keyslots_size
        let expect_ok = area_off >= 32768
            && area_off % 4096 == 0
            && area_size >= 256_000
            && area_off + area_size <= keyslots_end
            && area_off + area_size <= seg_off
            && seg_off >= keyslots_end
            && seg_off % 4096 == 0
            && seg_off < image_size;
        let got = Luks2Header::parse(&bad, image_size);
        prop_assert_eq!(got.is_ok(), expect_ok, "{:?}", got.err());
    }
}

//! JWK and JWK-set rendering into caller buffers, byte for byte as upstream renders them (jwx
//! v1: members sorted by name, no white space, base64url without padding, integers as minimal
//! big-endian bytes, EC coordinates and scalar padded to the curve size).
//!
//! - [`render_public_jwk_set`]: the runtime data of SKR's attestation,
//!   `{"keys":[{"e","key_ops":["encrypt"],"kid","kty":"RSA","n"}]}` with the RFC 7638 SHA-256
//!   thumbprint as `kid`. Its SHA-256 goes into REPORT_DATA, so one byte of difference breaks
//!   attestation.
//! - [`render_released_key`]: a released key as a private JWK: oct `{"k","key_ops","kty"}`, RSA
//!   `{"d","dp","dq","e","key_ops","kty","n","p","q","qi"}`, EC
//!   `{"crv","d","key_ops","kty","x","y"}`; `key_ops` only when non-empty, and only the eight
//!   operations jwx accepts (any other makes the rendering fail, as it fails upstream).
//!
//! A private JWK is as secret as the key: callers render it into a buffer they wipe. On error
//! these functions wipe the whole buffer.

use core::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::base64::{self, Alphabet, Base64};
use crate::json::JsonWriter;
use crate::private_key::KeyError;
use crate::private_key::pkcs8::{self, EcPrivateKeyDer, PrivateKeyDer};
use crate::rsa::oaep::RsaPublicParts;
use crate::rsa::pkcs1::RsaPrivateKeyDer;
use crate::rsa::private::RsaPrivateKey;

/// Enough for the public JWK set of an RSA-4096 key.
pub const PUBLIC_JWK_SET_CAPACITY: usize = 1024;
/// Enough for the private JWK of an RSA-4096 key with all eight key_ops.
pub const PRIVATE_JWK_CAPACITY: usize = 4096;
/// Length of a `kid` (base64url of a SHA-256 digest).
pub const KID_LEN: usize = 43;
/// Most key_ops entries a [`KeyOps`] holds.
pub const MAX_KEY_OPS: usize = 16;

/// Why a JWK could not be rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkError {
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the buffer has.
        capacity: usize,
    },
    /// A key operation jwx does not accept (`sign`, `verify`, `encrypt`, `decrypt`, `wrapKey`,
    /// `unwrapKey`, `deriveKey`, `deriveBits`).
    KeyOp {
        /// Position in the list given.
        index: usize,
    },
    /// More than [`MAX_KEY_OPS`] key operations.
    TooManyKeyOps,
    /// A `kty` other than oct, oct-HSM, RSA, RSA-HSM, EC, EC-HSM.
    KeyType,
    /// An empty symmetric key.
    EmptyKey,
    /// The released key bytes are not a key of the stated type.
    Key(KeyError),
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            JwkError::BufferTooSmall { capacity } => {
                write!(f, "JWK does not fit in {capacity} bytes")
            }
            JwkError::KeyOp { index } => write!(
                f,
                "key_ops[{index}] is not one of sign, verify, encrypt, decrypt, wrapKey, unwrapKey, deriveKey, deriveBits"
            ),
            JwkError::TooManyKeyOps => write!(f, "more than {MAX_KEY_OPS} key_ops"),
            JwkError::KeyType => f.write_str("released key type is not oct, RSA or EC"),
            JwkError::EmptyKey => f.write_str("symmetric key is empty"),
            JwkError::Key(e) => write!(f, "released key: {e}"),
        }
    }
}

impl core::error::Error for JwkError {}

impl From<KeyError> for JwkError {
    fn from(e: KeyError) -> Self {
        JwkError::Key(e)
    }
}

/// The key operations of RFC 7517 section 4.3 (the ones jwx accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    /// `sign`
    Sign,
    /// `verify`
    Verify,
    /// `encrypt`
    Encrypt,
    /// `decrypt`
    Decrypt,
    /// `wrapKey`
    WrapKey,
    /// `unwrapKey`
    UnwrapKey,
    /// `deriveKey`
    DeriveKey,
    /// `deriveBits`
    DeriveBits,
}

impl KeyOp {
    const ALL: [KeyOp; 8] = [
        KeyOp::Sign,
        KeyOp::Verify,
        KeyOp::Encrypt,
        KeyOp::Decrypt,
        KeyOp::WrapKey,
        KeyOp::UnwrapKey,
        KeyOp::DeriveKey,
        KeyOp::DeriveBits,
    ];

    /// The operation with this exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The JSON name.
    pub const fn name(self) -> &'static str {
        match self {
            KeyOp::Sign => "sign",
            KeyOp::Verify => "verify",
            KeyOp::Encrypt => "encrypt",
            KeyOp::Decrypt => "decrypt",
            KeyOp::WrapKey => "wrapKey",
            KeyOp::UnwrapKey => "unwrapKey",
            KeyOp::DeriveKey => "deriveKey",
            KeyOp::DeriveBits => "deriveBits",
        }
    }
}

/// An ordered list of key operations, kept as given (jwx keeps order and duplicates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOps {
    ops: [KeyOp; MAX_KEY_OPS],
    len: usize,
}

impl Default for KeyOps {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyOps {
    /// No operations (`key_ops` is then left out).
    pub const fn new() -> Self {
        KeyOps {
            ops: [KeyOp::Sign; MAX_KEY_OPS],
            len: 0,
        }
    }

    /// Parses names in order, failing on the first one jwx would refuse.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, JwkError> {
        let mut ops = Self::new();
        for (index, name) in names.into_iter().enumerate() {
            ops.push(KeyOp::from_name(name).ok_or(JwkError::KeyOp { index })?)?;
        }
        Ok(ops)
    }

    /// Appends one operation.
    pub fn push(&mut self, op: KeyOp) -> Result<(), JwkError> {
        let slot = self.ops.get_mut(self.len).ok_or(JwkError::TooManyKeyOps)?;
        *slot = op;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// The operations.
    pub fn as_slice(&self) -> &[KeyOp] {
        self.ops.get(..self.len).unwrap_or(&[])
    }
}

/// What a release's `kty` says the key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleasedKeyType {
    /// `oct`, `oct-HSM`: raw symmetric key bytes.
    Oct,
    /// `RSA`, `RSA-HSM`: PKCS#8 DER.
    Rsa,
    /// `EC`, `EC-HSM`: PKCS#8 DER.
    Ec,
}

impl ReleasedKeyType {
    /// Maps a Key Vault `kty` (exact match, as upstream).
    pub fn from_kty(kty: &str) -> Option<Self> {
        match kty {
            "oct" | "oct-HSM" => Some(ReleasedKeyType::Oct),
            "RSA" | "RSA-HSM" => Some(ReleasedKeyType::Rsa),
            "EC" | "EC-HSM" => Some(ReleasedKeyType::Ec),
            _ => None,
        }
    }
}

struct HashWriter(Sha256);

impl fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// The RFC 7638 SHA-256 thumbprint of an RSA public key: SHA-256 of
/// `{"e":"<e>","kty":"RSA","n":"<n>"}`.
pub fn rsa_thumbprint(public: RsaPublicParts<'_>) -> [u8; 32] {
    let mut h = HashWriter(Sha256::new());
    let _ = fmt::write(
        &mut h,
        format_args!(
            "{{\"e\":\"{}\",\"kty\":\"RSA\",\"n\":\"{}\"}}",
            Base64(public.e, Alphabet::UrlSafeNoPad),
            Base64(public.n, Alphabet::UrlSafeNoPad)
        ),
    );
    h.0.finalize().into()
}

/// Writes `bytes` as a base64url (no padding) string value, wiping the staging buffer.
fn b64_value(w: &mut JsonWriter<'_>, bytes: &[u8]) {
    let mut stage = [0u8; 64];
    w.raw(b"\"");
    // 48 input bytes are exactly 64 characters, so only the last chunk can be short.
    for chunk in bytes.chunks(48) {
        if let Some(s) = base64::encode_into(chunk, Alphabet::UrlSafeNoPad, &mut stage) {
            w.raw(s.as_bytes());
        }
    }
    stage.zeroize();
    w.raw(b"\"");
}

fn b64_member(w: &mut JsonWriter<'_>, name: &str, bytes: &[u8]) {
    w.key(name);
    b64_value(w, bytes);
}

fn key_ops_member(w: &mut JsonWriter<'_>, ops: &[KeyOp]) {
    if ops.is_empty() {
        return;
    }
    w.key("key_ops");
    w.begin_array();
    for op in ops {
        w.element();
        w.string(op.name());
    }
    w.end_array();
}

/// Finishes a rendering: the text on success, a wiped buffer and an error otherwise.
fn finish(
    out: &mut [u8],
    render: impl FnOnce(&mut JsonWriter<'_>) -> Result<(), JwkError>,
) -> Result<&str, JwkError> {
    let capacity = out.len();
    let result = {
        let mut w = JsonWriter::new(out);
        match render(&mut w) {
            Ok(()) => w
                .finish()
                .map(str::len)
                .map_err(|_| JwkError::BufferTooSmall { capacity }),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(len) => {
            let text = out.get(..len).unwrap_or(&[]);
            core::str::from_utf8(text).map_err(|_| JwkError::BufferTooSmall { capacity })
        }
        Err(e) => {
            out.zeroize();
            Err(e)
        }
    }
}

/// Renders the public JWK set of the ephemeral wrapping key exactly as upstream does.
pub fn render_public_jwk_set<'o>(
    public: RsaPublicParts<'_>,
    out: &'o mut [u8],
) -> Result<&'o str, JwkError> {
    let thumb = rsa_thumbprint(public);
    let mut kid_buf = [0u8; KID_LEN];
    let kid = base64::encode_into(&thumb, Alphabet::UrlSafeNoPad, &mut kid_buf).unwrap_or("");
    finish(out, |w| {
        w.begin_object();
        w.key("keys");
        w.begin_array();
        w.element();
        w.begin_object();
        b64_member(w, "e", public.e);
        key_ops_member(w, &[KeyOp::Encrypt]);
        w.str_member("kid", kid);
        w.str_member("kty", "RSA");
        b64_member(w, "n", public.n);
        w.end_object();
        w.end_array();
        w.end_object();
        Ok(())
    })
}

/// Renders a symmetric key as `{"k","key_ops"?,"kty":"oct"}`.
pub fn render_oct<'o>(key: &[u8], ops: &[KeyOp], out: &'o mut [u8]) -> Result<&'o str, JwkError> {
    if key.is_empty() {
        out.zeroize();
        return Err(JwkError::EmptyKey);
    }
    finish(out, |w| {
        w.begin_object();
        b64_member(w, "k", key);
        key_ops_member(w, ops);
        w.str_member("kty", "oct");
        w.end_object();
        Ok(())
    })
}

/// Renders an RSA private key. Keys of 2048, 3072 and 4096 bits are first loaded as a
/// [`RsaPrivateKey`], which proves the components consistent (Go validates released keys the
/// same way); other sizes are rendered after the structural checks of the reader.
pub fn render_rsa_private<'o>(
    key: &RsaPrivateKeyDer<'_>,
    ops: &[KeyOp],
    out: &'o mut [u8],
) -> Result<&'o str, JwkError> {
    match RsaPrivateKey::from_components(key) {
        Ok(_) | Err(KeyError::ModulusSize { .. }) => {}
        Err(e) => {
            out.zeroize();
            return Err(JwkError::Key(e));
        }
    }
    finish(out, |w| {
        w.begin_object();
        b64_member(w, "d", key.d);
        b64_member(w, "dp", key.dp);
        b64_member(w, "dq", key.dq);
        b64_member(w, "e", key.e);
        key_ops_member(w, ops);
        w.str_member("kty", "RSA");
        b64_member(w, "n", key.n);
        b64_member(w, "p", key.p);
        b64_member(w, "q", key.q);
        b64_member(w, "qi", key.qinv);
        w.end_object();
        Ok(())
    })
}

/// Renders an EC private key; x and y are computed from d.
pub fn render_ec_private<'o>(
    key: &EcPrivateKeyDer<'_>,
    ops: &[KeyOp],
    out: &'o mut [u8],
) -> Result<&'o str, JwkError> {
    let (d, point) = match (key.scalar(), key.public_point()) {
        (Ok(d), Ok(p)) => (d, p),
        (Err(e), _) | (_, Err(e)) => {
            out.zeroize();
            return Err(JwkError::Key(e));
        }
    };
    finish(out, |w| {
        w.begin_object();
        w.str_member("crv", key.curve.jwk_name());
        b64_member(w, "d", d.as_bytes());
        key_ops_member(w, ops);
        w.str_member("kty", "EC");
        b64_member(w, "x", point.x());
        b64_member(w, "y", point.y());
        w.end_object();
        Ok(())
    })
}

/// Renders a released key (the plaintext of [`crate::keywrap::unwrap_release`]) as upstream's
/// `SecureKeyRelease` does.
pub fn render_released_key<'o>(
    kty: ReleasedKeyType,
    plaintext: &[u8],
    ops: &[KeyOp],
    out: &'o mut [u8],
) -> Result<&'o str, JwkError> {
    match kty {
        ReleasedKeyType::Oct => render_oct(plaintext, ops, out),
        ReleasedKeyType::Rsa | ReleasedKeyType::Ec => {
            let parsed = match pkcs8::read_pkcs8(plaintext) {
                Ok(p) => p,
                Err(e) => {
                    out.zeroize();
                    return Err(JwkError::Key(e));
                }
            };
            match (kty, parsed) {
                (ReleasedKeyType::Rsa, PrivateKeyDer::Rsa(k)) => render_rsa_private(&k, ops, out),
                (ReleasedKeyType::Ec, PrivateKeyDer::Ec(k)) => render_ec_private(&k, ops, out),
                _ => {
                    out.zeroize();
                    Err(JwkError::Key(KeyError::KeyType))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ops_parse_and_render() {
        let ops = KeyOps::from_names(["wrapKey", "unwrapKey", "wrapKey"]).unwrap();
        assert_eq!(ops.as_slice().len(), 3);
        assert_eq!(
            KeyOps::from_names(["sign", "release"]).unwrap_err(),
            JwkError::KeyOp { index: 1 }
        );
        assert_eq!(
            KeyOps::from_names(["Sign"]).unwrap_err(),
            JwkError::KeyOp { index: 0 }
        );
        let mut buf = [0u8; 128];
        assert_eq!(
            render_oct(&[0xfb, 0xff], ops.as_slice(), &mut buf).unwrap(),
            r#"{"k":"-_8","key_ops":["wrapKey","unwrapKey","wrapKey"],"kty":"oct"}"#
        );
        assert_eq!(
            render_oct(&[1, 2, 3], &[], &mut buf).unwrap(),
            r#"{"k":"AQID","kty":"oct"}"#
        );
        assert_eq!(
            render_oct(&[], &[], &mut buf).unwrap_err(),
            JwkError::EmptyKey
        );
    }

    #[test]
    fn too_small_buffer_is_wiped() {
        let mut buf = [0xAAu8; 20];
        assert_eq!(
            render_oct(&[7; 16], &[], &mut buf).unwrap_err(),
            JwkError::BufferTooSmall { capacity: 20 }
        );
        assert_eq!(buf, [0u8; 20]);
    }

    #[test]
    fn long_values_are_chunked_correctly() {
        // 100 bytes cross the 48-byte staging chunks; compare with one-shot encoding.
        let key: std::vec::Vec<u8> = (0..100u8).collect();
        let mut buf = [0u8; 256];
        let text = render_oct(&key, &[], &mut buf).unwrap();
        let mut b64 = [0u8; 200];
        let expect = base64::encode_into(&key, Alphabet::UrlSafeNoPad, &mut b64).unwrap();
        assert_eq!(text, std::format!("{{\"k\":\"{expect}\",\"kty\":\"oct\"}}"));
    }

    const JWK_SET: &[u8] = include_bytes!("../../vectors/data/csc/skr/test_jwk_set.json");

    #[test]
    fn public_jwk_set_matches_upstream_bytes() {
        let key = crate::rsa::private::tests::vector_key();
        use crate::rsa::oaep::OaepDecrypt;
        let mut buf = [0u8; PUBLIC_JWK_SET_CAPACITY];
        let text = render_public_jwk_set(key.public_key(), &mut buf).unwrap();
        assert_eq!(text.as_bytes(), JWK_SET);
        let mut small = [0u8; 400];
        assert_eq!(
            render_public_jwk_set(key.public_key(), &mut small).unwrap_err(),
            JwkError::BufferTooSmall { capacity: 400 }
        );
    }

    #[test]
    fn rsa_private_jwk_member_order() {
        let mut scratch = [0u8; 2048];
        let pem = include_bytes!("../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");
        let PrivateKeyDer::Rsa(k) = pkcs8::read(pem, &mut scratch).unwrap() else {
            panic!("not RSA")
        };
        let mut buf = [0u8; PRIVATE_JWK_CAPACITY];
        let text = render_rsa_private(&k, &[KeyOp::Sign], &mut buf).unwrap();
        let names: std::vec::Vec<&str> = crate::json::members(text)
            .map(|m| m.unwrap().0.raw())
            .collect();
        assert_eq!(
            names,
            ["d", "dp", "dq", "e", "key_ops", "kty", "n", "p", "q", "qi"]
        );
        assert!(text.contains(r#""e":"AQAB","key_ops":["sign"],"kty":"RSA","n":"v965SRmy"#));
        // A tampered component is refused, and the buffer wiped.
        let mut dq = k.dq.to_vec();
        dq[3] ^= 4;
        let bad = RsaPrivateKeyDer { dq: &dq, ..k };
        assert_eq!(
            render_rsa_private(&bad, &[], &mut buf).unwrap_err(),
            JwkError::Key(KeyError::Inconsistent)
        );
        assert!(buf.iter().all(|b| *b == 0));
    }

    #[test]
    fn kty_names() {
        assert_eq!(
            ReleasedKeyType::from_kty("oct-HSM"),
            Some(ReleasedKeyType::Oct)
        );
        assert_eq!(ReleasedKeyType::from_kty("RSA"), Some(ReleasedKeyType::Rsa));
        assert_eq!(
            ReleasedKeyType::from_kty("EC-HSM"),
            Some(ReleasedKeyType::Ec)
        );
        assert_eq!(ReleasedKeyType::from_kty("OKP"), None);
    }
}

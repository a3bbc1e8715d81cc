//! AMD's root (ARK), SEV signing key (ASK) and VLEK signing key (ASVK) certificates per
//! product, built in as DER: the [`Anchors`] a verifier trusts without being given them.
//!
//! The ARK and ASK are AMD's published certificates (KDS `https://kdsintf.amd.com/vcek/v1/
//! {product}/cert_chain`), identical to `vectors/data/amd/*.pem`. Each product has an ASVK slot
//! ([`asvk`]) for AMD's `vlek/v1/{product}/cert_chain` certificate: a built-in ASVK lets a VLEK
//! report verify with only its VLEK, as a built-in ASK does for a VCEK. The slots are empty
//! until the certificates come from a source the project may use (see
//! `vectors/data/MANIFEST.md`); until then a VLEK chain brings its ASVK, which is always checked
//! against the built-in ARK.

use crate::report::Product;
use crate::rsa::public::ModulusParams;

const MILAN_ARK: &[u8] = include_bytes!("roots/milan_ark.der");
const MILAN_ASK: &[u8] = include_bytes!("roots/milan_ask.der");
const GENOA_ARK: &[u8] = include_bytes!("roots/genoa_ark.der");
const GENOA_ASK: &[u8] = include_bytes!("roots/genoa_ask.der");
const TURIN_ARK: &[u8] = include_bytes!("roots/turin_ark.der");
const TURIN_ASK: &[u8] = include_bytes!("roots/turin_ask.der");

/// The built-in ASVK certificate of `product`, if the project carries it (none yet: see the
/// module documentation).
pub const fn asvk(product: Product) -> Option<&'static [u8]> {
    match product {
        Product::Milan | Product::Genoa | Product::Turin => None,
    }
}

/// The certificates a verifier trusts for one product: the root and the intermediates that
/// are trusted with it, so a chain may omit them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchors<'a> {
    /// The root, self-signed, named `ARK-<product>`.
    pub ark: &'a [u8],
    /// The ASK (signs VCEKs), if trusted with the root.
    pub ask: Option<&'a [u8]>,
    /// The ASVK (signs VLEKs), if trusted with the root.
    pub asvk: Option<&'a [u8]>,
}

/// AMD's built-in anchors for `product`.
pub const fn builtin(product: Product) -> Anchors<'static> {
    Anchors {
        ark: ark(product),
        ask: Some(ask(product)),
        asvk: asvk(product),
    }
}

/// The built-in ARK certificate of `product`.
pub const fn ark(product: Product) -> &'static [u8] {
    match product {
        Product::Milan => MILAN_ARK,
        Product::Genoa => GENOA_ARK,
        Product::Turin => TURIN_ARK,
    }
}

/// The built-in ASK certificate of `product`.
pub const fn ask(product: Product) -> &'static [u8] {
    match product {
        Product::Milan => MILAN_ASK,
        Product::Genoa => GENOA_ASK,
        Product::Turin => TURIN_ASK,
    }
}

/// The subject common name AMD gives the ARK of `product`.
pub const fn ark_common_name(product: Product) -> &'static str {
    match product {
        Product::Milan => "ARK-Milan",
        Product::Genoa => "ARK-Genoa",
        Product::Turin => "ARK-Turin",
    }
}

/// The subject common name AMD gives the ASK of `product`.
pub const fn ask_common_name(product: Product) -> &'static str {
    match product {
        Product::Milan => "SEV-Milan",
        Product::Genoa => "SEV-Genoa",
        Product::Turin => "SEV-Turin",
    }
}

/// The subject common name AMD gives the ASVK of `product`.
pub const fn asvk_common_name(product: Product) -> &'static str {
    match product {
        Product::Milan => "SEV-VLEK-Milan",
        Product::Genoa => "SEV-VLEK-Genoa",
        Product::Turin => "SEV-VLEK-Turin",
    }
}

/// The Montgomery parameters of a built-in ARK's or ASK's RSA modulus (`modulus`, big-endian,
/// leading zeros allowed), if it is one, computed at compile time. With them an RSA signature
/// check under a built-in key skips computing R^2 mod n, about 250,000 instructions on x86-64
/// of the 1.9 million a VCEK's RSA-PSS-4096 check costs. They are 1.5 KB of read-only data per
/// key, so they come with the `builtin-rsa-params` feature (on with `std`); without it this is
/// always `None` and the parameters are computed for each check.
pub fn rsa_params(modulus: &[u8]) -> Option<&'static ModulusParams> {
    #[cfg(feature = "builtin-rsa-params")]
    {
        let first = modulus
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(modulus.len());
        let modulus = modulus.get(first..)?;
        params::ALL
            .iter()
            .find(|(n, _)| *n == modulus)
            .map(|(_, p)| p)
    }
    #[cfg(not(feature = "builtin-rsa-params"))]
    {
        let _ = modulus;
        None
    }
}

#[cfg(feature = "builtin-rsa-params")]
mod params {
    use crypto_bigint::U4096;
    use crypto_bigint::modular::FixedMontyParams;

    use super::*;

    /// The modulus of AMD's ARK and ASK certificates: the SubjectPublicKeyInfo's RSAPublicKey
    /// starts with `INTEGER` of 513 bytes (a zero, then the 4096-bit modulus); it is the first
    /// such header in the certificate (the tests compare with the certificate reader's key).
    const MODULUS_LEN: usize = 512;

    /// The modulus in a built-in certificate, found at compile time.
    #[allow(
        clippy::panic,
        reason = "evaluated at compile time only: a failure fails the build"
    )]
    const fn modulus_of(der: &'static [u8]) -> &'static [u8] {
        let mut rest = der;
        while let [_, tail @ ..] = rest {
            if let Some(([0x02, 0x82, 0x02, 0x01, 0x00], after)) = rest.split_first_chunk::<5>()
                && let Some((n, _)) = after.split_at_checked(MODULUS_LEN)
            {
                return n;
            }
            rest = tail;
        }
        panic!("no 4096-bit RSA modulus in a built-in certificate")
    }

    /// A built-in modulus with its Montgomery parameters, both computed at compile time (an
    /// even modulus fails the build).
    const fn entry(der: &'static [u8]) -> (&'static [u8], ModulusParams) {
        let n = modulus_of(der);
        let odd = U4096::from_be_slice(n).to_odd();
        (
            n,
            FixedMontyParams::new_vartime(odd.expect_copied("RSA modulus is odd")),
        )
    }

    /// Every built-in ARK's and ASK's modulus with its parameters.
    pub(super) static ALL: [(&[u8], ModulusParams); 6] = [
        entry(MILAN_ARK),
        entry(MILAN_ASK),
        entry(GENOA_ARK),
        entry(GENOA_ASK),
        entry(TURIN_ARK),
        entry(TURIN_ASK),
    ];
}

/// Subject common name of every VCEK.
pub const VCEK_COMMON_NAME: &str = "SEV-VCEK";
/// Subject common name of every VLEK.
pub const VLEK_COMMON_NAME: &str = "SEV-VLEK";

#[cfg(all(test, feature = "builtin-rsa-params"))]
mod tests {
    use super::*;
    use crate::cert::Certificate;
    use crate::cert::alg::PublicKey;
    use crypto_bigint::modular::FixedMontyParams;
    use crypto_bigint::{Odd, U4096};

    #[test]
    fn builtin_params_are_those_of_the_certificates_keys() {
        for product in Product::ALL {
            for der in [ark(product), ask(product)] {
                let cert = Certificate::from_der(der).unwrap();
                let PublicKey::Rsa(key) = cert.public_key() else {
                    panic!("{product:?}: not RSA")
                };
                let params = rsa_params(key.modulus).expect("built in");
                let n = crate::rsa::uint_bytes::from_be::<{ U4096::LIMBS }>(key.modulus).unwrap();
                assert_eq!(*params, FixedMontyParams::new_vartime(Odd::new(n).unwrap()));
            }
        }
        let mut other = params::ALL[0].0.to_vec();
        other[100] ^= 1;
        assert!(rsa_params(&other).is_none());
        // Leading zeros are allowed.
        let mut padded = std::vec![0u8; 2];
        padded.extend_from_slice(params::ALL[1].0);
        assert!(core::ptr::eq(
            rsa_params(&padded).unwrap(),
            &params::ALL[1].1
        ));
    }
}

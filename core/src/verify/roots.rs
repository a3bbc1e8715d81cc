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

/// Subject common name of every VCEK.
pub const VCEK_COMMON_NAME: &str = "SEV-VCEK";
/// Subject common name of every VLEK.
pub const VLEK_COMMON_NAME: &str = "SEV-VLEK";

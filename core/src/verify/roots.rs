//! AMD's root (ARK) and SEV signing key (ASK) certificates per product, built in as DER.
//!
//! These are AMD's published certificates (KDS `https://kdsintf.amd.com/vcek/v1/{product}/
//! cert_chain`), identical to `vectors/data/amd/*.pem`. AMD publishes no ASVK certificates for
//! us to build in, so VLEK chains bring their ASVK, which is always checked against the ARK.

use crate::report::Product;

const MILAN_ARK: &[u8] = include_bytes!("roots/milan_ark.der");
const MILAN_ASK: &[u8] = include_bytes!("roots/milan_ask.der");
const GENOA_ARK: &[u8] = include_bytes!("roots/genoa_ark.der");
const GENOA_ASK: &[u8] = include_bytes!("roots/genoa_ask.der");
const TURIN_ARK: &[u8] = include_bytes!("roots/turin_ark.der");
const TURIN_ASK: &[u8] = include_bytes!("roots/turin_ask.der");

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

//! The built-in roots with the core backend. Whole-chain and report tests against real
//! vectors are in `vectors/tests/verify.rs`, for both backends.

use super::*;
use crate::cert::Certificate;

#[test]
fn builtin_roots_verify_per_product() {
    for p in Product::ALL {
        // The built-in ARK is trusted as compiled in; its self-signature holds all the same
        // (pinning it checks the signature).
        assert!(
            TrustedArk::pinned(&CoreCrypto, roots::ark(p), p)
                .unwrap()
                .is_pinned()
        );
        let ark = TrustedArk::builtin(&CoreCrypto, p).unwrap();
        let builtin = ark.builtin_ask(&CoreCrypto, None).unwrap();
        assert_eq!((ark.product(), ark.is_pinned()), (p, false));
        let ask = ark
            .verify_intermediate(&CoreCrypto, roots::ask(p), Role::Ask, None)
            .unwrap();
        assert_eq!((ask.role(), ask.product()), (Role::Ask, p));
        assert_eq!(ask.fingerprint(), builtin.fingerprint());
        let cert = Certificate::from_der(roots::ask(p)).unwrap();
        assert_eq!(classify(&cert), Some((Role::Ask, Some(p))));
        let cert = Certificate::from_der(roots::ark(p)).unwrap();
        assert_eq!(classify(&cert), Some((Role::Ark, Some(p))));
        // The ASK must not be accepted where a VCEK is expected.
        assert_eq!(
            ask.verify_signer(&CoreCrypto, roots::ask(p), None)
                .unwrap_err(),
            VerifyError::Chain(ChainError::Subject {
                cert: Role::Vcek,
                expected: "SEV-VCEK"
            })
        );
    }
}

#[test]
fn cross_product_and_wrong_roots_fail() {
    let milan = TrustedArk::builtin(&CoreCrypto, Product::Milan).unwrap();
    // A Genoa ASK under the Milan ARK: wrong name first.
    let e = milan
        .verify_intermediate(&CoreCrypto, roots::ask(Product::Genoa), Role::Ask, None)
        .unwrap_err();
    assert_eq!(e.category(), Category::Chain);
    // A caller-supplied ARK must be the built-in one.
    assert!(
        milan
            .check_same_root(&CoreCrypto, roots::ark(Product::Milan))
            .is_ok()
    );
    assert_eq!(
        milan
            .check_same_root(&CoreCrypto, roots::ark(Product::Turin))
            .unwrap_err(),
        VerifyError::Chain(ChainError::RootMismatch {
            product: Product::Milan
        })
    );
    // An ARK pinned for another product than its name says.
    assert!(matches!(
        TrustedArk::pinned(&CoreCrypto, roots::ark(Product::Milan), Product::Genoa),
        Err(VerifyError::Chain(ChainError::Subject {
            cert: Role::Ark,
            ..
        }))
    ));
    // An ASK is not a root.
    assert!(TrustedArk::pinned(&CoreCrypto, roots::ask(Product::Milan), Product::Milan).is_err());
}

#[test]
fn validity_is_checked_when_a_time_is_given() {
    let ark = TrustedArk::builtin(&CoreCrypto, Product::Turin).unwrap();
    let der = roots::ask(Product::Turin);
    // Turin ASK: 2023-05-15 20:25:21 .. 2048-05-15 20:25:21 UTC.
    let before = Time(1_684_181_400); // 2023-05-15 20:10 UTC: ARK valid, ASK not yet
    assert!(matches!(
        ark.verify_intermediate(&CoreCrypto, der, Role::Ask, Some(before)),
        Err(VerifyError::Chain(ChainError::NotYetValid {
            cert: Role::Ask,
            ..
        }))
    ));
    let after = Time(2_600_000_000);
    assert!(matches!(
        ark.verify_intermediate(&CoreCrypto, der, Role::Ask, Some(after)),
        Err(VerifyError::Chain(ChainError::Expired { .. }))
    ));
    assert!(
        ark.verify_intermediate(&CoreCrypto, der, Role::Ask, Some(Time(1_800_000_000)))
            .is_ok()
    );
}

#[test]
fn tampered_intermediate_fails_signature() {
    let ark = TrustedArk::builtin(&CoreCrypto, Product::Genoa).unwrap();
    let mut der = roots::ask(Product::Genoa).to_vec();
    // A byte of the ASK's RSA modulus (inside the signed part).
    let at = der.len() / 2;
    der[at] ^= 0x01;
    assert_eq!(
        ark.verify_intermediate(&CoreCrypto, &der, Role::Ask, None)
            .unwrap_err(),
        VerifyError::Chain(ChainError::Signature {
            cert: Role::Ask,
            issuer: Role::Ark
        })
    );
}

#[test]
fn errors_name_what_is_wrong() {
    use std::string::ToString;
    let e = VerifyError::Chain(ChainError::Signature {
        cert: Role::Vcek,
        issuer: Role::Ask,
    });
    assert_eq!(
        e.to_string(),
        "certificate chain: VCEK signature does not verify with the ASK key"
    );
    let tcb = |raw| crate::report::TcbVersion::new(raw, crate::report::TcbLayout::Zen3Zen4);
    let e = VerifyError::Binding(BindingError::Tcb {
        report: tcb(0x7308_0000_0000_0003),
        cert: tcb(0x7309_0000_0000_0003),
    });
    assert_eq!(e.category(), Category::Binding);
    assert!(e.to_string().contains("expected 0x7309000000000003"));
}

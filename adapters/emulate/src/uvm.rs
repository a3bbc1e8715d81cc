//! The UVM endorsement check MAA makes for Confidential ACI: the evidence's `Endorsements.Uvm`
//! entry is a COSE_Sign1 (CBOR tag 18) whose protected header names the algorithm and carries
//! the signer's certificate (`x5chain`); its payload says which launch measurement the signer
//! vouches for. When the signature verifies with a pinned signer certificate and the
//! measurement is the report's, MAA issues `x-ms-compliance-status` and the
//! `x-ms-sevsnpvm-uvm-endorsement` claims. ES384 is checked here (the simulated host's
//! signer); other algorithms are named in the refusal.

use ciborium::Value;
use csc_core::hex::Hex;
use serde_json::json;

/// Largest endorsement accepted (ACI's are about 15 KiB).
pub const MAX_ENDORSEMENT: usize = 256 * 1024;

const LABEL_ALG: i64 = 1;
const LABEL_X5CHAIN: i64 = 33;
const ALG_ES384: i64 = -35;
const TAG_COSE_SIGN1: u64 = 18;

/// What a verified endorsement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsed {
    /// `x-ms-sevsnpvm-guestsvn`.
    pub guest_svn: String,
    /// `x-ms-sevsnpvm-launchmeasurement`, lowercase hex.
    pub launch_measurement: String,
}

impl Endorsed {
    /// The `x-ms-sevsnpvm-uvm-endorsement` claim.
    pub fn claim(&self) -> serde_json::Value {
        json!({
            "x-ms-sevsnpvm-guestsvn": self.guest_svn,
            "x-ms-sevsnpvm-launchmeasurement": self.launch_measurement,
        })
    }
}

fn int(v: &Value) -> Option<i64> {
    v.as_integer().and_then(|i| i64::try_from(i).ok())
}

/// Checks `cose` against the pinned signer certificates and the report's `measurement`.
pub fn verify(
    cose: &[u8],
    trusted_signers: &[Vec<u8>],
    measurement: &[u8],
) -> Result<Endorsed, String> {
    if cose.len() > MAX_ENDORSEMENT {
        return Err(format!("larger than {MAX_ENDORSEMENT} bytes"));
    }
    let v: Value = ciborium::from_reader(cose).map_err(|e| format!("not CBOR: {e}"))?;
    let v = match v {
        Value::Tag(TAG_COSE_SIGN1, inner) => *inner,
        Value::Tag(t, _) => return Err(format!("CBOR tag {t}, not COSE_Sign1 (18)")),
        other => other,
    };
    let Value::Array(parts) = v else {
        return Err("not a COSE_Sign1 array".into());
    };
    let [
        Value::Bytes(protected),
        _,
        Value::Bytes(payload),
        Value::Bytes(sig),
    ] = parts.as_slice()
    else {
        return Err("COSE_Sign1 is not [protected, unprotected, payload, signature]".into());
    };
    let header: Value = ciborium::from_reader(&protected[..])
        .map_err(|e| format!("protected header is not CBOR: {e}"))?;
    let Value::Map(entries) = header else {
        return Err("protected header is not a map".into());
    };
    let get = |label: i64| {
        entries
            .iter()
            .find(|(k, _)| int(k) == Some(label))
            .map(|(_, v)| v)
    };
    let alg = get(LABEL_ALG)
        .and_then(int)
        .ok_or("no alg in the protected header")?;
    let leaf = match get(LABEL_X5CHAIN) {
        Some(Value::Bytes(b)) => b.clone(),
        Some(Value::Array(a)) => match a.first() {
            Some(Value::Bytes(b)) => b.clone(),
            _ => return Err("x5chain holds no certificate".into()),
        },
        _ => return Err("no x5chain in the protected header".into()),
    };
    if !trusted_signers.contains(&leaf) {
        return Err("signed by a certificate that is not a trusted UVM endorsement signer".into());
    }
    if alg != ALG_ES384 {
        return Err(format!(
            "algorithm {alg} is not supported here (ES384, -35)"
        ));
    }
    let cert = csc_core::cert::Certificate::from_der(&leaf)
        .map_err(|e| format!("signer certificate: {e}"))?;
    let csc_core::cert::PublicKey::EcP384(point) = cert.public_key() else {
        return Err("ES384 signer certificate without a P-384 key".into());
    };
    let to_sign = sig_structure(protected, payload)?;
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
        &point[..],
    )
    .verify(&to_sign, sig)
    .map_err(|_| "signature does not verify".to_string())?;
    let claims: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("payload has no {k}"))
    };
    let endorsed = Endorsed {
        guest_svn: text("x-ms-sevsnpvm-guestsvn")?,
        launch_measurement: text("x-ms-sevsnpvm-launchmeasurement")?.to_ascii_lowercase(),
    };
    if endorsed.launch_measurement != Hex(measurement).to_string() {
        return Err(format!(
            "it endorses launch measurement {}, the report's is {}",
            endorsed.launch_measurement,
            Hex(measurement)
        ));
    }
    Ok(endorsed)
}

fn sig_structure(protected: &[u8], payload: &[u8]) -> Result<Vec<u8>, String> {
    let v = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_foreign_signers_are_refused_by_name() {
        assert!(
            verify(b"\xff\x00", &[], &[0; 48])
                .unwrap_err()
                .contains("CBOR")
        );
        let mut cose = Vec::new();
        let prot = {
            let mut p = Vec::new();
            ciborium::into_writer(
                &Value::Map(vec![
                    (Value::Integer(1.into()), Value::Integer((-35).into())),
                    (Value::Integer(33.into()), Value::Bytes(vec![1, 2, 3])),
                ]),
                &mut p,
            )
            .unwrap();
            p
        };
        ciborium::into_writer(
            &Value::Tag(
                18,
                Box::new(Value::Array(vec![
                    Value::Bytes(prot),
                    Value::Map(vec![]),
                    Value::Bytes(b"{}".to_vec()),
                    Value::Bytes(vec![0; 96]),
                ])),
            ),
            &mut cose,
        )
        .unwrap();
        let e = verify(&cose, &[vec![9]], &[0; 48]).unwrap_err();
        assert!(e.contains("not a trusted UVM endorsement signer"), "{e}");
        let e = verify(&cose, &[vec![1, 2, 3]], &[0; 48]).unwrap_err();
        assert!(e.contains("signer certificate"), "{e}");
    }
}

//! The key release policy importkey attaches: upstream's shape (version `1.0.0`, one `anyOf`
//! entry per claim group, the MAA as authority), with the HOST_DATA condition a security
//! policy gives, and never a group without conditions.

use csc_azure::keyvault::{ClaimCondition, ReleasePolicy};

use super::config::{ImportKeyConfig, require};
use crate::exit::Failure;

/// The claim that carries HOST_DATA in an MAA token.
pub const HOST_DATA_CLAIM: &str = "x-ms-sevsnpvm-hostdata";
/// The release policy upstream's tool builds (version `1.0.0`, one `anyOf` entry per claim
/// group, authority `https://<authority endpoint>`), with the HOST_DATA condition set to
/// `host_data_hex` when given. Refuses placeholders and policies without conditions.
pub fn release_policy(
    cfg: &ImportKeyConfig,
    host_data_hex: Option<&str>,
) -> Result<ReleasePolicy, Failure> {
    let endpoint = cfg.key.authority.endpoint.trim();
    require("key.authority.endpoint", endpoint)?;
    let authority = if endpoint.contains("://") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("https://{}", endpoint.trim_end_matches('/'))
    };
    let mut claims = cfg.claims.clone();
    if let Some(hd) = host_data_hex {
        if claims.is_empty() {
            claims.push(Vec::new());
        }
        for group in &mut claims {
            match group.iter_mut().find(|c| c.claim == HOST_DATA_CLAIM) {
                Some(c) => c.equals = hd.to_string(),
                None => group.push(ClaimCondition {
                    claim: HOST_DATA_CLAIM.into(),
                    equals: hd.to_string(),
                }),
            }
        }
    }
    if claims.is_empty() || claims.iter().any(Vec::is_empty) {
        return Err(Failure::usage(
            "the release policy would have a claim group without conditions (any attested \
             environment could get the key): give claims in the configuration or \
             -security-policy",
        ));
    }
    for c in claims.iter().flatten() {
        require("a claim name", &c.claim)?;
        require(&format!("claim {}", c.claim), &c.equals)?;
    }
    Ok(ReleasePolicy::new(&authority, claims))
}

#[cfg(test)]
mod tests {
    use super::super::config::tests::{BASE, cfg};
    use super::*;

    #[test]
    fn policy_is_upstreams_with_the_host_data_set() {
        let c = cfg(BASE);
        let p = release_policy(&c, None).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[{"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]},{"authority":"https://maa.example","allOf":[{"claim":"x-ms-sevsnpvm-hostdata","equals":"old"}]}]}"#
        );
        let p = release_policy(&c, Some("abcd")).unwrap();
        for group in &p.any_of {
            let hd: Vec<_> = group
                .all_of
                .iter()
                .filter(|c| c.claim == HOST_DATA_CLAIM)
                .collect();
            assert_eq!(hd.len(), 1);
            assert_eq!(hd[0].equals, "abcd");
        }
        assert_eq!(p.any_of[0].all_of.len(), 2);

        // No claims at all: only the host data, else refused.
        let mut c = cfg(BASE);
        c.claims.clear();
        assert!(release_policy(&c, None).is_err());
        let p = release_policy(&c, Some("ff")).unwrap();
        assert_eq!(p.any_of.len(), 1);
        assert_eq!(p.any_of[0].all_of.len(), 1);
        // A URL authority is kept as it is.
        c.key.authority.endpoint = "https://localhost:8443/".into();
        assert_eq!(
            release_policy(&c, Some("ff")).unwrap().any_of[0].authority,
            "https://localhost:8443"
        );
    }

    #[test]
    fn placeholders_and_empty_groups_are_refused() {
        let mut c = cfg(BASE);
        c.claims[0][0].equals = "<hash-digest-of-the-security-policy>".into();
        let e = release_policy(&c, None).unwrap_err();
        assert!(e.message.contains("placeholder"), "{}", e.message);
        let mut c = cfg(BASE);
        c.claims.push(Vec::new());
        assert!(release_policy(&c, None).is_err());
        let mut c = cfg(BASE);
        c.key.authority.endpoint = "<maa-endpoint>".into();
        assert!(release_policy(&c, None).is_err());
    }
}

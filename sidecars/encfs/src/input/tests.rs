use super::*;
use csc_core::base64::{Alphabet, encode_into, encoded_len};
use proptest::prelude::*;

fn b64(s: &str, alphabet: Alphabet) -> String {
    let mut buf = vec![0u8; encoded_len(s.len(), alphabet)];
    encode_into(s.as_bytes(), alphabet, &mut buf)
        .unwrap()
        .to_string()
}

fn problems(json: &str) -> Vec<String> {
    match parse_json(json) {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(InputError::Invalid(ps)) => ps.iter().map(Problem::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

fn one_problem(json: &str) -> String {
    let p = problems(json);
    assert_eq!(p.len(), 1, "{p:?}");
    p.into_iter().next().unwrap()
}

const KEY32: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Upstream's example (examples/encfs/encfs-sidecar-args.json) with its placeholders filled.
const UPSTREAM_EXAMPLE: &str = r#"{
   "azure_filesystems": [
      {
         "mount_point": "/mnt/remote/share",
         "azure_url": "https://myaccount.blob.core.windows.net/private-container/encfs.img",
         "azure_url_private": true,
         "read_write": true,
         "key": {
            "kid": "EncryptedFilesystemsContainer",
            "kty": "RSA-HSM",
            "authority": {
               "endpoint": "sharedeus2.eus2.attest.azure.net"
            },
            "akv": {
               "endpoint": "myhsm.managedhsm.azure.net"
            }
         },
         "key_derivation": {
            "salt": "92a631a6d0f6e4b2",
            "label": "Symmetric Encryption Key"
         }
      }
   ]
}"#;

#[test]
fn upstream_example_parses_in_both_alphabets() {
    for alphabet in [
        Alphabet::Standard,
        Alphabet::UrlSafe,
        Alphabet::UrlSafeNoPad,
    ] {
        let plan = parse(&b64(UPSTREAM_EXAMPLE, alphabet)).unwrap();
        assert_eq!(plan.filesystems.len(), 1);
        let fs = &plan.filesystems[0];
        assert_eq!(fs.mount_point, Path::new("/mnt/remote/share"));
        assert_eq!(fs.fs_dir(), Path::new("/mnt/remote/.filesystem-0"));
        assert!(fs.read_write);
        assert_eq!(
            fs.source,
            SourceSpec::Blob {
                url: "https://myaccount.blob.core.windows.net/private-container/encfs.img".into(),
                private: true
            }
        );
        let KeySpec::Release {
            key,
            kty,
            derivation,
        } = &fs.key
        else {
            panic!("{:?}", fs.key)
        };
        assert_eq!(*kty, KeyType::Rsa);
        assert_eq!(key.kid, "EncryptedFilesystemsContainer");
        // Upstream's fixed values are filled in.
        assert_eq!(key.akv.api_version, "api-version=7.4");
        assert_eq!(key.authority.api_version, "api-version=2020-10-01");
        assert_eq!(key.authority.tee_type, "SevSnpVM");
        let d = derivation.as_ref().unwrap();
        assert_eq!(d.salt_hex, "92a631a6d0f6e4b2");
        assert_eq!(d.label, "Symmetric Encryption Key");
    }
}

use std::path::Path;

#[test]
fn members_match_case_insensitively_as_go_does() {
    let json = format!(
        r#"{{"AZURE_FILESYSTEMS": [{{"Mount_Point": "/mnt/a", "Azure_URL": "file:///images/a.img",
        "RAW_\u212AEY": "{KEY32}", "Read_Write": true}}],
        "Azure_Info": {{"Identity": {{"Client_ID": "0d8c0e47-5e4d-4b8f-a3c1-2f9f3e3b1a10"}}}}}}"#
    );
    let plan = parse_json(&json).unwrap();
    let fs = &plan.filesystems[0];
    assert_eq!(fs.mount_point, Path::new("/mnt/a"));
    assert_eq!(fs.source, SourceSpec::Local("/images/a.img".into()));
    assert!(fs.read_write);
    let KeySpec::Raw(k) = &fs.key else { panic!() };
    assert_eq!(k.expose().len(), 32);
    assert_eq!(
        plan.azure_info.identity.client_id,
        "0d8c0e47-5e4d-4b8f-a3c1-2f9f3e3b1a10"
    );
}

#[test]
fn later_members_override_and_objects_merge() {
    let json = format!(
        r#"{{"azure_filesystems": [{{"mount_point": "/mnt/x", "MOUNT_POINT": "/mnt/y",
        "azure_url": "file:///i", "raw_key": "{KEY32}", "read_write": true, "read_write": null}}]}}"#
    );
    let plan = parse_json(&json).unwrap();
    assert_eq!(plan.filesystems[0].mount_point, Path::new("/mnt/y"));
    assert!(plan.filesystems[0].read_write, "null leaves the value");
    let json = r#"{"azure_filesystems": [{"mount_point": "/mnt/k", "azure_url": "file:///i",
        "key": {"kid": "k1", "kty": "oct-HSM"},
        "key": {"authority": {"endpoint": "maa.example"}, "akv": {"endpoint": "hsm.example"}}}]}"#;
    let plan = parse_json(json).unwrap();
    let KeySpec::Release { key, kty, .. } = &plan.filesystems[0].key else {
        panic!()
    };
    assert_eq!((key.kid.as_str(), *kty), ("k1", KeyType::Oct));
    assert_eq!(key.akv.endpoint, "hsm.example");
}

#[test]
fn unknown_members_are_warnings() {
    let json = format!(
        r#"{{"azure_filesystems": [{{"mount_point": "/mnt/a", "azure_url": "file:///i",
        "raw_key": "{KEY32}", "cache_blocks": 9}}], "extra": {{}}}}"#
    );
    let plan = parse_json(&json).unwrap();
    let w: Vec<String> = plan.warnings.iter().map(|p| p.path.clone()).collect();
    assert_eq!(w, ["azure_filesystems[0].cache_blocks", "extra"]);
}

#[test]
fn rsa_key_without_key_derivation_is_refused() {
    let json = r#"{"azure_filesystems": [
        {"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa"},
        {"mount_point": "/mnt/b", "azure_url": "https://acct.blob.core.windows.net/c/b",
         "key": {"kid": "k", "kty": "RSA-HSM", "authority": {"endpoint": "maa.example"},
                 "akv": {"endpoint": "hsm.example"}}}]}"#;
    assert_eq!(
        one_problem(json),
        "azure_filesystems[1].key_derivation: required for an RSA-HSM key (salt: hex, label: optional)"
    );
}

#[test]
fn every_problem_names_its_member() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"azure_filesystems": [{"mount_point": "mnt/a", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: \"mnt/a\" is not an absolute path",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/../etc", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: \"/mnt/../etc\" must not contain '.' or '..' components",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a/", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: \"/mnt/a/\" must be a plain path (no trailing '/', no '//')",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: cannot be /",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/.filesystem-3", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: \"/mnt/.filesystem-3\": names starting with \".filesystem-\" are where filesystems are mounted",
        ),
        (
            r#"{"azure_filesystems": [{"azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].mount_point: required (an absolute path whose parent directory exists)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a"}]}"#,
            "azure_filesystems[0].key.kid: required: the key to release (or raw_key, hex, for testing)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa",
                "key": {"kid": "k"}}]}"#,
            "azure_filesystems[0]: both key.kid and raw_key are given; give exactly one (raw_key is for testing only)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "zz11"}]}"#,
            "azure_filesystems[0].raw_key: not hex text (offset 0 is not a hex digit)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "abc"}]}"#,
            "azure_filesystems[0].raw_key: hex text has an odd number of digits",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k", "kty": "OKP", "authority": {"endpoint": "m"}, "akv": {"endpoint": "v"}}}]}"#,
            "azure_filesystems[0].key.kty: unknown kty \"OKP\" (expected oct, oct-HSM, RSA or RSA-HSM)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k", "kty": "EC-HSM", "authority": {"endpoint": "m"}, "akv": {"endpoint": "v"}}}]}"#,
            "azure_filesystems[0].key.kty: \"EC-HSM\" keys cannot key a filesystem (use oct-HSM or RSA-HSM)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k", "kty": "oct-HSM", "authority": {"endpoint": "m"}}}]}"#,
            "azure_filesystems[0].key.akv.endpoint: required: the vault or managed HSM host, e.g. myhsm.managedhsm.azure.net",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k/../x", "authority": {"endpoint": "m"}, "akv": {"endpoint": "v"}}}]}"#,
            "azure_filesystems[0].key.kid: a Key Vault key name (1 to 127 letters, digits and '-'), optionally /version",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k", "kty": "RSA", "authority": {"endpoint": "m"}, "akv": {"endpoint": "v"}},
                "key_derivation": {"salt": "xy"}}]}"#,
            "azure_filesystems[0].key_derivation.salt: not hex text (offset 0 is not a hex digit)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {"kid": "k", "kty": "RSA", "authority": {"endpoint": "m"}, "akv": {"endpoint": "v"}},
                "key_derivation": {"salt": "ab cd"}}]}"#,
            "azure_filesystems[0].key_derivation.salt: not hex text (offset 2 is not a hex digit)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "ftp://h/c/b", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].azure_url: ftp://h/c/b is not an https:// blob URL (or file:///path for a local image)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "https://acct.blob.core.windows.net/c?sig=SECRET", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].azure_url: https://acct.blob.core.windows.net/c?<redacted>: the path must name a container and a blob",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "http://h/c/b", "azure_url_private": true, "raw_key": "aa"}]}"#,
            "azure_filesystems[0].azure_url_private: a private blob over http:// would send the bearer token in clear text; use https://",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file://host/a", "raw_key": "aa"}]}"#,
            "azure_filesystems[0].azure_url: a file:// URL needs an absolute path (file:///dir/image or file://localhost/dir/image)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "azure_url_private": true, "raw_key": "aa"}]}"#,
            "azure_filesystems[0].azure_url_private: only applies to blob URLs, not file:// sources",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa", "read_write": "yes"}]}"#,
            "azure_filesystems[0].read_write: expected true or false, found string",
        ),
        (
            r#"{"azure_filesystems": {"mount_point": "/mnt/a"}}"#,
            "azure_filesystems: expected an array, found object",
        ),
        (
            r#"{"azure_filesystems": []}"#,
            "azure_filesystems: no filesystem to mount",
        ),
        (
            r#"[1]"#,
            "EncfsSideCarArgs: expected an object, found array",
        ),
        (
            r#"{"azure_info": {"certcache": {"endpoint_type": "Amd"}}, "azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_info.certcache.endpoint_type: unknown endpoint type \"Amd\" (expected AMD, AzCache or LocalTHIM)",
        ),
        (
            r#"{"azure_info": {"identity": {"client_id": "x&resource=evil"}}, "azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa"}]}"#,
            "azure_info.identity.client_id: \"x&resource=evil\" is not a client id (a GUID)",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa"},
                                      {"mount_point": "/mnt/a", "azure_url": "file:///b", "raw_key": "aa"}]}"#,
            "azure_filesystems[1].mount_point: same mount point as azure_filesystems[0]",
        ),
        (
            r#"{"azure_filesystems": [{"mount_point": "/mnt/a", "azure_url": "file:///a", "raw_key": "aa"},
                                      {"mount_point": "/mnt/a/b", "azure_url": "file:///b", "raw_key": "aa"}]}"#,
            "azure_filesystems[1].mount_point: nested with the mount point of azure_filesystems[0]",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(&one_problem(json), want, "{json}");
    }
}

#[test]
fn all_problems_are_reported_together() {
    let json = r#"{"azure_filesystems": [
        {"mount_point": "rel", "azure_url": "", "raw_key": "aa"},
        {"mount_point": "/ok", "azure_url": "file:///b", "read_write": 1}]}"#;
    let p = problems(json);
    assert_eq!(
        p,
        ["azure_filesystems[1].read_write: expected true or false, found number",],
        "type errors stop before validation"
    );
    let json = r#"{"azure_filesystems": [
        {"mount_point": "rel", "azure_url": "", "raw_key": "aa"},
        {"mount_point": "/ok", "azure_url": "file:///b"}]}"#;
    let p = problems(json);
    assert_eq!(p.len(), 3, "{p:?}");
    assert!(p[0].starts_with("azure_filesystems[0].mount_point"));
    assert!(p[1].starts_with("azure_filesystems[0].azure_url: required"));
    assert!(p[2].starts_with("azure_filesystems[1].key.kid: required"));
}

#[test]
fn secrets_never_appear_in_errors_or_debug() {
    let json = r#"{"azure_filesystems": [{"mount_point": "rel", "azure_url": "https://a.blob.core.windows.net/c/b?sv=1&sig=TOPSECRETSAS",
        "raw_key": "", "key": {"kid": "k", "kty": "oct", "authority": {"endpoint": "m"},
        "akv": {"endpoint": "v", "bearer_token": "TOPSECRETTOKEN"}}}]}"#;
    let e = parse_json(json).unwrap_err().to_string();
    assert!(!e.contains("TOPSECRET"), "{e}");
    let ok = json.replace("\"rel\"", "\"/mnt/r\"");
    let plan = parse_json(&ok).unwrap();
    let shown = format!("{plan:?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(shown.contains("?<redacted>"), "{shown}");
    let raw = format!(
        r#"{{"azure_filesystems": [{{"mount_point": "/m", "azure_url": "file:///a", "raw_key": "{KEY32}"}}]}}"#
    );
    let shown = format!("{:?}", parse_json(&raw).unwrap());
    assert!(
        !shown.contains("aabbcc") && !shown.contains("[0, 17"),
        "{shown}"
    );
}

#[test]
fn bad_base64_and_json_are_refused() {
    assert!(matches!(parse(""), Err(InputError::Missing)));
    assert!(matches!(parse("  \n"), Err(InputError::Missing)));
    assert!(matches!(parse("e30*"), Err(InputError::Base64(_))));
    assert!(matches!(
        parse(&b64("{\"a\":", Alphabet::Standard)),
        Err(InputError::Json(_))
    ));
    let latin1 = [0x7b, 0xe9, 0x7d];
    let mut buf = vec![0u8; 8];
    let text = encode_into(&latin1, Alphabet::Standard, &mut buf).unwrap();
    assert!(matches!(parse(text), Err(InputError::Utf8 { offset: 1 })));
    let e = parse("e30=").unwrap_err().to_string();
    assert_eq!(e, "azure_filesystems: no filesystem to mount");
}

#[test]
fn file_urls_are_decoded() {
    let json = r#"{"azure_filesystems": [{"mount_point": "/m", "azure_url": "file://localhost/my%20images/a.img", "raw_key": "aa"}]}"#;
    let plan = parse_json(json).unwrap();
    assert_eq!(
        plan.filesystems[0].source,
        SourceSpec::Local("/my images/a.img".into())
    );
}

#[test]
fn azurite_style_urls_are_blob_urls() {
    let json = r#"{"azure_filesystems": [{"mount_point": "/m", "azure_url": "https://127.0.0.1:10000/devstoreaccount1/images/a.img?sv=x", "raw_key": "aa"}]}"#;
    let plan = parse_json(json).unwrap();
    assert!(matches!(
        &plan.filesystems[0].source,
        SourceSpec::Blob { private: false, url } if url.ends_with("?sv=x")
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes, base64 of arbitrary bytes and mangled valid input never panic.
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..800) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
        let _ = parse_json(&text);
        let mut buf = vec![0u8; encoded_len(bytes.len(), Alphabet::Standard)];
        let _ = parse(encode_into(&bytes, Alphabet::Standard, &mut buf).unwrap());
        let cut = cut.min(UPSTREAM_EXAMPLE.len());
        let _ = parse_json(&UPSTREAM_EXAMPLE[..cut]);
    }

    /// Any casing of the member names decodes to the same plan.
    #[test]
    fn casing_never_matters(mask in any::<u64>(), rw in any::<bool>(), n in 1usize..4) {
        let recase = |name: &str, salt: u64| -> String {
            name.chars().enumerate().map(|(i, c)| {
                if (mask.rotate_left((i as u32 + salt as u32) % 64) & 1) == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            }).collect()
        };
        let fss: Vec<String> = (0..n).map(|i| format!(
            r#"{{"{}": "/mnt/fs{i}", "{}": "file:///img/{i}", "{}": "{KEY32}", "{}": {rw}}}"#,
            recase("mount_point", i as u64), recase("azure_url", i as u64 + 1),
            recase("raw_key", i as u64 + 2), recase("read_write", i as u64 + 3),
        )).collect();
        let json = format!(r#"{{"{}": [{}]}}"#, recase("azure_filesystems", 7), fss.join(","));
        let plan = parse_json(&json).unwrap();
        prop_assert_eq!(plan.filesystems.len(), n);
        for (i, fs) in plan.filesystems.iter().enumerate() {
            prop_assert_eq!(fs.mount_point.clone(), std::path::PathBuf::from(format!("/mnt/fs{i}")));
            prop_assert_eq!(&fs.source, &SourceSpec::Local(format!("/img/{i}").into()));
            prop_assert_eq!(fs.read_write, rw);
            prop_assert!(plan.warnings.is_empty());
        }
    }
}

#[test]
fn salts_are_what_the_core_derives_with() {
    let input = |salt: &str| {
        format!(
            r#"{{"azure_filesystems": [{{"mount_point": "/mnt/a", "azure_url": "file:///a",
                "key": {{"kid": "k", "kty": "RSA", "authority": {{"endpoint": "m"}}, "akv": {{"endpoint": "v"}}}},
                "key_derivation": {{"salt": "{salt}"}}}}]}}"#
        )
    };
    let max = csc_core::keywrap::hkdf::MAX_SALT_LEN;
    assert!(parse_json(&input(&"ab".repeat(max))).is_ok());
    assert_eq!(
        problems(&input(&"ab".repeat(max + 1))),
        [format!(
            "azure_filesystems[0].key_derivation.salt: {} bytes; at most {max}",
            max + 1
        )]
    );
}

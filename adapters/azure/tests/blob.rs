//! Blob storage against Azurite over TLS: bearer-token (from the emulated IMDS), SAS and
//! anonymous access; properties, ranged reads, page writes, ETag conditions.

mod common;

use std::sync::Arc;

use csc_azure::Error;
use csc_azure::blob::{BlobAuth, BlobClient};
use csc_azure::identity::{Credential, TokenProvider};
use csc_emulate::Emulator;
use csc_testkit::Azurite;
use csc_testkit::azurite::STORAGE;

fn tokens(emu: &Emulator) -> Arc<TokenProvider> {
    Arc::new(TokenProvider::new(
        common::http(emu),
        Credential::ManagedIdentity {
            base_url: emu.endpoints().imds.clone(),
            client_id: None,
        },
    ))
}

/// Compares without printing megabytes on failure.
fn same(got: &[u8], want: &[u8]) {
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first.is_none(),
        "lengths {} / {}, first difference at {first:?}",
        got.len(),
        want.len()
    );
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn page_blob_with_bearer_tokens_sas_and_anonymous_access() {
    let emu = common::emulator().await;
    let az = Azurite::start(&emu);
    let http = common::http(&emu);
    let tokens = tokens(&emu);
    az.create_container(&http, &tokens, "private", false).await;
    az.create_container(&http, &tokens, "public", true).await;

    let bearer = BlobAuth::Bearer {
        tokens: tokens.clone(),
        resource: STORAGE.into(),
    };
    let url = format!("{}/private/disk.img", az.account_url());
    let blob = BlobClient::new(http.clone(), &url, bearer.clone()).unwrap();
    let size = 8 * 1024 * 1024;
    let etag0 = blob.create_page_blob(size, true).await.unwrap();
    // Creating it again with only_if_absent is refused.
    let err = blob.create_page_blob(size, true).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("BlobAlreadyExists"), "{err}");

    let p = blob.properties().await.unwrap();
    assert_eq!(
        (p.size, p.blob_type.as_str(), p.etag.as_str()),
        (size, "PageBlob", etag0.as_str())
    );
    let fresh = blob.read_range(4096, 1024).await.unwrap();
    assert!(fresh.iter().all(|b| *b == 0));

    // Page writes, conditioned on the ETag, then ranged reads across them.
    let data = pattern(64 * 1024, 7);
    let etag1 = blob
        .write_pages(512 * 1024, &data, Some(&etag0))
        .await
        .unwrap();
    assert_ne!(etag1, etag0);
    let got = blob.read_range(512 * 1024 + 100, 1000).await.unwrap();
    same(&got, &data[100..1100]);
    let tail = blob.read_range(size - 10, 100).await.unwrap();
    assert_eq!(tail.len(), 10);
    assert!(blob.read_range(size, 10).await.unwrap().is_empty());

    // Reads conditioned on the ETag: the current one reads, an old one is refused.
    let got = blob
        .read_range_if(512 * 1024, 512, Some(&etag1))
        .await
        .unwrap();
    same(&got, &data[..512]);
    let err = blob
        .read_range_if(512 * 1024, 512, Some(&etag0))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionNotMet { .. }), "{err}");

    // A writer holding the old ETag is refused instead of clobbering.
    let err = blob
        .write_pages(0, &pattern(512, 1), Some(&etag0))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionNotMet { .. }), "{err}");
    same(&blob.read_range(0, 512).await.unwrap(), &[0u8; 512]);
    // Unconditioned writes and misaligned ones.
    blob.write_pages(0, &pattern(512, 1), None).await.unwrap();
    assert!(matches!(
        blob.write_pages(1, &pattern(512, 1), None).await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        blob.write_pages(0, &pattern(100, 1), None).await,
        Err(Error::Config(_))
    ));

    // A write larger than one Put Page request is split, each part conditioned in turn.
    let big = pattern(4 * 1024 * 1024 + 64 * 1024, 3);
    let etag = blob.properties().await.unwrap().etag;
    blob.write_pages(0, &big, Some(&etag)).await.unwrap();
    same(&blob.read_range(0, big.len() as u64).await.unwrap(), &big);

    // SAS in the URL, no token.
    let sas_url = format!("{url}?{}", az.account_sas("rl"));
    let by_sas = BlobClient::new(http.clone(), &sas_url, BlobAuth::Anonymous).unwrap();
    assert_eq!(by_sas.properties().await.unwrap().size, size);
    same(&by_sas.read_range(0, 512).await.unwrap(), &big[..512]);
    // A read-only SAS cannot write; the error does not show the signature.
    let err = by_sas
        .write_pages(0, &pattern(512, 9), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(text.contains("sig=REDACTED"), "{text}");

    // No credentials on a private container: refused.
    let anon = BlobClient::new(http.clone(), &url, BlobAuth::Anonymous).unwrap();
    let err = anon.properties().await.unwrap_err();
    assert!(matches!(err.status(), Some(401 | 403 | 404)), "{err}");

    // Anonymous reads from a public container.
    let pub_url = format!("{}/public/ro.img", az.account_url());
    BlobClient::new(http.clone(), &pub_url, bearer)
        .unwrap()
        .create_page_blob(4096, false)
        .await
        .unwrap();
    let public = BlobClient::new(http.clone(), &pub_url, BlobAuth::Anonymous).unwrap();
    assert_eq!(public.properties().await.unwrap().size, 4096);
    assert_eq!(public.read_range(0, 4096).await.unwrap().len(), 4096);
}

#[tokio::test]
async fn missing_blob_and_bad_tokens_are_clear_errors() {
    let emu = common::emulator().await;
    let az = Azurite::start(&emu);
    let http = common::http(&emu);
    let tokens = tokens(&emu);
    az.create_container(&http, &tokens, "ccc", false).await;
    let bearer = BlobAuth::Bearer {
        tokens,
        resource: STORAGE.into(),
    };
    let blob = BlobClient::new(
        http.clone(),
        &format!("{}/ccc/none", az.account_url()),
        bearer,
    )
    .unwrap();
    let err = blob.properties().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("Blob storage: HEAD"), "{err}");
    let err = blob.read_range(0, 10).await.unwrap_err();
    assert!(err.to_string().contains("BlobNotFound"), "{err}");

    // A token for the wrong audience.
    let wrong = BlobAuth::Bearer {
        tokens: tokens_for(&emu),
        resource: "https://vault.azure.net".into(),
    };
    let blob = BlobClient::new(http, &format!("{}/ccc/none", az.account_url()), wrong).unwrap();
    let err = blob.read_range(0, 10).await.unwrap_err();
    assert!(matches!(err.status(), Some(401 | 403)), "{err}");
    assert!(err.to_string().contains("AuthenticationFailed"), "{err}");
}

fn tokens_for(emu: &Emulator) -> Arc<TokenProvider> {
    tokens(emu)
}

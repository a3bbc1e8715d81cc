//! Blob storage: properties (size, ETag), ranged reads, page-blob writes in 512-byte pages,
//! with anonymous, SAS (in the URL) or bearer-token access, and writes (and optionally reads)
//! conditioned on the ETag so that two writers cannot silently overwrite each other and a
//! reader never mixes two versions of a blob.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HeaderName, IF_MATCH, IF_NONE_MATCH};
use http::{Method, StatusCode};

use crate::error::{Error, Result, Service};
use crate::http::{HttpClient, Request, Response, redact_url, status_error};
use crate::identity::TokenProvider;

/// The REST API version sent (upstream's azblob uses the same).
pub const STORAGE_API_VERSION: &str = "2020-10-02";
/// Page blobs are written in pages of this size.
pub const PAGE_SIZE: u64 = 512;
/// Largest Put Page request the service accepts.
pub const MAX_PUT_PAGE: usize = 4 * 1024 * 1024;
/// Reads are split into requests of at most this size.
pub const MAX_READ: u64 = 4 * 1024 * 1024;

/// How requests are authorised.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BlobAuth {
    /// None: a public container, or a SAS already in the URL.
    Anonymous,
    /// A bearer token for `resource` (upstream asks for `https://<account host>`;
    /// `https://storage.azure.com` works for every account).
    Bearer {
        /// Where tokens come from.
        tokens: Arc<TokenProvider>,
        /// The token resource.
        resource: String,
    },
}

/// Size and version of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProperties {
    /// Content length in bytes.
    pub size: u64,
    /// The ETag (quoted, as the service sends it).
    pub etag: String,
    /// `PageBlob`, `BlockBlob` or `AppendBlob`.
    pub blob_type: String,
}

/// A client of one blob.
#[derive(Debug, Clone)]
pub struct BlobClient {
    http: HttpClient,
    url: String,
    auth: BlobAuth,
}

fn header_name(s: &'static str) -> HeaderName {
    HeaderName::from_static(s)
}

impl BlobClient {
    /// `url` is the blob's URL, with a SAS query if that is how access is granted.
    pub fn new(http: HttpClient, url: &str, auth: BlobAuth) -> Result<Self> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::Config(format!(
                "blob URL {} is not http(s)",
                redact_url(url)
            )));
        }
        Ok(BlobClient {
            http,
            url: url.to_string(),
            auth,
        })
    }

    /// The token resource upstream uses for a blob URL: `https://<host>`.
    pub fn default_resource(url: &str) -> String {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        format!("https://{host}")
    }

    fn url_with(&self, query: &str) -> String {
        if query.is_empty() {
            self.url.clone()
        } else if self.url.contains('?') {
            format!("{}&{query}", self.url)
        } else {
            format!("{}?{query}", self.url)
        }
    }

    async fn request(&self, method: Method, query: &str) -> Result<Request> {
        let req = Request::new(Service::Blob, method, self.url_with(query))
            .header(header_name("x-ms-version"), STORAGE_API_VERSION)?
            .header(
                header_name("x-ms-date"),
                &httpdate::fmt_http_date(SystemTime::now()),
            )?;
        match &self.auth {
            BlobAuth::Anonymous => Ok(req),
            BlobAuth::Bearer { tokens, resource } => tokens.authorize(req, resource).await,
        }
    }

    fn error(&self, req: &Request, resp: &Response) -> Error {
        let mut e = status_error(req, resp);
        if let Error::Status { message, .. } = &mut e
            && message.is_none()
        {
            *message = resp.header("x-ms-error-code").map(str::to_string);
        }
        e
    }

    /// HEAD: size, ETag and type.
    pub async fn properties(&self) -> Result<BlobProperties> {
        let req = self.request(Method::HEAD, "").await?;
        let resp = self.http.send_any(req.clone()).await?;
        if !resp.status.is_success() {
            return Err(self.error(&req, &resp));
        }
        let size = resp
            .header(CONTENT_LENGTH.as_str())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::malformed(Service::Blob, "properties", "no Content-Length"))?;
        Ok(BlobProperties {
            size,
            etag: resp.header("etag").unwrap_or("").to_string(),
            blob_type: resp.header("x-ms-blob-type").unwrap_or("").to_string(),
        })
    }

    /// Reads `len` bytes at `offset` (fewer at the end of the blob).
    pub async fn read_range(&self, offset: u64, len: u64) -> Result<Bytes> {
        self.read_range_if(offset, len, None).await
    }

    /// [`BlobClient::read_range`], and with `if_match` only while the blob still has that
    /// ETag: a blob changed since is [`Error::ConditionNotMet`], never a mix of old and new
    /// bytes.
    pub async fn read_range_if(
        &self,
        offset: u64,
        len: u64,
        if_match: Option<&str>,
    ) -> Result<Bytes> {
        let mut out = Vec::with_capacity(usize::try_from(len.min(MAX_READ)).unwrap_or(0));
        let mut pos = offset;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| Error::Config("read range overflows".into()))?;
        while pos < end {
            let n = (end - pos).min(MAX_READ);
            let chunk = self.read_once(pos, n, if_match).await?;
            let got = chunk.len() as u64;
            out.extend_from_slice(&chunk);
            if got < n {
                break;
            }
            pos += got;
        }
        Ok(out.into())
    }

    async fn read_once(&self, offset: u64, len: u64, if_match: Option<&str>) -> Result<Bytes> {
        let last = offset + len - 1;
        let mut req = self
            .request(Method::GET, "")
            .await?
            .header(header_name("x-ms-range"), &format!("bytes={offset}-{last}"))?;
        if let Some(tag) = if_match {
            req = req.header(IF_MATCH, tag)?;
        }
        let resp = self.http.send_any(req.clone()).await?;
        match resp.status {
            StatusCode::PARTIAL_CONTENT | StatusCode::OK => {}
            StatusCode::RANGE_NOT_SATISFIABLE => return Ok(Bytes::new()),
            StatusCode::PRECONDITION_FAILED if if_match.is_some() => {
                return Err(Error::ConditionNotMet {
                    service: Service::Blob,
                    url: redact_url(&req.url),
                    expected: if_match.unwrap_or_default().to_string(),
                });
            }
            _ => return Err(self.error(&req, &resp)),
        }
        if resp.body.len() as u64 > len {
            return Err(Error::malformed(
                Service::Blob,
                "ranged read",
                format!("asked for {len} bytes, got {}", resp.body.len()),
            ));
        }
        Ok(resp.body)
    }

    /// Creates (or, without `if_none_match`, replaces) a page blob of `size` bytes (a multiple
    /// of 512). Returns its ETag.
    pub async fn create_page_blob(&self, size: u64, only_if_absent: bool) -> Result<String> {
        check_pages(0, size)?;
        let mut req = self
            .request(Method::PUT, "")
            .await?
            .header(header_name("x-ms-blob-type"), "PageBlob")?
            .header(header_name("x-ms-blob-content-length"), &size.to_string())?;
        if only_if_absent {
            req = req.header(IF_NONE_MATCH, "*")?;
        }
        self.put(req).await
    }

    /// Writes whole pages at `offset` (both multiples of 512), in requests of at most 4 MiB.
    /// With `if_match`, each request is conditioned on the blob still having that ETag (and
    /// then the ETag each write returns): a concurrent writer makes the call fail with
    /// [`Error::ConditionNotMet`] instead of mixing the two writes. Returns the new ETag.
    pub async fn write_pages(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&str>,
    ) -> Result<String> {
        check_pages(offset, data.len() as u64)?;
        if data.is_empty() {
            return Err(Error::Config("nothing to write".into()));
        }
        let mut etag = if_match.map(str::to_string);
        let mut pos = offset;
        for chunk in data.chunks(MAX_PUT_PAGE) {
            let last = pos + chunk.len() as u64 - 1;
            let mut req = self
                .request(Method::PUT, "comp=page")
                .await?
                .header(header_name("x-ms-page-write"), "update")?
                .header(header_name("x-ms-range"), &format!("bytes={pos}-{last}"))?
                .body("application/octet-stream", Bytes::copy_from_slice(chunk));
            if let Some(tag) = &etag {
                req = req.header(IF_MATCH, tag)?;
            }
            let new_tag = self.put(req).await.map_err(|e| match (e, &etag) {
                (
                    Error::Status {
                        status: 412, url, ..
                    },
                    Some(expected),
                ) => Error::ConditionNotMet {
                    service: Service::Blob,
                    url,
                    expected: expected.clone(),
                },
                (e, _) => e,
            })?;
            if etag.is_some() {
                etag = Some(new_tag.clone());
            }
            pos = last + 1;
            if pos == offset + data.len() as u64 {
                return Ok(new_tag);
            }
        }
        Err(Error::Config("nothing to write".into()))
    }

    async fn put(&self, req: Request) -> Result<String> {
        let resp = self.http.send_any(req.clone()).await?;
        if !resp.status.is_success() {
            return Err(self.error(&req, &resp));
        }
        Ok(resp.header("etag").unwrap_or("").to_string())
    }
}

fn check_pages(offset: u64, len: u64) -> Result<()> {
    if !offset.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Error::Config(format!(
            "page blob writes need 512-byte alignment (offset {offset}, length {len})"
        )));
    }
    offset
        .checked_add(len)
        .map(|_| ())
        .ok_or_else(|| Error::Config("page range overflows".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_and_resource() {
        assert!(check_pages(512, 1024).is_ok());
        assert!(check_pages(1, 512).is_err());
        assert!(check_pages(0, 100).is_err());
        assert!(check_pages(u64::MAX - 511, 512).is_err());
        assert_eq!(
            BlobClient::default_resource("https://acct.blob.core.windows.net/c/b?sv=1"),
            "https://acct.blob.core.windows.net"
        );
    }
}

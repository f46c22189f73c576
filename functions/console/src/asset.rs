//! A file the console serves: bytes fixed at compile time, answered with a strong `ETag` (their
//! SHA-256) and `304 Not Modified` when the client already holds them.

use lambda_http::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// On every answer: browsers take the `Content-Type` as given.
pub const NOSNIFF: (HeaderName, &str) = (X_CONTENT_TYPE_OPTIONS, "nosniff");

enum Content {
    Text(Cow<'static, str>),
    Binary(&'static [u8]),
}

pub struct Asset {
    content: Content,
    content_type: &'static str,
    cache_control: &'static str,
    headers: &'static [(HeaderName, &'static str)],
    /// Lowercase hex SHA-256 of the bytes.
    digest: String,
}

impl Asset {
    /// UTF-8 content, answered as is.
    pub fn text(
        text: impl Into<Cow<'static, str>>,
        content_type: &'static str,
        cache_control: &'static str,
    ) -> Self {
        let text = text.into();
        let digest = hex_sha256(text.as_bytes());
        Self::with(Content::Text(text), digest, content_type, cache_control)
    }

    /// Any bytes, answered base64-encoded (API Gateway decodes them).
    pub fn binary(
        bytes: &'static [u8],
        content_type: &'static str,
        cache_control: &'static str,
    ) -> Self {
        let digest = hex_sha256(bytes);
        Self::with(Content::Binary(bytes), digest, content_type, cache_control)
    }

    fn with(
        content: Content,
        digest: String,
        content_type: &'static str,
        cache_control: &'static str,
    ) -> Self {
        Self {
            content,
            content_type,
            cache_control,
            headers: &[],
            digest,
        }
    }

    /// More headers on every answer (200 and 304).
    pub fn with_headers(mut self, headers: &'static [(HeaderName, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    /// A short name of these bytes, for a URL that changes whenever they do.
    pub fn fingerprint(&self) -> &str {
        &self.digest[..16]
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.digest)
    }

    /// 200 with the bytes, or 304 without them when `If-None-Match` names this version.
    pub fn respond(&self, req: &Request) -> Response<Body> {
        let etag = self.etag();
        let fresh = req
            .headers()
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| none_match_names(v, &etag));
        let mut resp = if fresh {
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            resp
        } else {
            let body = match &self.content {
                Content::Text(text) => Body::Text(text.clone().into_owned()),
                Content::Binary(bytes) => Body::Binary(bytes.to_vec()),
            };
            let mut resp = Response::new(body);
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            resp
        };
        let headers = resp.headers_mut();
        // A hex digest in quotes is always a valid header value.
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(ETAG, etag);
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(self.cache_control));
        for (name, value) in self.headers {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        resp
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): `*`, or a list of tags, `W/` or not.
fn none_match_names(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_a_star() {
        let etag = "\"abc\"";
        for header in [
            "\"abc\"",
            "W/\"abc\"",
            "\"x\", \"abc\"",
            "\"x\",W/\"abc\"",
            "*",
        ] {
            assert!(none_match_names(header, etag), "{header}");
        }
        for header in ["\"abd\"", "abc", "\"abc", "", "\"x\", \"y\""] {
            assert!(!none_match_names(header, etag), "{header}");
        }
    }

    #[test]
    fn the_etag_is_the_quoted_sha256_of_the_bytes() {
        let asset = Asset::binary(b"abc", "text/plain", "no-cache");
        assert_eq!(
            asset.etag(),
            "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""
        );
        assert_eq!(asset.fingerprint(), "ba7816bf8f01cfea");
    }
}

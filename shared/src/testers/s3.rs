//! S3: a signed ListObjectsV2 (at most one key) with the credential's own keys and region.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The S3 client's only DNS: the addresses the outbound guard resolved and checked, for the one
/// host it checked. Without it the SDK would look the name up again, and a name that answered
/// a public address to the guard could answer a private one to the SDK (DNS rebinding).
#[derive(Debug, Clone)]
struct VettedAddresses {
    host: Arc<str>,
    ips: Arc<[IpAddr]>,
}

impl ResolveDns for VettedAddresses {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        if name.trim_end_matches('.').eq_ignore_ascii_case(&self.host) {
            DnsFuture::ready(Ok(self.ips.to_vec()))
        } else {
            DnsFuture::ready(Err(ResolveDnsError::new(format!(
                "{name} is not the host the outbound guard checked"
            ))))
        }
    }
}

/// An S3 client built from nothing but these settings (no environment, no default chain, no
/// proxy) that connects only to `vetted`, the guard's addresses for `endpoint`'s host, while TLS
/// and the Host header keep the host name. Requests are path style, so every one goes to the
/// host the guard checked (virtual-hosted style would go to `<bucket>.<host>`, which it did not).
pub fn pinned_s3_client(
    endpoint: &url::Url,
    vetted: &[SocketAddr],
    region: &str,
    credentials: Credentials,
) -> aws_sdk_s3::Client {
    let resolver = VettedAddresses {
        host: endpoint
            .host_str()
            .unwrap_or_default()
            .trim_end_matches('.')
            .into(),
        ips: vetted.iter().map(SocketAddr::ip).collect(),
    };
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_with_resolver(resolver);
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .http_client(http)
        .endpoint_url(endpoint.as_str())
        .force_path_style(true);
    aws_sdk_s3::Client::from_conf(config.build())
}

use super::{Target, Testers};
use crate::status::Observation;
use crate::status::{accepted, missing, rejected, unreachable};

pub async fn test(t: &Testers, target: &Target<'_>) -> Observation {
    let (Some(key_id), Some(secret), Some(bucket)) = (
        target.text("access_key_id"),
        target.secret("secret_access_key"),
        target.text("bucket"),
    ) else {
        return missing("access_key_id, secret_access_key and bucket");
    };
    let region = target.text("region").unwrap_or("us-east-1");
    let endpoint = target
        .text("endpoint")
        .map(str::to_owned)
        .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
    // Vetted here, and the client connects to exactly the vetted addresses.
    let url = match t.outbound.check_url(&endpoint) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let vetted = match t.resolve(url.host_str().unwrap_or_default(), port).await {
        Ok(addrs) => addrs,
        Err(o) => return o,
    };
    let credentials = Credentials::new(
        key_id,
        secret,
        target.secret("session_token").map(str::to_owned),
        None,
        "latchkey-connection-test",
    );
    let client = pinned_s3_client(&url, &vetted, region, credentials);
    match client
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
    {
        Ok(_) => accepted(format!("listed bucket {bucket} with access key {key_id}")),
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                .unwrap_or_default();
            match code {
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken"
                | "InvalidClientTokenId" => rejected(
                    "auth_rejected",
                    format!("S3 rejected the keys ({code}); check the access key id and secret"),
                ),
                "AccessDenied" => rejected(
                    "access_denied",
                    format!("the keys work but may not list bucket {bucket}"),
                ),
                "NoSuchBucket" => rejected(
                    "bucket_not_found",
                    format!("there is no bucket {bucket} in {region}"),
                ),
                "" => unreachable(
                    "connection_failed",
                    format!("could not reach S3 at {endpoint}"),
                ),
                other => unreachable("unexpected_error", format!("S3 answered {other}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_resolver_answers_only_the_checked_host_with_the_checked_addresses() {
        let resolver = VettedAddresses {
            host: "s3.example.com".into(),
            ips: vec!["93.184.216.34".parse().unwrap()].into(),
        };
        let ips = resolver.resolve_dns("S3.example.com.").await.unwrap();
        assert_eq!(ips, ["93.184.216.34".parse::<IpAddr>().unwrap()]);
        assert!(resolver.resolve_dns("bucket.s3.example.com").await.is_err());
        assert!(resolver.resolve_dns("169.254.169.254").await.is_err());
    }
}

//! S3: a signed ListObjectsV2 (at most one key) with the credential's own keys and region.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

use super::{accepted, missing, rejected, unreachable, Target, Testers};
use crate::status::Observation;

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
    // The SDK resolves names itself, so the endpoint is vetted here first.
    let url = match t.check_url(&endpoint) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let port = url.port_or_known_default().unwrap_or(443);
    if let Err(o) = t.resolve(url.host_str().unwrap_or_default(), port).await {
        return o;
    }
    let credentials = Credentials::new(
        key_id,
        secret,
        target.secret("session_token").map(str::to_owned),
        None,
        "latchkey-connection-test",
    );
    // Built from nothing but the credential: no environment, no default chain.
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials);
    if target.text("endpoint").is_some() {
        config = config.endpoint_url(endpoint.clone()).force_path_style(true);
    }
    let client = aws_sdk_s3::Client::from_conf(config.build());
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

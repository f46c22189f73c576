//! The other half of API Gateway's JWT authorizer: tokens from an OpenID Connect issuer (the
//! stack's `JwtIssuer`), checked as API Gateway checks them: signed (RS256, ES256, ...) by a key
//! of the issuer's JWKS, found through its discovery document; `iss` exactly the issuer; `aud`
//! one of the audiences; `exp` required and in the future; `nbf` honoured; no `crit` header.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Unknown key ids refetch the JWKS (the issuer rotated), at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(10);

pub struct IssuerVerifier {
    issuer: String,
    audiences: Vec<String>,
    http: reqwest::Client,
    keys: Mutex<Option<(JwkSet, Instant)>>,
}

impl IssuerVerifier {
    pub fn new(issuer: &str, audiences: &[&str]) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
            http: latchkey_shared::outbound::http_client()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("the shared client settings build"),
            keys: Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token's claims, or `None` for anything API Gateway would answer 401.
    pub async fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        if has_crit_header(token) {
            return None;
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg == Algorithm::HS256
            || header.alg == Algorithm::HS384
            || header.alg == Algorithm::HS512
        {
            return None;
        }
        let kid = header.kid?;
        let jwk = self.key(&kid).await?;
        let key = DecodingKey::from_jwk(&jwk).ok()?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "iss".to_owned()]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The key `kid` of the issuer's JWKS, fetching it when absent or unknown.
    async fn key(&self, kid: &str) -> Option<jsonwebtoken::jwk::Jwk> {
        let mut keys = self.keys.lock().await;
        let stale = keys
            .as_ref()
            .is_none_or(|(set, at)| set.find(kid).is_none() && at.elapsed() > REFETCH_AFTER);
        if stale {
            match self.fetch().await {
                Ok(set) => *keys = Some((set, Instant::now())),
                Err(e) => {
                    tracing::warn!(issuer = %self.issuer, error = %e, "cannot fetch the issuer's JWKS")
                }
            }
        }
        keys.as_ref()?.0.find(kid).cloned()
    }

    async fn fetch(&self) -> Result<JwkSet, reqwest::Error> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let config: Value = self
            .http
            .get(discovery)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let jwks_uri = config["jwks_uri"].as_str().unwrap_or_default().to_owned();
        self.http
            .get(jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }
}

/// A `crit` header names extensions the verifier must understand; API Gateway understands
/// none, so such a token (or one whose header does not parse) is refused.
pub fn has_crit_header(token: &str) -> bool {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<Map<String, Value>>(&h).ok())
        .is_none_or(|h| h.contains_key("crit"))
}

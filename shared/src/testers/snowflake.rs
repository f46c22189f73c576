//! Snowflake: the login request, with a password or a key-pair JWT, against
//! `<base>/session/v1/login-request` (base from `LATCHKEY_SNOWFLAKE_BASE_URL`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Target, Testers};
use crate::status::Observation;
use crate::status::{accepted, missing, rejected, unreachable};

/// Snowflake's codes for a refused login: wrong user or password, a bad JWT, a disabled user.
const AUTH_CODES: [&str; 4] = ["390100", "390144", "390101", "390102"];

/// The key-pair JWT Snowflake expects: issuer `ACCOUNT.USER.SHA256:<public key fingerprint>`.
fn key_pair_jwt(account: &str, user: &str, pem: &str) -> Result<String, Observation> {
    let unreadable = || {
        rejected(
            "invalid_private_key",
            "the private key is not an unencrypted PKCS#8 RSA key in PEM",
        )
    };
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| unreadable())?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|_| unreadable())?;
    let fingerprint = STANDARD.encode(Sha256::digest(public.as_bytes()));
    let qualified = format!("{}.{}", account_locator(account), user.to_ascii_uppercase());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({ "iss": format!("{qualified}.SHA256:{fingerprint}"), "sub": qualified, "iat": now, "exp": now + 60 });
    let pkcs1 = key.to_pkcs1_der().map_err(|_| unreadable())?;
    let signing = jsonwebtoken::EncodingKey::from_rsa_der(pkcs1.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &signing,
    )
    .map_err(|_| unreadable())
}

/// `xy12345.eu-central-1` -> `XY12345`; `myorg-myaccount` stays whole.
fn account_locator(account: &str) -> String {
    account
        .split('.')
        .next()
        .unwrap_or(account)
        .to_ascii_uppercase()
}

pub async fn test(t: &Testers, target: &Target<'_>) -> Observation {
    let (Some(account), Some(user)) = (target.text("account"), target.text("username")) else {
        return missing("account and username");
    };
    if !account
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return rejected(
            "invalid_account",
            "the account identifier holds only letters, digits, - _ and .",
        );
    }
    let mut data = json!({
        "CLIENT_APP_ID": "Latchkey",
        "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
        "ACCOUNT_NAME": account_locator(account),
        "LOGIN_NAME": user,
    });
    match target.auth_type {
        "key_pair" => {
            let Some(pem) = target.secret("private_key") else {
                return missing("private_key");
            };
            match key_pair_jwt(account, user, pem) {
                Ok(jwt) => {
                    data["AUTHENTICATOR"] = json!("SNOWFLAKE_JWT");
                    data["TOKEN"] = json!(jwt);
                }
                Err(o) => return o,
            }
        }
        _ => {
            let Some(password) = target.secret("password") else {
                return missing("password");
            };
            data["PASSWORD"] = json!(password);
        }
    }
    let base = t.snowflake_base_url.replace("{account}", account);
    let url = match t.outbound.check_url(&format!(
        "{}/session/v1/login-request",
        base.trim_end_matches('/')
    )) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let mut query: Vec<(&str, &str)> = Vec::new();
    for (field, param) in [
        ("warehouse", "warehouse"),
        ("role", "roleName"),
        ("database", "databaseName"),
    ] {
        if let Some(v) = target.text(field) {
            query.push((param, v));
        }
    }
    let resp = match t
        .outbound
        .client()
        .post(url)
        .query(&query)
        .json(&json!({ "data": data }))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return crate::outbound::request_failure("Snowflake", &e),
    };
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body.get("code").and_then(Value::as_str).unwrap_or_default();
    if body.get("success").and_then(Value::as_bool) == Some(true) {
        accepted(format!(
            "logged in to Snowflake account {account} as {user}"
        ))
    } else if AUTH_CODES.contains(&code) {
        rejected("auth_rejected", format!("Snowflake refused the login for {user} (code {code}); check the user and its password or key"))
    } else {
        unreachable(
            "unexpected_status",
            format!("Snowflake answered {status} without a verdict on the credentials"),
        )
    }
}

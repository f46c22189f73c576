//! FTP (optionally over TLS) and SFTP: log in, nothing more.

use russh::keys::{decode_secret_key, HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::{FtpError, Status};

use super::{Target, Testers};
use crate::outbound::tls_config;
use crate::status::Observation;
use crate::status::{accepted, missing, rejected, unreachable};

fn tls() -> AsyncRustlsConnector {
    AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(Arc::new(tls_config())))
}

pub async fn ftp(t: &Testers, target: &Target<'_>) -> Observation {
    let (Some(host), Some(user)) = (target.text("host"), target.text("username")) else {
        return missing("host and username");
    };
    let port = target.port(21);
    let addrs = match t.resolve(host, port).await {
        Ok(a) => a,
        Err(o) => return o,
    };
    let mode = target.text("tls").unwrap_or("explicit");
    let unreachable_ftp = |e: FtpError| match e {
        FtpError::SecureError(_) => unreachable(
            "tls_failed",
            format!("no TLS session with {host}:{port} in mode {mode}"),
        ),
        _ => unreachable(
            "connection_failed",
            format!("could not connect to the FTP server at {host}:{port}"),
        ),
    };
    #[allow(deprecated)]
    let connected = match mode {
        "implicit" => AsyncRustlsFtpStream::connect_secure_implicit(addrs[0], tls(), host).await,
        _ => AsyncRustlsFtpStream::connect_timeout(addrs[0], t.budget).await,
    };
    let mut stream = match connected {
        Ok(s) => s,
        Err(e) => return unreachable_ftp(e),
    };
    if mode == "explicit" {
        stream = match stream.into_secure(tls(), host).await {
            Ok(s) => s,
            Err(e) => return unreachable_ftp(e),
        };
    }
    let outcome = match stream
        .login(user, target.secret("password").unwrap_or_default())
        .await
    {
        Ok(()) => accepted(format!("logged in to {host}:{port} as {user}")),
        Err(FtpError::UnexpectedResponse(r)) if r.status == Status::NotLoggedIn => rejected(
            "auth_rejected",
            format!("the FTP server refused the login for {user}; check the user and password"),
        ),
        Err(e) => unreachable_ftp(e),
    };
    if let Err(e) = stream.quit().await {
        tracing::debug!(error = %e, "ftp test session closed uncleanly");
    }
    outcome
}

/// Accepts the server's host key only when it matches the configured fingerprint, if any.
struct HostKeyCheck {
    expected: Option<String>,
    mismatch: Arc<AtomicBool>,
}

impl russh::client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let Some(expected) = &self.expected else {
            return Ok(true);
        };
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone().into(),
        };
        let actual = key.fingerprint(HashAlg::Sha256).to_string();
        let expected = expected.trim();
        let matches = actual == expected || actual.strip_prefix("SHA256:") == Some(expected);
        self.mismatch.store(!matches, Ordering::SeqCst);
        Ok(matches)
    }
}

pub async fn sftp(t: &Testers, target: &Target<'_>) -> Observation {
    let (Some(host), Some(user)) = (target.text("host"), target.text("username")) else {
        return missing("host and username");
    };
    let port = target.port(22);
    let addrs = match t.resolve(host, port).await {
        Ok(a) => a,
        Err(o) => return o,
    };
    let mismatch = Arc::new(AtomicBool::new(false));
    let handler = HostKeyCheck {
        expected: target.text("host_key_fingerprint").map(str::to_owned),
        mismatch: mismatch.clone(),
    };
    let config = Arc::new(russh::client::Config {
        inactivity_timeout: Some(t.budget),
        ..Default::default()
    });
    let mut session = match russh::client::connect(config, addrs[0], handler).await {
        Ok(s) => s,
        Err(_) if mismatch.load(Ordering::SeqCst) => {
            return rejected(
                "host_key_mismatch",
                format!("the SSH host key of {host}:{port} does not match host_key_fingerprint; if the server's key changed on purpose, update the fingerprint"),
            )
        }
        Err(_) => return unreachable("connection_failed", format!("could not open an SSH session with {host}:{port}")),
    };
    let auth = match target.auth_type {
        "private_key" => {
            let Some(pem) = target.secret("private_key") else {
                return missing("private_key");
            };
            let key = match decode_secret_key(pem, target.secret("passphrase")) {
                Ok(k) => k,
                Err(_) => {
                    return rejected(
                        "invalid_private_key",
                        "the private key (or its passphrase) could not be read",
                    )
                }
            };
            let hash = session
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten();
            session
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
        }
        _ => {
            session
                .authenticate_password(user, target.secret("password").unwrap_or_default())
                .await
        }
    };
    let outcome = match auth {
        Ok(result) if result.success() => accepted(format!("logged in to {host}:{port} as {user}")),
        Ok(_) => rejected("auth_rejected", format!("the SSH server refused the login for {user}; check the user and its password or key")),
        Err(_) => unreachable("connection_failed", format!("the SSH session with {host}:{port} broke off")),
    };
    if let Err(e) = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await
    {
        tracing::debug!(error = %e, "ssh test session closed uncleanly");
    }
    outcome
}

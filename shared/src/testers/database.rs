//! PostgreSQL and MySQL/MariaDB: connect with the configured TLS mode and run `SELECT 1`.
//!
//! TLS modes: `disable` (plain), `prefer` (TLS when the server offers it, else plain),
//! `require`, `verify-ca`, `verify-full` (TLS or nothing). Whenever TLS is used the certificate
//! is verified, chain and host name (the name the user gave, while the connection goes to the
//! address the outbound guard checked), against the public roots plus the credential's
//! `ca_certificate`: stricter than libpq's `require`. `verify-ca` skips the name check only for
//! PostgreSQL with a `ca_certificate` (trust then rests on that private CA alone); without
//! one, a chain to any public root would vouch for any server, so the name is checked too.
//! MySQL checks the name in every mode (mysql_async 0.37 cannot skip it).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::{Target, Testers};
use crate::status::Observation;
use crate::status::{accepted, missing, rejected, unreachable};

/// The credential's `ca_certificate`, as DER certificates (none when it has no such field).
fn extra_roots(target: &Target<'_>) -> Result<Vec<CertificateDer<'static>>, Observation> {
    let Some(pem) = target.text("ca_certificate") else {
        return Ok(Vec::new());
    };
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(rejected(
            "invalid_ca_certificate",
            "ca_certificate holds no readable PEM certificate",
        )),
    }
}

/// The public roots and `extra`.
fn roots(extra: &[CertificateDer<'static>]) -> rustls::RootCertStore {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(extra.iter().cloned());
    roots
}

/// A chain check without the name check: for `verify-ca` with a private CA.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // WebPkiServerVerifier checks the chain first and the name last: a name error means
        // the chain already passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Whether a connection failed in TLS (a handshake or a certificate refused), by its error chain.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        let text = err.to_string();
        if err.downcast_ref::<rustls::Error>().is_some()
            || text.contains("TLS")
            || text.contains("tls")
            || text.contains("certificate")
        {
            return true;
        }
        source = err.source();
    }
    false
}

fn tls_failed(host: &str, port: u16, mode: &str) -> Observation {
    unreachable(
        "tls_failed",
        format!(
            "no verified TLS connection to {host}:{port} in mode {mode}; check that the server's certificate names {host} and is signed by a public CA or by ca_certificate"
        ),
    )
}

/// TLS for a PostgreSQL test: chain and name against the public roots and the credential's CA,
/// or the chain only for `verify-ca` with a CA of its own.
fn postgres_tls(
    mode: &str,
    extra: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, Observation> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|_| unreachable("tls_failed", "no TLS protocol version in common"))?;
    if mode == "verify-ca" && !extra.is_empty() {
        // Only the credential's CA: with the public roots too, any public certificate for any
        // name would pass a check that skips the name.
        let mut own = rustls::RootCertStore::empty();
        own.add_parsable_certificates(extra.iter().cloned());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(own), provider)
            .build()
            .map_err(|_| {
                rejected(
                    "invalid_ca_certificate",
                    "ca_certificate cannot serve as a root",
                )
            })?;
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
            .with_no_client_auth());
    }
    Ok(builder
        .with_root_certificates(Arc::new(roots(extra)))
        .with_no_client_auth())
}

/// Where and as whom to log in: the fields both databases need, the address vetted by the guard.
struct Database<'a> {
    host: &'a str,
    database: &'a str,
    user: &'a str,
    port: u16,
    addr: std::net::IpAddr,
}

impl<'a> Database<'a> {
    async fn of(
        t: &Testers,
        target: &'a Target<'_>,
        default_port: u16,
    ) -> Result<Self, Observation> {
        let (Some(host), Some(database), Some(user)) = (
            target.text("host"),
            target.text("database"),
            target.text("username"),
        ) else {
            return Err(missing("host, database and username"));
        };
        let port = target.port(default_port);
        let addr = t.resolve(host, port).await?[0].ip();
        Ok(Self {
            host,
            database,
            user,
            port,
            addr,
        })
    }
}

pub async fn postgres(t: &Testers, target: &Target<'_>) -> Observation {
    use tokio_postgres::config::SslMode;
    use tokio_postgres::error::SqlState;

    let db = match Database::of(t, target, 5432).await {
        Ok(d) => d,
        Err(o) => return o,
    };
    let Database {
        host,
        database,
        user,
        port,
        addr,
    } = db;
    let mut config = tokio_postgres::Config::new();
    // Connect to the vetted address; keep the name for TLS verification.
    config
        .host(host)
        .hostaddr(addr)
        .port(port)
        .dbname(database)
        .user(user)
        .password(target.secret("password").unwrap_or_default())
        .application_name("latchkey-connection-test")
        .connect_timeout(t.budget);
    let mode = target.text("tls_mode").unwrap_or("prefer");
    config.ssl_mode(match mode {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        _ => SslMode::Require,
    });
    let tls = match extra_roots(target).and_then(|extra| postgres_tls(mode, &extra)) {
        Ok(config) => tokio_postgres_rustls::MakeRustlsConnect::new(config),
        Err(o) => return o,
    };
    let client = match config.connect(tls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "postgres test connection closed");
                }
            });
            client
        }
        Err(e) => {
            return match e.code() {
                Some(c)
                    if *c == SqlState::INVALID_PASSWORD
                        || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    rejected(
                        "auth_rejected",
                        format!(
                        "PostgreSQL refused the login for user {user}; check the user and password"
                    ),
                    )
                }
                Some(c) if *c == SqlState::INVALID_CATALOG_NAME => rejected(
                    "database_not_found",
                    format!("PostgreSQL has no database {database}"),
                ),
                Some(c) => unreachable(
                    "server_error",
                    format!("PostgreSQL answered SQLSTATE {}", c.code()),
                ),
                None if tls_failure(&e) => tls_failed(host, port, mode),
                None => unreachable(
                    "connection_failed",
                    format!(
                        "could not connect to {host}:{port}; check the host, port and firewall"
                    ),
                ),
            }
        }
    };
    match client.simple_query("SELECT 1").await {
        Ok(_) => accepted(format!(
            "logged in to {database} on {host}:{port} as {user}"
        )),
        Err(_) => unreachable("query_failed", "logged in, but SELECT 1 failed"),
    }
}

pub async fn mysql(t: &Testers, target: &Target<'_>) -> Observation {
    use mysql_async::prelude::Queryable;

    let db = match Database::of(t, target, 3306).await {
        Ok(d) => d,
        Err(o) => return o,
    };
    let Database {
        host,
        database,
        user,
        port,
        addr,
    } = db;
    let mode = target.text("tls_mode").unwrap_or("prefer");
    let extra = match extra_roots(target) {
        Ok(extra) => extra,
        Err(o) => return o,
    };
    // The name the user gave, for TLS; the address the guard checked, for the connection.
    let mut opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host)
        .resolved_ips(Some(vec![addr]))
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(target.secret("password").unwrap_or_default()))
        .db_name(Some(database))
        .prefer_socket(false)
        .wait_timeout(Some(10));
    if !matches!(mode, "disable" | "prefer") {
        // mysql_async adds these (DER here) to the public roots.
        let ssl = mysql_async::SslOpts::default().with_root_certs(
            extra
                .iter()
                .map(|der| der.as_ref().to_vec().into())
                .collect(),
        );
        opts = opts.ssl_opts(Some(ssl));
    }
    let mut conn = match mysql_async::Conn::new(opts).await {
        Ok(c) => c,
        Err(mysql_async::Error::Server(e)) => {
            return match e.code {
                1045 | 1044 | 1698 => rejected(
                    "auth_rejected",
                    format!("MySQL refused the login for user {user}; check the user and password"),
                ),
                1049 => rejected(
                    "database_not_found",
                    format!("MySQL has no database {database}"),
                ),
                code => unreachable("server_error", format!("MySQL answered error {code}")),
            }
        }
        Err(e) if tls_failure(&e) => return tls_failed(host, port, mode),
        Err(_) => {
            return unreachable(
                "connection_failed",
                format!("could not connect to {host}:{port}; check the host, port and firewall"),
            )
        }
    };
    let ok = conn.query_drop("SELECT 1").await.is_ok();
    if let Err(e) = conn.disconnect().await {
        tracing::debug!(error = %e, "mysql test connection closed uncleanly");
    }
    if ok {
        accepted(format!(
            "logged in to {database} on {host}:{port} as {user}"
        ))
    } else {
        unreachable("query_failed", "logged in, but SELECT 1 failed")
    }
}

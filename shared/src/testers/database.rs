//! PostgreSQL and MySQL/MariaDB: connect with the configured TLS mode and run `SELECT 1`.
//!
//! TLS modes: `disable` (plain), `prefer` (TLS when the server offers it, else plain),
//! `require`, `verify-ca`, `verify-full` (TLS or nothing). Certificates are always verified
//! against the public roots when TLS is used, which is stricter than libpq's `require`.

use super::{accepted, missing, rejected, tls_config, unreachable, Target, Testers};
use crate::status::Observation;

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
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config());
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
                None if e.to_string().contains("tls") || e.to_string().contains("TLS") => {
                    unreachable(
                        "tls_failed",
                        format!("no TLS connection to {host}:{port} in mode {mode}"),
                    )
                }
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
    let mut opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.to_string())
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(target.secret("password").unwrap_or_default()))
        .db_name(Some(database))
        .prefer_socket(false)
        .wait_timeout(Some(10));
    if !matches!(mode, "disable" | "prefer") {
        opts = opts.ssl_opts(Some(mysql_async::SslOpts::default()));
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

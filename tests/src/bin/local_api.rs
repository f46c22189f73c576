//! `make run`: provisions the local stack in the emulator and serves the HTTP API on
//! 127.0.0.1:$LATCHKEY_PORT (default 3000) until interrupted.

use latchkey_tests::gateway::DevJwt;
use latchkey_tests::jwks::IssuerVerifier;
use latchkey_tests::LocalStack;
use std::collections::BTreeMap;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), latchkey_tests::Error> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // `local-api openapi`: the OpenAPI document, as `make openapi` writes it.
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        print!("{}", latchkey_tests::openapi::render());
        return Ok(());
    }
    // `local-api token [SUB [ORG]]`: a development token valid 12 hours (default alice in acme,
    // team data), for scripts such as `make fuzz`.
    if std::env::args().nth(1).as_deref() == Some("token") {
        let args: Vec<String> = std::env::args().skip(2).collect();
        let sub = args.first().map_or("alice", String::as_str);
        let org = args.get(1).map_or("acme", String::as_str);
        println!(
            "{}",
            DevJwt::from_env().token(sub, org, &["data"], 12 * 3600)
        );
        return Ok(());
    }
    // `local-api env`: the environment the template gives the functions in the local stack, as
    // KEY=VALUE lines for `cargo lambda watch --env-file` (which runs them all with one file).
    if std::env::args().nth(1).as_deref() == Some("env") {
        let stack_name =
            std::env::var("LATCHKEY_STACK").unwrap_or_else(|_| "latchkey-local".into());
        let stack = LocalStack::up(&stack_name, local_parameters(port())).await?;
        let mut merged = BTreeMap::new();
        for function in &stack.functions {
            for (k, v) in &function.environment {
                if merged.insert(k, v).is_some_and(|old| old != v) {
                    return Err(
                        format!("functions disagree on {k}; give them separate env files").into(),
                    );
                }
            }
        }
        for (k, v) in merged {
            println!("{k}={v}");
        }
        return Ok(());
    }
    let port = port();
    let stack_name = std::env::var("LATCHKEY_STACK").unwrap_or_else(|_| "latchkey-local".into());
    let overrides = local_parameters(port);
    let stack = LocalStack::up(&stack_name, overrides).await?;
    let jwt = DevJwt::from_env();
    let mut gateway = stack
        .gateway(jwt.clone())?
        .with_access_log()
        .with_dev_sign_in();
    // With an OpenID Connect issuer (the console's production sign-in, tried locally against
    // tests/stack/oidc), its tokens are accepted too, checked as the JWT authorizer would.
    if let Some(issuer) = std::env::var("LATCHKEY_JWT_ISSUER")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let audience = stack.stack.parameters["JwtAudience"].clone();
        gateway = gateway.with_issuer(IssuerVerifier::new(&issuer, &[audience.as_str()]));
        println!("Accepting tokens of {issuer} (audience {audience}) beside development tokens");
    }
    let gateway = Arc::new(gateway);
    let _refresh = stack.run_refresh()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;

    let token = jwt.token("alice", "acme", &["data"], 12 * 3600);
    println!(
        "Latchkey is serving http://127.0.0.1:{port} (stack {stack_name}, table {})",
        stack.physical_name("Table")?
    );
    println!(
        "Routes: {}",
        stack
            .template
            .routes()
            .iter()
            .map(|r| r.key())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("\nA development token for user alice in org acme, team data, valid 12 hours:\n\nexport TOKEN={token}\n");
    println!("Console: http://127.0.0.1:{port}/ (development sign-in: any user, org and teams)");
    println!("API reference: http://127.0.0.1:{port}/docs (the document: /openapi.json)");
    println!(
        "Refresh: a sweep every {} s, workers on the queue {}\n",
        stack.config("refresh")?.refresh_period.as_secs(),
        stack.physical_name("RefreshQueue")?
    );
    println!(
        "Try:\n  curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:{port}/connectors"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    -d '{{\"name\":\"warehouse\",\"connector\":\"postgres\",\"fields\":{{\"host\":\"db.example.com\",\"database\":\"sales\",\"username\":\"etl\",\"password\":\"change-me\"}}}}' \\\n    http://127.0.0.1:{port}/credentials\n"
    );
    tokio::select! {
        _ = gateway.serve(listener) => {}
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}

fn port() -> u16 {
    std::env::var("LATCHKEY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

/// Template parameters that differ locally, taken from the environment: the outbound guard's
/// allow-list (`LATCHKEY_OUTBOUND_ALLOW=127.0.0.1/32 make run` reaches local servers) and the
/// OAuth callback, which is this local API's own `/oauth/callback` unless said otherwise.
fn local_parameters(port: u16) -> BTreeMap<String, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut parameters = BTreeMap::from([
        (
            "OutboundAllow".to_string(),
            env("LATCHKEY_OUTBOUND_ALLOW").unwrap_or_default(),
        ),
        (
            "OAuthRedirectUri".to_string(),
            env("LATCHKEY_OAUTH_REDIRECT_URI")
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}/oauth/callback")),
        ),
    ]);
    // `make fuzz` points Snowflake logins at loopback, which the outbound guard refuses, and
    // lifts the test rate limit so that which calls answer 429 does not depend on the clock;
    // the console's tests sign in through an OpenID Connect issuer.
    for (parameter, variable) in [
        ("SnowflakeBaseUrl", "LATCHKEY_SNOWFLAKE_BASE_URL"),
        ("JwtIssuer", "LATCHKEY_JWT_ISSUER"),
        ("JwtAudience", "LATCHKEY_JWT_AUDIENCE"),
        ("ConsoleClientId", "LATCHKEY_CONSOLE_CLIENT_ID"),
        ("TestRateLimitPerUser", "LATCHKEY_TEST_RATE_PER_USER"),
        ("TestRateLimitPerOrg", "LATCHKEY_TEST_RATE_PER_ORG"),
        // `LATCHKEY_SECRET_STORAGE=envelope make run`: new secrets sealed in the secret table.
        ("SecretStorage", "LATCHKEY_SECRET_STORAGE"),
    ] {
        if let Some(value) = env(variable) {
            parameters.insert(parameter.to_string(), value);
        }
    }
    parameters
}

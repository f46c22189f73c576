//! The catalog itself: consistent, as the brief says, locators and URL and header rules.

use super::field_tests::fields;
use super::*;

#[test]
fn catalog_is_consistent() {
    let c = catalog();
    let ids: BTreeSet<&str> = c.connectors.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "rest_api",
            "s3",
            "ftp",
            "sftp",
            "postgres",
            "mysql",
            "snowflake"
        ])
    );
    for conn in &c.connectors {
        conn.auth_type(None).expect("default auth type exists");
        for auth in &conn.auth_types {
            let names = conn
                .common
                .required
                .iter()
                .chain(&conn.common.optional)
                .chain(&auth.required)
                .chain(&auth.optional);
            let mut seen = BTreeSet::new();
            for n in names {
                assert!(
                    conn.fields.contains_key(n),
                    "{}/{}: {n} undeclared",
                    conn.id,
                    auth.id
                );
                assert!(seen.insert(n), "{}/{}: {n} listed twice", conn.id, auth.id);
            }
        }
        for (name, spec) in &conn.fields {
            if let Some(d) = &spec.default {
                normalise(name, spec, d)
                    .unwrap_or_else(|_| panic!("{}: bad default for {name}", conn.id));
            }
            assert_eq!(
                spec.kind == FieldType::Enum,
                spec.values.is_some(),
                "{}.{name}",
                conn.id
            );
        }
    }
}

#[test]
fn rest_api_auth_types_and_secret_flags_match_the_brief() {
    let rest = catalog().connector("rest_api").unwrap();
    let auth: Vec<&str> = rest.auth_types.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        auth,
        [
            "none",
            "basic",
            "api_key",
            "bearer",
            "token_url",
            "oauth2_client_credentials",
            "oauth2_authorization_code"
        ]
    );
    let secret: BTreeSet<&str> = rest
        .fields
        .iter()
        .filter(|(_, s)| s.secret)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        secret,
        BTreeSet::from([
            "password",
            "api_key",
            "token",
            "client_secret",
            "access_token",
            "refresh_token"
        ])
    );
}

/// Two different valid values of a field, for tests driven by the catalog. For enums, the
/// strongest value first and the weakest second (a weakening locator's downgrade).
fn two_values(spec: &FieldSpec) -> (Value, Value) {
    match spec.kind {
        FieldType::String | FieldType::Text => (json!("value-a"), json!("value-b")),
        FieldType::Url => (
            json!("https://a.example.com/x"),
            json!("https://b.example.com/x"),
        ),
        FieldType::Hostname => (json!("a.example.com"), json!("b.example.com")),
        FieldType::Integer => (json!(1000), json!(1001)),
        FieldType::Boolean => (json!(true), json!(false)),
        FieldType::Enum => {
            let values = spec.values.as_deref().unwrap_or_default();
            (json!(values[values.len() - 1]), json!(values[0]))
        }
        FieldType::StringList => (json!(["a"]), json!(["b"])),
        FieldType::AccountIdentifier => (json!("acme-one"), json!("acme-two")),
        FieldType::AwsRegion => (json!("eu-central-1"), json!("us-east-1")),
        FieldType::PemCertificates => (
            json!("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"),
            json!("-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n"),
        ),
        FieldType::Headers => (json!({"X-A": "1"}), json!({"X-B": "2"})),
    }
}

/// Issue 11, item 2, from the catalog itself: for every connector, auth type and locator
/// field, changing (or removing) it without the user's secrets is refused; with them it is
/// accepted; and service-held tokens are never demanded but dropped.
#[test]
fn every_locator_of_every_connector_needs_the_secrets_again() {
    let mut checked = 0;
    for conn in &catalog().connectors {
        for auth in &conn.auth_types {
            let usable: Vec<(&str, &FieldSpec, bool)> = conn.fields_of(auth).collect();
            let mut stored = Map::new();
            for (name, spec, _) in &usable {
                stored.insert(name.to_string(), two_values(spec).0);
            }
            let valid = conn
                .validate_new(auth, &stored)
                .unwrap_or_else(|e| panic!("{}/{}: {}", conn.id, auth.id, e.public_message()));
            let names = valid.secrets.names();
            let user_secrets: Map<String, Value> = usable
                .iter()
                .filter(|(_, s, _)| s.secret && !s.held_by_service)
                .map(|(n, _, _)| (n.to_string(), json!("re-entered")))
                .collect();
            for (name, spec, required) in &usable {
                if spec.locator == Locator::No {
                    continue;
                }
                let mut changes = vec![two_values(spec).1];
                if !required {
                    changes.push(Value::Null);
                }
                for change in changes {
                    let label = format!("{}/{}: {name} -> {change}", conn.id, auth.id);
                    let patch = fields(json!({ *name: change.clone() }));
                    let result = conn.validate_patch(auth, &valid.public, &names, &patch);
                    if user_secrets.is_empty() {
                        assert!(result.is_ok(), "{label}: no secret to protect");
                        continue;
                    }
                    let err = result.expect_err(&label);
                    assert_eq!(err.code(), "secrets_required", "{label}");
                    assert!(err.public_message().contains(name), "{label}");
                    let message = err.public_message();
                    let demanded = message.split("; supply ").nth(1).unwrap_or_default();
                    for held in ["access_token", "refresh_token"] {
                        assert!(!demanded.contains(held), "{label}: {held} demanded");
                    }
                    let mut with = user_secrets.clone();
                    with.insert(name.to_string(), change.clone());
                    let ok = conn
                        .validate_patch(auth, &valid.public, &names, &with)
                        .unwrap_or_else(|e| panic!("{label}: {}", e.public_message()));
                    let held_before = names
                        .iter()
                        .any(|n| conn.spec(n).is_some_and(|s| s.held_by_service));
                    assert_eq!(ok.dropped_tokens, held_before, "{label}");
                    assert!(
                        ok.secret_names
                            .iter()
                            .all(|n| !conn.spec(n).is_some_and(|s| s.held_by_service)),
                        "{label}: tokens for the old destination kept"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} locator changes checked");
}

#[test]
fn urls_never_carry_credentials_and_accounts_are_identifiers() {
    let rest = catalog().connector("rest_api").unwrap();
    let auth = rest.auth_type(Some("bearer")).unwrap();
    let with_url =
        |url: &str| rest.validate_new(auth, &fields(json!({"token": "t", "validation_url": url})));
    assert!(with_url("https://api.example.com/me?fields=id&limit=1").is_ok());
    for url in [
        "https://user:canary@api.example.com/me",
        "https://user@api.example.com/me",
        "https://api.example.com/me?api_key=canary",
        "https://api.example.com/me?X-Amz-Signature=canary",
        "https://api.example.com/me?access-token=canary",
        "https://api.example.com/me?a=1&Client_Secret=canary",
    ] {
        let err = with_url(url).unwrap_err();
        assert_eq!((err.status(), err.code()), (422, "secret_in_url"), "{url}");
        assert!(err.public_message().contains("`validation_url`"));
        assert!(!err.public_message().contains("canary"));
    }
    let snow = catalog().connector("snowflake").unwrap();
    let auth = snow.auth_type(None).unwrap();
    let account = |a: &str| {
        snow.validate_new(
            auth,
            &fields(json!({"account": a, "username": "u", "password": "p"})),
        )
    };
    assert!(account("xy12345.eu-central-1").is_ok());
    assert!(account("myorg-myaccount").is_ok());
    for bad in [
        "evil.com/x",
        "a@b",
        "acct#",
        "acct:443",
        "a..b",
        ".a",
        "a.",
        "a b",
    ] {
        let err = account(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_field", "{bad}");
        assert!(err.public_message().contains("`account`"), "{bad}");
    }
    let s3 = catalog().connector("s3").unwrap();
    let auth = s3.auth_type(None).unwrap();
    let region = |r: &str| {
        s3.validate_new(auth, &fields(json!({"access_key_id": "AKIA", "secret_access_key": "s", "bucket": "b", "region": r})))
    };
    assert!(region("eu-central-1").is_ok());
    for bad in [
        "evil.example/x",
        "us-east-1.attacker",
        "US-EAST-1",
        "-x",
        "a b",
    ] {
        assert_eq!(region(bad).unwrap_err().code(), "invalid_field", "{bad}");
    }
}

#[test]
fn tls_upgrades_need_no_secrets_but_downgrades_do() {
    let pg = catalog().connector("postgres").unwrap();
    let auth = pg.auth_type(None).unwrap();
    let stored = pg
        .validate_new(auth, &fields(json!({"host": "db", "database": "d", "username": "u", "password": "p", "tls_mode": "require"})))
        .unwrap();
    let names = stored.secrets.names();
    let patch = |mode: &str| {
        pg.validate_patch(
            auth,
            &stored.public,
            &names,
            &fields(json!({"tls_mode": mode})),
        )
    };
    assert!(patch("verify-full").is_ok());
    assert!(patch("verify-ca").is_ok());
    for weaker in ["prefer", "disable"] {
        assert_eq!(
            patch(weaker).unwrap_err().code(),
            "secrets_required",
            "{weaker}"
        );
    }
    // Removing it falls back to the default, prefer: a downgrade too.
    let removed = pg.validate_patch(
        auth,
        &stored.public,
        &names,
        &fields(json!({"tls_mode": null})),
    );
    assert_eq!(removed.unwrap_err().code(), "secrets_required");
}

#[test]
fn headers_are_valid_http_and_never_carry_credentials_or_reroute() {
    let rest = catalog().connector("rest_api").unwrap();
    let auth = rest.auth_type(Some("bearer")).unwrap();
    let with = |headers: Value| {
        rest.validate_new(auth, &fields(json!({"token": "t", "headers": headers})))
    };
    assert!(with(json!({"X-Tenant": "acme", "Accept": "application/json"})).is_ok());
    for bad in [
        json!({"Host": "internal.example"}),
        json!({"authorization": "Bearer other"}),
        json!({"Proxy-Authorization": "x"}),
        json!({"Cookie": "session=1"}),
        json!({"X-Bad": "a\r\nHost: evil"}),
        json!({"Bad Name": "x"}),
        json!({"X-Empty": ""}),
        json!({"X-Number": 5}),
    ] {
        let err = with(bad.clone()).unwrap_err();
        assert_eq!(err.code(), "invalid_field", "{bad}");
        assert!(err.public_message().contains("`headers`"), "{bad}");
    }
}

//! Fields of a create and a patch: split, defaulted, refused; and properties of validation.

use super::*;
use secrecy::ExposeSecret;

pub(super) fn fields(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn new_credentials_split_secrets_and_apply_defaults() {
    let pg = catalog().connector("postgres").unwrap();
    let auth = pg.auth_type(None).unwrap();
    let valid = pg
        .validate_new(auth, &fields(json!({"host": "db.example.com", "database": "app", "username": "etl", "password": "pw"})))
        .unwrap();
    assert_eq!(valid.public["port"], json!(5432));
    assert_eq!(valid.public["tls_mode"], json!("prefer"));
    assert!(!valid.public.contains_key("password"));
    assert_eq!(valid.secrets.0["password"].expose_secret(), "pw");
    assert_eq!(format!("{:?}", valid.secrets), r#"{"password"}"#);
}

#[test]
fn bad_fields_are_refused_with_codes_and_without_values() {
    let pg = catalog().connector("postgres").unwrap();
    let auth = pg.auth_type(None).unwrap();
    let base =
        json!({"host": "db", "database": "app", "username": "u", "password": "canary-value"});
    let cases = [
        (json!({"port": "canary-value"}), "invalid_field"),
        (json!({"port": 70000}), "invalid_field"),
        (json!({"tls_mode": "canary-value"}), "invalid_field"),
        (json!({"password": 12}), "invalid_field"),
        (json!({"host": "canary-value/x"}), "invalid_field"),
        (json!({"nonsense": "canary-value"}), "unknown_field"),
        (json!({"password": null}), "missing_field"),
    ];
    for (extra, code) in cases {
        let mut f = fields(base.clone());
        f.extend(fields(extra.clone()));
        let err = pg.validate_new(auth, &f).unwrap_err();
        assert_eq!(err.code(), code, "{extra}");
        assert_eq!(err.status(), 400);
        assert!(
            !err.public_message().contains("canary-value"),
            "{}",
            err.public_message()
        );
    }
}

#[test]
fn patches_keep_omitted_secrets_and_drop_fields_of_the_old_auth_type() {
    let rest = catalog().connector("rest_api").unwrap();
    let basic = rest.auth_type(Some("basic")).unwrap();
    let stored = rest
        .validate_new(
            basic,
            &fields(
                json!({"username": "u", "password": "p", "base_url": "https://api.example.com"}),
            ),
        )
        .unwrap();
    let names = stored.secrets.names();

    let rename = rest
        .validate_patch(
            basic,
            &stored.public,
            &names,
            &fields(json!({"username": "v"})),
        )
        .unwrap();
    assert!(!rename.touches_secrets(&names));
    assert_eq!(rename.changed, BTreeSet::from(["username".to_string()]));

    let bearer = rest.auth_type(Some("bearer")).unwrap();
    let switch = rest
        .validate_patch(
            bearer,
            &stored.public,
            &names,
            &fields(json!({"token": "t"})),
        )
        .unwrap();
    assert!(switch.touches_secrets(&names));
    assert_eq!(switch.secret_names, BTreeSet::from(["token".to_string()]));
    assert!(!switch.public.contains_key("username"));
    assert_eq!(
        switch.changed,
        BTreeSet::from([
            "password".to_string(),
            "token".to_string(),
            "username".to_string()
        ])
    );

    let err = rest
        .validate_patch(bearer, &stored.public, &names, &Map::new())
        .unwrap_err();
    assert_eq!(err.code(), "missing_field");
}

mod properties {
    use super::super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,24}",
            "https?://[a-z]{1,8}(\\.example)?\\.com(:[0-9]{1,5})?/[a-z0-9?=&_%-]{0,16}",
            "[a-zA-Z0-9._-]{1,12}",
            "-----BEGIN [A-Z ]{1,16}-----\n[A-Za-z0-9+/=]{0,20}\n-----END [A-Z ]{1,16}-----",
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any value for any field of any connector: a verdict, never a panic; and what a
        /// field accepts, it accepts again unchanged (the stored form is a fixed point).
        #[test]
        fn field_validation_never_panics_and_is_a_fixed_point(value in json_value()) {
            for conn in &catalog().connectors {
                for (name, spec) in &conn.fields {
                    if let Ok(Normalised::Public(stored)) = normalise(name, spec, &value) {
                        let again = normalise(name, spec, &stored);
                        prop_assert!(
                            matches!(&again, Ok(Normalised::Public(v)) if *v == stored),
                            "{}.{name}: {stored}", conn.id
                        );
                    }
                }
            }
        }
    }
}

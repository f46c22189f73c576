use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::helpers::{postgres, Storage, TestApp};

#[tokio::test]
async fn the_catalog_describes_every_connector_with_typed_fields() {
    let app = TestApp::spawn().await;
    let reply = app.get("alice", "/connectors").await;
    assert_eq!(reply.status, 200);
    let connectors = reply.body["connectors"].as_array().unwrap();
    let ids: Vec<&str> = connectors
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "rest_api",
            "s3",
            "ftp",
            "sftp",
            "postgres",
            "mysql",
            "snowflake"
        ]
    );
    let pg = &connectors[4];
    let fields = pg["auth_types"][0]["fields"].as_array().unwrap();
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(field("password")["secret"], true);
    assert_eq!(field("password")["required"], true);
    assert_eq!(field("port")["type"], "integer");
    assert_eq!(field("port")["default"], 5432);
    assert_eq!(field("host")["secret"], false);
    let rest = &connectors[0];
    let auth: Vec<&str> = rest["auth_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(auth.contains(&"oauth2_authorization_code"));
}

#[tokio::test]
async fn a_created_credential_keeps_its_secret_in_secrets_manager_only() {
    let app = TestApp::spawn().await;
    let reply = app
        .post("alice", "/credentials", &postgres("warehouse", "pg-pass-1"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/credentials/{id}").as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let c = &reply.body;
    assert_eq!(c["owner"], "user:alice");
    assert_eq!(c["access_role"], "owner");
    assert_eq!(c["status"], "untested");
    assert_eq!(c["secret_fields"], json!(["password"]));
    assert_eq!(
        c["fields"],
        json!({"host": "db.example.com", "database": "sales", "username": "etl", "port": 5432, "tls_mode": "prefer"})
    );
    assert!(c["fields"].get("password").is_none());

    let got = app.get("alice", &format!("/credentials/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, reply.body);

    assert_eq!(
        app.stored_secret(&id).await,
        json!({"password": "pg-pass-1"})
    );
    let items = app.table_items().await;
    assert!(!format!("{items:?}").contains("pg-pass-1"));
    assert!(!app.items_as_text().await.contains("pg-pass-1"));
    let sealed = app.items_of(&app.secret_table).await;
    match app.storage {
        // Tagged, so the orphan sweep finds it whatever its metadata says.
        Storage::SecretsManager => {
            let secret = app
                .secrets()
                .describe_secret()
                .secret_id(format!("{}{id}", app.secret_prefix))
                .send()
                .await
                .unwrap();
            let tags: Vec<(&str, &str)> = secret
                .tags()
                .iter()
                .map(|t| (t.key().unwrap(), t.value().unwrap()))
                .collect();
            assert!(
                tags.contains(&("latchkey:credential-id", id.as_str())),
                "{tags:?}"
            );
        }
        // A head the orphan sweep lists, and one sealed version.
        Storage::Envelope => assert_eq!(sealed.len(), 3, "head, version, data key: {sealed:?}"),
    }
}

/// The version Secrets Manager labels AWSCURRENT, and its client secret. The stage is named
/// explicitly: moto's stage-less read does not follow a moved AWSCURRENT label.
async fn aws_current(app: &TestApp, id: &str) -> (String, Value) {
    let out = app
        .secrets()
        .get_secret_value()
        .secret_id(format!("{}{id}", app.secret_prefix))
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap();
    let value: Value = serde_json::from_str(out.secret_string().unwrap()).unwrap();
    (out.version_id.unwrap(), value["client_secret"].clone())
}

/// Moves AWSCURRENT back from `current` to the other version, as a promote lost to a crash
/// after its commit leaves it.
async fn lose_promote(app: &TestApp, id: &str, current: &str) {
    let secret_id = format!("{}{id}", app.secret_prefix);
    let versions = app
        .secrets()
        .list_secret_version_ids()
        .secret_id(&secret_id)
        .send()
        .await
        .unwrap();
    let other = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .find(|v| *v != current)
        .unwrap()
        .to_owned();
    app.secrets()
        .update_secret_version_stage()
        .secret_id(&secret_id)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&other)
        .remove_from_version_id(current)
        .send()
        .await
        .unwrap();
}

/// The credential's sealed versions (envelope storage) and whether each is set to expire.
async fn sealed_versions(app: &TestApp, id: &str) -> BTreeMap<String, bool> {
    app.items_of(&app.secret_table)
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap() == &format!("CRED#{id}"))
        .filter_map(|i| {
            let version = i["sk"].as_s().unwrap().strip_prefix("V#")?.to_owned();
            Some((version, i.contains_key("ttl")))
        })
        .collect()
}

#[tokio::test]
async fn nobody_else_can_see_or_touch_a_credential() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("mine", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let bob = app.token("bob");
    let alice_elsewhere = app.jwt.token("alice", "other-org", &[], 3600);
    for token in [&bob, &alice_elsewhere] {
        for (method, p, body) in [
            (Method::GET, path.clone(), None),
            (Method::PATCH, path.clone(), Some(json!({"name": "stolen"}))),
            (Method::DELETE, path.clone(), None),
            (Method::POST, format!("{path}/restore"), None),
            (Method::GET, format!("{path}/history"), None),
        ] {
            let reply = app
                .call(method.clone(), &p, Some(token), body.as_ref(), &[])
                .await;
            assert_eq!(reply.status, 404, "{method} {p}: {}", reply.text);
            assert_eq!(reply.code(), "not_found");
        }
        let list = app
            .call(Method::GET, "/credentials", Some(token), None, &[])
            .await;
        assert_eq!(list.body["items"], json!([]));
    }
    // A credential that does not exist answers exactly the same.
    let ghost = app
        .get("bob", "/credentials/cred_01hzzzzzzzzzzzzzzzzzzzzzzz")
        .await;
    assert_eq!(ghost.status, 404);
    assert_eq!(ghost.body, app.get("bob", &path).await.body);
    assert_eq!(app.get("alice", &path).await.body["name"], "mine");
}

#[tokio::test]
async fn listing_pages_through_the_callers_credentials_in_creation_order() {
    let app = TestApp::spawn().await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let mut body = postgres(&format!("pg-{i}"), "pw");
        if i % 2 == 0 {
            body["tags"] = json!(["even"]);
        }
        mine.push(
            app.create("alice", &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.create("alice", &json!({"name": "api", "connector": "rest_api", "auth_type": "bearer", "fields": {"token": "t"}})).await;
    app.create("bob", &postgres("bobs", "pw")).await;

    let mut seen = Vec::new();
    let mut path = "/credentials?limit=2&connector=postgres".to_string();
    loop {
        let page = app.get("alice", &path).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(item["access_role"], "owner");
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_token"].as_str() {
            Some(t) => path = format!("/credentials?limit=2&connector=postgres&next_token={t}"),
            None => break,
        }
    }
    assert_eq!(seen, mine);

    let all = app.get("alice", "/credentials").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 6);
    let even = app.get("alice", "/credentials?tag=even").await;
    assert_eq!(even.body["items"].as_array().unwrap().len(), 3);
    let owned = app.get("alice", "/credentials?role=owner").await;
    assert_eq!(owned.body["items"].as_array().unwrap().len(), 6);
    let bobs = app.get("bob", "/credentials").await;
    assert_eq!(bobs.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn patch_merges_fields_and_keeps_omitted_secrets() {
    let app = TestApp::spawn().await;
    let created = app
        .create(
            "alice",
            &json!({"name": "api", "connector": "rest_api", "auth_type": "oauth2_client_credentials",
                    "fields": {"token_url": "https://auth.example.com/token", "client_id": "cid", "client_secret": "s1",
                               "access_token": "a1", "base_url": "https://api.example.com"}}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/credentials/{id}");
    assert_eq!(created["token"]["auto_refresh"], json!(true));

    // A non-secret edit leaves the secret version alone.
    let renamed = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"name": "api v2", "fields": {"scopes": ["read"]}})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["version"], 2);
    assert_eq!(renamed.header("etag"), Some("\"2\""));
    assert_eq!(renamed.body["fields"]["scopes"], json!(["read"]));

    // One secret changes; the other keeps its stored value.
    let first_version = app.secret_version(id).await;
    let rotated = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"fields": {"client_secret": "s2", "scopes": null}})),
            &[("if-match", "2")],
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert!(rotated.body["fields"].get("scopes").is_none());
    assert_eq!(
        app.stored_secret(id).await,
        json!({"client_secret": "s2", "access_token": "a1"})
    );
    let named = app.secret_version(id).await;
    match app.storage {
        Storage::SecretsManager => {
            let (rotated_version, client_secret) = aws_current(&app, id).await;
            assert_eq!(client_secret, "s2", "AWSCURRENT follows the metadata");
            // A promote lost after its commit (a crash) leaves AWSCURRENT behind; the next one
            // finds it.
            lose_promote(&app, id, &rotated_version).await;
        }
        // The versions the metadata stopped naming expire; the named one does not.
        Storage::Envelope => {
            let versions = sealed_versions(&app, id).await;
            assert_eq!(versions.get(&first_version), Some(&true), "{versions:?}");
            let expiring: Vec<bool> = versions.values().copied().collect();
            assert_eq!(versions.get(&named), Some(&false), "{versions:?}");
            assert_eq!(expiring.iter().filter(|e| !**e).count(), 1, "{versions:?}");
        }
    }
    let again = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"fields": {"client_secret": "s3"}})),
            &[("if-match", "3")],
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    if app.storage == Storage::SecretsManager {
        assert_eq!(
            aws_current(&app, id).await.1,
            "s3",
            "AWSCURRENT found and moved"
        );
    }
    assert_eq!(
        app.stored_secret(id).await,
        json!({"client_secret": "s3", "access_token": "a1"})
    );

    // Switching auth type drops what the new one does not use.
    let switched = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"auth_type": "bearer", "fields": {"token": "t1"}})),
            &[],
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.text);
    assert_eq!(switched.body["secret_fields"], json!(["token"]));
    assert!(
        switched.body.get("token").is_none(),
        "no token block for bearer auth"
    );
    assert_eq!(app.stored_secret(id).await, json!({"token": "t1"}));

    // A stale version is refused and changes nothing.
    let stale = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"name": "late"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.code(), "version_mismatch");

    let history = app.get("alice", &format!("{path}/history")).await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["edited", "edited", "edited", "edited", "created"]);
    assert_eq!(history.body["items"][1]["fields"], json!(["client_secret"]));
    assert_eq!(
        history.body["items"][2]["fields"],
        json!(["client_secret", "scopes"])
    );
    assert_eq!(
        history.body["items"][3]["fields"],
        json!(["name", "scopes"])
    );
    app.assert_no_dangling_secret_references().await;
}

#[tokio::test]
async fn an_empty_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .call(
            Method::PATCH,
            &format!("/credentials/{id}"),
            Some(&app.token("alice")),
            Some(&json!({"name": "pg"})),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["version"], 1);
    let history = app
        .get("alice", &format!("/credentials/{id}/history"))
        .await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
}

use reqwest::Method;
use serde_json::json;

use crate::helpers::{postgres, TestApp};

#[tokio::test]
async fn delete_is_soft_and_restore_brings_everything_back() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw-1")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");

    let deleted = app
        .call(Method::DELETE, &path, Some(&app.token("alice")), None, &[])
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(deleted.body["deleted_at"].is_string());
    let purge_at = time::OffsetDateTime::parse(
        deleted.body["purge_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let window = purge_at - time::OffsetDateTime::now_utc();
    assert!(
        window > time::Duration::days(6) && window <= time::Duration::days(7),
        "{window}"
    );

    // Gone from reads and listings, still known to its owner, recoverable.
    let gone = app.get("alice", &path).await;
    assert_eq!(gone.status, 410);
    assert_eq!(gone.code(), "credential_deleted");
    assert_eq!(
        app.get("alice", "/credentials").await.body["items"],
        json!([])
    );
    let listed = app.get("alice", "/credentials?deleted=true").await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    let again = app
        .call(Method::DELETE, &path, Some(&app.token("alice")), None, &[])
        .await;
    assert_eq!(again.status, 410);
    let edit = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token("alice")),
            Some(&json!({"name": "x"})),
            &[],
        )
        .await;
    assert_eq!(edit.status, 410);

    // The secret is scheduled for deletion, not destroyed, and outlives the metadata by a day.
    assert!(
        app.secret_scheduled_for_deletion(&id).await,
        "secret scheduled for deletion"
    );
    let items = app.table_items().await;
    let meta = items
        .iter()
        .find(|i| i["sk"].as_s().unwrap() == "META")
        .unwrap();
    let ttl: i64 = meta["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, purge_at.unix_timestamp());
    let grant = items
        .iter()
        .find(|i| i["sk"].as_s().unwrap().starts_with("GRANT#"))
        .unwrap();
    assert_eq!(grant["ttl"].as_n().unwrap(), meta["ttl"].as_n().unwrap());

    let restored = app
        .post("alice", &format!("{path}/restore"), &json!({}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert!(restored.body.get("deleted_at").is_none());
    assert_eq!(app.get("alice", &path).await.status, 200);
    assert_eq!(
        app.get("alice", "/credentials").await.body["items"][0]["id"],
        id.as_str()
    );
    assert!(
        !app.secret_scheduled_for_deletion(&id).await,
        "secret deletion cancelled"
    );
    assert_eq!(app.stored_secret(&id).await, json!({"password": "pw-1"}));
    let items = app.table_items().await;
    assert!(items
        .iter()
        .filter(|i| !i["sk"].as_s().unwrap().starts_with("HIST#"))
        .all(|i| !i.contains_key("ttl")));

    let not_deleted = app
        .post("alice", &format!("{path}/restore"), &json!({}))
        .await;
    assert_eq!(not_deleted.status, 409);
    assert_eq!(not_deleted.code(), "not_deleted");

    let history = app.get("alice", &format!("{path}/history")).await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["restored", "deleted", "created"]);
    assert!(history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["actor"] == "user:alice"));
    app.assert_no_dangling_secret_references().await;
}

#[tokio::test]
async fn history_pages_newest_first() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    for i in 0..4 {
        let r = app
            .call(
                Method::PATCH,
                &path,
                Some(&app.token("alice")),
                Some(&json!({"name": format!("pg-{i}")})),
                &[],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let first = app.get("alice", &format!("{path}/history?limit=3")).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let token = first.body["next_token"].as_str().expect("more history");
    let second = app
        .get(
            "alice",
            &format!("{path}/history?limit=3&next_token={token}"),
        )
        .await;
    let actions: Vec<&str> = second.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["edited", "created"]);
    let bad = app
        .get("alice", &format!("{path}/history?next_token=bm9wZQ"))
        .await;
    assert_eq!(bad.status, 400);
}

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{postgres, TestApp};

#[tokio::test]
async fn of_concurrent_edits_on_one_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw-0")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let token = app.token("alice");
    let replies = join_all((0..8).map(|i| {
        let body =
            json!({"name": format!("writer-{i}"), "fields": {"password": format!("pw-{i}")}});
        let (app, path, token) = (&app, &path, &token);
        async move {
            app.call(
                Method::PATCH,
                path,
                Some(token),
                Some(&body),
                &[("if-match", "\"1\"")],
            )
            .await
        }
    }))
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(replies
        .iter()
        .filter(|r| r.status != 200)
        .all(|r| r.status == 412 && r.code() == "version_mismatch"));

    let now = app.get("alice", &path).await;
    assert_eq!(now.body["version"], 2);
    assert_eq!(now.body["name"], winners[0].body["name"]);
    // The secret the metadata names is the winner's, not a loser's that was written meanwhile.
    let winner = winners[0].body["name"]
        .as_str()
        .unwrap()
        .trim_start_matches("writer-")
        .to_owned();
    assert_eq!(
        app.stored_secret(&id).await,
        json!({"password": format!("pw-{winner}")})
    );
    let history = app.get("alice", &format!("{path}/history")).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 2);
    app.assert_no_dangling_secret_references().await;
}

#[tokio::test]
async fn a_retried_create_with_an_idempotency_key_returns_the_first_credential() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let body = postgres("once", "pw");
    let first = app
        .call(
            Method::POST,
            "/credentials",
            Some(&token),
            Some(&body),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(first.status, 201);
    let retry = app
        .call(
            Method::POST,
            "/credentials",
            Some(&token),
            Some(&body),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body["id"], first.body["id"]);

    // The same key for a different request is refused, not silently reinterpreted.
    let other = app
        .call(
            Method::POST,
            "/credentials",
            Some(&token),
            Some(&postgres("other", "pw")),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.code(), "idempotency_key_reused");

    // Keys belong to their user: bob's identical key creates bob's own credential.
    let bobs = app
        .call(
            Method::POST,
            "/credentials",
            Some(&app.token("bob")),
            Some(&body),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(bobs.status, 201);
    assert_ne!(bobs.body["id"], first.body["id"]);

    // Concurrent retries race on the key: one credential, one secret, all answers agree.
    let replies = join_all((0..6).map(|_| {
        let body = postgres("raced", "pw");
        let (app, token) = (&app, &token);
        async move {
            app.call(
                Method::POST,
                "/credentials",
                Some(token),
                Some(&body),
                &[("idempotency-key", "race")],
            )
            .await
        }
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let ids: std::collections::BTreeSet<String> =
        replies.iter().map(|r| r.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1);

    let listed = app.get("alice", "/credentials").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    let secrets = app.secret_ids().await;
    assert_eq!(
        secrets.len(),
        3,
        "one secret per credential, none left from lost races: {secrets:?}"
    );
    app.assert_no_dangling_secret_references().await;
}

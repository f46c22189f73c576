use reqwest::Method;
use serde_json::json;

use crate::helpers::{postgres, TestApp, ORG};

/// The walk-through: alice shares with bob's team, promotes bob, then revokes.
#[tokio::test]
async fn share_with_a_team_promote_and_revoke() {
    let app = TestApp::spawn().await;
    let id = app
        .create("alice", &postgres("warehouse", "s3cret-pg"))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let alice = app.token("alice");
    let bob = app.jwt.token("bob", ORG, &["analysts"], 3600);

    assert_eq!(
        app.call(Method::GET, &path, Some(&bob), None, &[])
            .await
            .status,
        404
    );
    let shared = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/team/analysts"),
            Some(&alice),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(shared.status, 201, "{}", shared.text);
    assert_eq!(
        shared.body,
        json!({"principal": "team:analysts", "type": "team", "id": "analysts", "role": "collaborator"})
    );

    // Bob lists and reads it, without secrets, but cannot edit or share it.
    let listed = app
        .call(Method::GET, "/credentials", Some(&bob), None, &[])
        .await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert_eq!(listed.body["items"][0]["access_role"], "collaborator");
    let read = app.call(Method::GET, &path, Some(&bob), None, &[]).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["access_role"], "collaborator");
    assert!(!read.text.contains("s3cret-pg"));
    let edit = app
        .call(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(&json!({"name": "mine now"})),
            &[],
        )
        .await;
    assert_eq!((edit.status.as_u16(), edit.code()), (403, "forbidden"));
    let reshare = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/mallory"),
            Some(&bob),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(reshare.status, 403);

    // Alice makes bob admin; he edits.
    let promoted = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/bob"),
            Some(&alice),
            Some(&json!({"role": "admin"})),
            &[],
        )
        .await;
    assert_eq!(promoted.status, 201);
    let edit = app
        .call(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(&json!({"name": "warehouse (bob)"})),
            &[],
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.text);
    assert_eq!(edit.body["access_role"], "admin");
    // An admin shares up to operator, never admin.
    let to_admin = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/carol"),
            Some(&bob),
            Some(&json!({"role": "admin"})),
            &[],
        )
        .await;
    assert_eq!(to_admin.status, 403);
    let to_operator = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/user/carol"),
            Some(&bob),
            Some(&json!({"role": "operator"})),
            &[],
        )
        .await;
    assert_eq!(to_operator.status, 201);

    // Alice revokes both of bob's ways in: 404 on the very next request.
    for who in ["user/bob", "team/analysts"] {
        let r = app
            .call(
                Method::DELETE,
                &format!("{path}/accessors/{who}"),
                Some(&alice),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    assert_eq!(
        app.call(Method::GET, &path, Some(&bob), None, &[])
            .await
            .status,
        404
    );
    assert_eq!(
        app.call(Method::GET, "/credentials", Some(&bob), None, &[])
            .await
            .body["items"],
        json!([])
    );

    let accessors = app.get("alice", &format!("{path}/accessors")).await;
    assert_eq!(
        accessors.body["items"],
        json!([
            {"principal": "user:alice", "type": "user", "id": "alice", "role": "owner"},
            {"principal": "user:carol", "type": "user", "id": "carol", "role": "operator"},
        ])
    );
    let history = app.get("alice", &format!("{path}/history")).await;
    let lines: Vec<(String, String)> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["principal"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expect = [
        ("revoked", "team:analysts"),
        ("revoked", "user:bob"),
        ("shared", "user:carol"),
        ("edited", ""),
        ("shared", "user:bob"),
        ("shared", "team:analysts"),
        ("created", ""),
    ];
    assert_eq!(lines, expect.map(|(a, p)| (a.to_owned(), p.to_owned())));
}

#[tokio::test]
async fn team_membership_and_org_grants_follow_the_token() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let alice = app.token("alice");
    app.call(
        Method::PUT,
        &format!("{path}/accessors/team/data"),
        Some(&alice),
        Some(&json!({"role": "operator"})),
        &[],
    )
    .await;
    let member = app.jwt.token("dan", ORG, &["ops", "data"], 3600);
    let left = app.jwt.token("dan", ORG, &["ops"], 3600);
    assert_eq!(
        app.call(Method::GET, &path, Some(&member), None, &[])
            .await
            .body["access_role"],
        "operator"
    );
    assert_eq!(
        app.call(Method::GET, &path, Some(&left), None, &[])
            .await
            .status,
        404,
        "leaving the team takes effect at once"
    );

    // An org grant reaches everyone in the org, and no one outside it.
    let org = app
        .call(
            Method::PUT,
            &format!("{path}/accessors/org/{ORG}"),
            Some(&alice),
            Some(&json!({"role": "collaborator"})),
            &[],
        )
        .await;
    assert_eq!(org.status, 201);
    assert_eq!(
        app.call(Method::GET, &path, Some(&left), None, &[])
            .await
            .body["access_role"],
        "collaborator"
    );
    assert_eq!(
        app.call(Method::GET, &path, Some(&member), None, &[])
            .await
            .body["access_role"],
        "operator",
        "strongest grant wins"
    );
    let outsider = app.jwt.token("dan", "globex", &["data"], 3600);
    assert_eq!(
        app.call(Method::GET, &path, Some(&outsider), None, &[])
            .await
            .status,
        404
    );
    let listed = app
        .call(
            Method::GET,
            "/credentials?role=operator",
            Some(&member),
            None,
            &[],
        )
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "listed once though reachable twice"
    );
    assert_eq!(
        app.call(
            Method::GET,
            "/credentials?role=admin",
            Some(&member),
            None,
            &[]
        )
        .await
        .body["items"],
        json!([])
    );
}

#[tokio::test]
async fn sharing_rules_are_enforced_with_clear_codes() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let alice = app.token("alice");
    let put = |who: &str, role: &str| (format!("{path}/accessors/{who}"), json!({"role": role}));
    for (who, role, status, code) in [
        ("org/globex", "collaborator", 422, "cross_org_grant"),
        ("user/bob", "owner", 422, "use_ownership_transfer"),
        ("user/alice", "admin", 422, "owner_role_fixed"),
        ("group/x", "admin", 400, "invalid_principal"),
        ("user/bad%23id", "admin", 400, "invalid_id"),
        ("user/bob", "root", 400, "invalid_role"),
    ] {
        let (p, body) = put(who, role);
        let r = app
            .call(Method::PUT, &p, Some(&alice), Some(&body), &[])
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{who} {role}: {}",
            r.text
        );
    }
    let owner = app
        .call(
            Method::DELETE,
            &format!("{path}/accessors/user/alice"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (owner.status.as_u16(), owner.code()),
        (422, "owner_not_revocable")
    );
    let missing = app
        .call(
            Method::DELETE,
            &format!("{path}/accessors/user/nobody"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "grant_not_found")
    );

    // Anyone may drop their own grant, whatever its role.
    app.call(
        Method::PUT,
        &format!("{path}/accessors/user/carl"),
        Some(&alice),
        Some(&json!({"role": "collaborator"})),
        &[],
    )
    .await;
    let dropped = app
        .call(
            Method::DELETE,
            &format!("{path}/accessors/user/carl"),
            Some(&app.token("carl")),
            None,
            &[],
        )
        .await;
    assert_eq!(dropped.status, 204);
    assert_eq!(app.get("carl", &path).await.status, 404);

    // Ownership moves to a user of the org; the previous owner stays admin.
    let moved = app
        .post("alice", &format!("{path}/owner"), &json!({"user": "bea"}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["owner"], "user:bea");
    assert_eq!(moved.body["access_role"], "admin");
    assert_eq!(app.get("bea", &path).await.body["access_role"], "owner");
    let again = app
        .post("alice", &format!("{path}/owner"), &json!({"user": "alice"}))
        .await;
    assert_eq!(again.status, 403, "alice is no longer the owner");
    let listed = app.get("bea", "/credentials?role=owner").await;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert_eq!(
        app.get("alice", "/credentials?role=owner").await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn usages_block_deletion_unless_forced() {
    let app = TestApp::spawn().await;
    let id = app.create("alice", &postgres("pg", "pw")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{id}");
    let alice = app.token("alice");
    app.call(
        Method::PUT,
        &format!("{path}/accessors/user/carl"),
        Some(&alice),
        Some(&json!({"role": "collaborator"})),
        &[],
    )
    .await;

    let attached = app
        .post(
            "carl",
            &format!("{path}/usages"),
            &json!({"kind": "source", "resource_id": "orders", "name": "Orders DB"}),
        )
        .await;
    assert_eq!(attached.status, 201, "{}", attached.text);
    assert_eq!(attached.body["added_by"], "user:carl");
    assert_eq!(
        app.post(
            "carl",
            &format!("{path}/usages"),
            &json!({"kind": "source", "resource_id": "orders"})
        )
        .await
        .status,
        200,
        "idempotent"
    );
    let bad = app
        .post(
            "carl",
            &format!("{path}/usages"),
            &json!({"kind": "sink", "resource_id": "x"}),
        )
        .await;
    assert_eq!(bad.code(), "invalid_field");
    let listed = app.get("carl", &format!("{path}/usages")).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let blocked = app
        .call(Method::DELETE, &path, Some(&alice), None, &[])
        .await;
    assert_eq!(
        (blocked.status.as_u16(), blocked.code()),
        (409, "credential_in_use")
    );
    assert!(blocked.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains('1'));

    // carl detaches what carl attached; then deletion goes through.
    let detached = app
        .call(
            Method::DELETE,
            &format!("{path}/usages/source/orders"),
            Some(&app.token("carl")),
            None,
            &[],
        )
        .await;
    assert_eq!(detached.status, 204);
    let gone = app
        .call(
            Method::DELETE,
            &format!("{path}/usages/source/orders"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(gone.code(), "usage_not_found");
    app.post(
        "alice",
        &format!("{path}/usages"),
        &json!({"kind": "destination", "resource_id": "lake"}),
    )
    .await;
    let forced = app
        .call(
            Method::DELETE,
            &format!("{path}?force=true"),
            Some(&alice),
            None,
            &[],
        )
        .await;
    assert_eq!(forced.status, 200);
    let after = app
        .post(
            "alice",
            &format!("{path}/usages"),
            &json!({"kind": "source", "resource_id": "late"}),
        )
        .await;
    assert_eq!(after.status, 410, "no new usages on a deleted credential");

    let history = app.get("alice", &format!("{path}/history")).await;
    let usage_lines: Vec<String> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| {
            h["usage"]
                .as_str()
                .map(|u| format!("{} {u}", h["action"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(
        usage_lines,
        [
            "usage_added destination:lake",
            "usage_removed source:orders",
            "usage_added source:orders"
        ]
    );
}

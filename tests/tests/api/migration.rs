//! The storage migration (issue 16, part 3): every credential's secret moves to the other store
//! and back, the API working throughout, and a run that stopped half-way (a limit, a crash
//! after the copy, a crash after the commit) is finished by running it again.

use latchkey_migrate::{MigrationReport, Migrator};
use latchkey_shared::domain::CredentialId;
use latchkey_shared::ports::{SecretOwner, SecretStore};
use latchkey_shared::secret_routing::held_by;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::helpers::{postgres, secret_fields, Storage, TestApp, ORG};

fn migrator(app: &TestApp, to: Storage) -> Migrator {
    // The operator's first step: SecretStorage set to where the secrets go.
    let mut config = app.stack.config("migrate").unwrap();
    config.secret_storage = to.mode();
    Migrator::new(&app.stack.aws, &config)
}

/// One of the two stores on its own, to leave behind what a crashed run leaves.
fn store(app: &TestApp, which: Storage) -> Arc<dyn SecretStore> {
    let config = app.stack.config("migrate").unwrap();
    let (secrets_manager, envelope) = latchkey_shared::aws::secret_stores(&app.stack.aws, &config);
    match which {
        Storage::SecretsManager => secrets_manager,
        Storage::Envelope => envelope.unwrap(),
    }
}

async fn run(app: &TestApp, to: Storage, limit: Option<usize>) -> MigrationReport {
    let mut request = json!({"to": to.mode()});
    if let Some(limit) = limit {
        request["limit"] = json!(limit);
    }
    let answer = migrator(app, to).handle(request).await;
    serde_json::from_value(answer.clone()).unwrap_or_else(|_| panic!("{answer}"))
}

async fn assert_all_in(app: &TestApp, ids: &[String], storage: Storage) {
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            app.stored_secret(id).await,
            json!({"password": format!("pw-{i}")}),
            "{id}"
        );
        assert_eq!(
            held_by(&app.secret_version(id).await),
            storage.mode(),
            "{id}"
        );
    }
    app.assert_no_dangling_secret_references().await;
}

#[tokio::test]
async fn every_secret_moves_to_the_other_store_and_back_and_a_stopped_run_resumes() {
    let app = TestApp::spawn().await;
    let (from, to) = (app.storage, app.storage.other());
    let mut ids = Vec::new();
    for i in 0..5 {
        let created = app
            .create("alice", &postgres(&format!("db-{i}"), &format!("pw-{i}")))
            .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let deleted = app.create("alice", &postgres("gone", "pw-gone")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/credentials/{deleted}?force=true");
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&app.token("alice")), None, &[])
            .await
            .status,
        200
    );

    // A run that crashed after writing the first credential's copy, before its commit.
    let first = CredentialId::parse(&ids[0]).unwrap();
    store(&app, to)
        .create(
            SecretOwner {
                id: &first,
                org: ORG,
            },
            &secret_fields(&[("password", "stale")]),
        )
        .await
        .unwrap();

    let refused = migrator(&app, from).handle(json!({"to": to.mode()})).await;
    assert_eq!(
        refused["error"]["code"], "storage_mode_mismatch",
        "{refused}"
    );
    assert_eq!(
        migrator(&app, to).handle(json!({"to": "elsewhere"})).await["error"]["code"],
        "invalid_request"
    );

    // A run that stops half-way, as a timeout would.
    let partial = run(&app, to, Some(3)).await;
    assert_eq!(
        partial,
        MigrationReport {
            examined: 5,
            moved: 3,
            remaining: 2,
            ..Default::default()
        }
    );
    // A run that crashed after the second credential's commit, before destroying its old copy.
    let second = CredentialId::parse(&ids[1]).unwrap();
    store(&app, from)
        .create(
            SecretOwner {
                id: &second,
                org: ORG,
            },
            &secret_fields(&[("password", "pw-1")]),
        )
        .await
        .unwrap();
    // The API works on both stores meanwhile.
    assert_all_in(&app, &ids[..1], to).await;
    assert_eq!(
        app.stored_secret(&ids[4]).await,
        json!({"password": "pw-4"})
    );

    let resumed = run(&app, to, None).await;
    assert_eq!(
        resumed,
        MigrationReport {
            examined: 3,
            moved: 2,
            cleaned_up: 1,
            ..Default::default()
        }
    );
    assert_all_in(&app, &ids, to).await;
    assert_eq!(
        app.secret_ids_in(from).await,
        std::slice::from_ref(&deleted),
        "only the deleted credential's secret is left..."
    );
    assert!(
        app.secret_scheduled_for_deletion(&deleted).await,
        "...scheduled for deletion"
    );
    let mut in_target = app.secret_ids_in(to).await;
    in_target.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(in_target, expected, "one copy each, no stale one");
    let history = app
        .get("alice", &format!("/credentials/{}/history", ids[2]))
        .await
        .body;
    assert_eq!(history["items"][0]["action"], "storage_moved", "{history}");
    assert_eq!(history["items"][0]["actor"], "service:migration");
    assert_eq!(
        run(&app, to, None).await,
        MigrationReport::default(),
        "nothing left to do"
    );
    // A deleted credential whose secret is live (its deletion was never scheduled) stays put:
    // moving it would bring a deleted secret back to life in the other store.
    let gone = CredentialId::parse(&deleted).unwrap();
    let named = app.secret_version(&deleted).await;
    store(&app, from).restore(&gone, &named).await.unwrap();
    assert_eq!(
        run(&app, to, None).await,
        MigrationReport {
            examined: 1,
            deleted: 1,
            ..Default::default()
        }
    );

    // Edits and restores keep working where each secret is.
    for password in ["pw-3b", "pw-3"] {
        let edited = app
            .call(
                Method::PATCH,
                &format!("/credentials/{}", ids[3]),
                Some(&app.token("alice")),
                Some(&json!({"fields": {"password": password}})),
                &[],
            )
            .await;
        assert_eq!(edited.status, 200, "{}", edited.text);
        assert_eq!(
            app.stored_secret(&ids[3]).await,
            json!({"password": password})
        );
        assert_eq!(
            held_by(&app.secret_version(&ids[3]).await),
            to.mode(),
            "edited in place"
        );
    }
    let restored = app
        .post(
            "alice",
            &format!("/credentials/{deleted}/restore"),
            &json!({}),
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.text);
    assert_eq!(
        app.stored_secret(&deleted).await,
        json!({"password": "pw-gone"})
    );
    assert_eq!(
        run(&app, to, None).await,
        MigrationReport {
            examined: 1,
            moved: 1,
            ..Default::default()
        },
        "the restored credential follows"
    );

    // And back again.
    let back = run(&app, from, None).await;
    assert_eq!(
        back,
        MigrationReport {
            examined: 6,
            moved: 6,
            ..Default::default()
        }
    );
    assert_all_in(&app, &ids, from).await;
    assert!(app.secret_ids_in(to).await.is_empty());
    let material: Value = latchkey_resolve::Resolver::new(&app.stack.aws, &app.stack.config("resolve").unwrap())
        .handle(json!({"action": "resolve", "credential_id": ids[0], "principal": {"user": "alice", "org_id": ORG}}))
        .await;
    assert_eq!(material["secrets"]["password"], "pw-0", "{material}");
}

//! The one write path: secret version first, metadata conditioned on the version read, then
//! promote or clean up.

use crate::commit::{commit, commit_with_secrets, Committed, Secrets, Write};
use crate::domain::CredentialId;
use crate::ports::{CredentialStore, SecretReader, SecretStore};
use crate::record::{CredentialRecord, HistoryAction, HistoryEntry};
use crate::store::{IdempotencyKey, IdempotencyRecord};
use crate::testing::secret_fields;
use crate::vault::Pending;

use super::{alice, postgres, World};

fn edited(world: &World) -> HistoryEntry {
    HistoryEntry::new(HistoryAction::Edited, "user:alice", world.now())
}

#[tokio::test]
async fn a_create_names_its_first_secret_version_and_writes_its_grants_and_history() {
    let world = World::default();
    let record = postgres(&world).await;
    assert_eq!(record.version, 1);
    assert_eq!(
        world
            .secrets
            .value(&record.id, &record.secret_version, "password")
            .as_deref(),
        Some("pw-1")
    );
    assert_eq!(
        world.stored(&record.id).await.secret_version,
        record.secret_version
    );
    assert_eq!(world.store.indexed_for("acme", "user:alice").len(), 1);
    let history = world.store.history_of(&record.id);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, HistoryAction::Created);
    assert!(
        !world.store.dump().contains("pw-1"),
        "no secret in metadata"
    );
}

#[tokio::test]
async fn a_create_refused_for_its_idempotency_key_leaves_no_secret_behind() {
    let world = World::default();
    let key = IdempotencyKey::new("acme", "alice", "k1");
    let taken = IdempotencyRecord {
        credential_id: CredentialId::generate(),
        fingerprint: "f".into(),
    };
    let first = CredentialRecord::new(
        CredentialId::generate(),
        &alice(),
        ("postgres", "password"),
        Default::default(),
        Default::default(),
        world.now(),
    );
    let write = Write {
        idempotency: Some((&key, &taken)),
        ..Write::create(first.clone(), edited(&world))
    };
    let secrets = Secrets::First(secret_fields(&[("password", "pw")]));
    let outcome = commit_with_secrets(&*world.store, &*world.secrets, write, secrets);
    assert!(matches!(outcome.await.unwrap(), Committed::Written(_)));

    let second = CredentialRecord {
        id: CredentialId::generate(),
        ..first.clone()
    };
    let write = Write {
        idempotency: Some((&key, &taken)),
        ..Write::create(second.clone(), edited(&world))
    };
    let secrets = Secrets::First(secret_fields(&[("password", "pw")]));
    let outcome = commit_with_secrets(&*world.store, &*world.secrets, write, secrets);
    assert!(matches!(
        outcome.await.unwrap(),
        Committed::IdempotencyKeyTaken
    ));
    assert!(world.store.get(&second.id).await.unwrap().is_none());
    assert_eq!(
        world.secrets.versions(&second.id),
        0,
        "the unreferenced secret is destroyed"
    );
}

#[tokio::test]
async fn an_edit_with_new_secrets_names_and_promotes_a_derived_version() {
    let world = World::default();
    let record = postgres(&world).await;
    let write = Write::update(&record, record.clone(), edited(&world));
    let secrets = Secrets::Replace(secret_fields(&[("password", "pw-2")]), Pending::Edit);
    let Committed::Written(next) =
        commit_with_secrets(&*world.store, &*world.secrets, write, secrets)
            .await
            .unwrap()
    else {
        panic!("the edit is written");
    };
    assert_eq!(next.version, 2);
    assert_ne!(next.secret_version, record.secret_version);
    assert!(crate::vault::derives_from(
        &next.secret_version,
        &record.secret_version
    ));
    let read = world
        .secrets
        .read(record.secret_owner(), &next.secret_version)
        .await
        .unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&read.0["password"]),
        "pw-2"
    );
    assert_eq!(
        world.stored(&record.id).await.secret_version,
        next.secret_version
    );
}

#[tokio::test]
async fn an_edit_that_lost_the_race_changes_nothing_and_drops_its_pending_label() {
    let world = World::default();
    let record = postgres(&world).await;
    // Someone else's edit lands first.
    let theirs = Write::update(&record, record.clone(), edited(&world));
    assert!(matches!(
        commit(&*world.store, theirs).await.unwrap(),
        Committed::Written(_)
    ));

    let mine = Write::update(&record, record.clone(), edited(&world));
    let secrets = Secrets::Replace(secret_fields(&[("password", "mine")]), Pending::Edit);
    let outcome = commit_with_secrets(&*world.store, &*world.secrets, mine, secrets);
    assert!(matches!(outcome.await.unwrap(), Committed::Conflict));
    let stored = world.stored(&record.id).await;
    assert_eq!(
        (stored.version, &stored.secret_version),
        (2, &record.secret_version)
    );
    // A later refresh does not mistake the abandoned edit for its own interrupted work.
    let input = world
        .secrets
        .refresh_input(record.secret_owner(), &record.secret_version)
        .await
        .unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&input.0["password"]),
        "pw-1"
    );
}

#[tokio::test]
async fn a_metadata_write_that_failed_outright_is_an_error_and_names_nothing_new() {
    let world = World::default();
    let record = postgres(&world).await;
    world.store.fail_next_writes(1);
    let write = Write::update(&record, record.clone(), edited(&world));
    let secrets = Secrets::Replace(secret_fields(&[("password", "pw-2")]), Pending::Edit);
    let outcome = commit_with_secrets(&*world.store, &*world.secrets, write, secrets).await;
    let err = outcome.unwrap_err().to_string();
    assert!(err.contains("unreachable"), "{err}");
    let stored = world.stored(&record.id).await;
    assert_eq!(
        (stored.version, stored.secret_version),
        (1, record.secret_version)
    );
}

#[tokio::test]
async fn a_write_that_keeps_the_secret_cannot_create() {
    let world = World::default();
    let record = CredentialRecord::new(
        CredentialId::generate(),
        &alice(),
        ("postgres", "password"),
        Default::default(),
        Default::default(),
        world.now(),
    );
    let write = Write::create(record.clone(), edited(&world));
    let err = commit(&*world.store, write).await.unwrap_err().to_string();
    assert!(err.contains("first secret version"), "{err}");
    assert!(world.store.get(&record.id).await.unwrap().is_none());
}

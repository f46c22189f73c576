//! The orphan sweep against the in-memory adapters.

use latchkey_shared::domain::CredentialId;
use latchkey_shared::testing::{caller, config, World};
use serde_json::json;

use crate::Janitor;

#[tokio::test]
async fn only_old_secrets_that_no_credential_names_are_removed() {
    let world = World::default();
    let janitor = Janitor::with_ports(
        world.store.clone(),
        world.secrets.clone(),
        world.clock.clone(),
        &config(&[]),
    );
    let named = world
        .create(
            &caller("alice", "acme", &[]),
            ("postgres", "password"),
            json!({ "host": "db.example.com" }),
            &[("password", "pw")],
        )
        .await;
    let old_orphan = CredentialId::generate();
    let young_orphan = CredentialId::generate();
    world
        .secrets
        .plant_orphan(&old_orphan, world.now() - time::Duration::hours(2));
    world
        .secrets
        .plant_orphan(&young_orphan, world.now() - time::Duration::minutes(5));
    let report = janitor.sweep().await.unwrap();
    assert_eq!((report.examined, report.removed), (3, 1));
    assert_eq!(world.secrets.versions(&old_orphan), 0);
    assert!(
        world.secrets.is_live(&young_orphan),
        "a create may still be writing it"
    );
    assert!(world.secrets.is_live(&named.id));
}

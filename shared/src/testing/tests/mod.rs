//! Unit tests of the use cases in the common crate, against the in-memory adapters.

mod checks;
mod commit;
mod refresh;
mod retries;
mod validity;

use crate::domain::Caller;
use crate::testing::{caller, World};
use serde_json::json;

fn alice() -> Caller {
    caller("alice", "acme", &["data"])
}

/// A Postgres credential of alice's, with password `pw-1`.
async fn postgres(world: &World) -> crate::record::CredentialRecord {
    world
        .create(
            &alice(),
            ("postgres", "password"),
            json!({ "host": "db.example.com", "port": 5432, "database": "app", "username": "app" }),
            &[("password", "pw-1")],
        )
        .await
}

//! The sharing handlers' logic against the in-memory adapters: who may grant, revoke and
//! transfer, what each answers, and what the index and the events say afterwards.

use latchkey_shared::domain::Caller;
use latchkey_shared::record::CredentialRecord;
use latchkey_shared::testing::{answer, caller, ApiRequest, World};
use serde_json::{json, Value};

use crate::Service;

fn alice() -> Caller {
    caller("alice", "acme", &[])
}

async fn setup() -> (World, Service, CredentialRecord) {
    let world = World::default();
    let service = Service::with_ports(world.ports());
    let record = world
        .create(
            &alice(),
            ("postgres", "password"),
            json!({ "host": "db.example.com", "username": "app" }),
            &[("password", "pw")],
        )
        .await;
    (world, service, record)
}

async fn grant(
    service: &Service,
    record: &CredentialRecord,
    by: &Caller,
    (kind, id, role): (&str, &str, &str),
) -> (u16, Value) {
    let req = ApiRequest::new("PUT /credentials/{id}/accessors/{type}/{pid}")
        .param("id", record.id.as_str())
        .param("type", kind)
        .param("pid", id)
        .body(json!({ "role": role }))
        .from(by);
    answer(service.handle(req).await.unwrap())
}

async fn revoke(
    service: &Service,
    record: &CredentialRecord,
    by: &Caller,
    (kind, id): (&str, &str),
) -> (u16, Value) {
    let req = ApiRequest::new("DELETE /credentials/{id}/accessors/{type}/{pid}")
        .param("id", record.id.as_str())
        .param("type", kind)
        .param("pid", id)
        .from(by);
    answer(service.handle(req).await.unwrap())
}

#[tokio::test]
async fn the_owner_shares_with_a_team_which_the_index_then_lists() {
    let (world, service, record) = setup().await;
    let (status, body) = grant(
        &service,
        &record,
        &alice(),
        ("team", "data", "collaborator"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["principal"], "team:data");
    assert_eq!(world.store.indexed_for("acme", "team:data").len(), 1);
    assert_eq!(world.events.types(), ["CredentialShared"]);
    // The same grant again changes nothing and says so.
    let (status, _) = grant(
        &service,
        &record,
        &alice(),
        ("team", "data", "collaborator"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(world.stored(&record.id).await.version, 2);
}

#[tokio::test]
async fn a_stranger_learns_nothing_about_the_credential() {
    let (world, service, record) = setup().await;
    let mallory = caller("mallory", "acme", &[]);
    let (status, body) = grant(&service, &record, &mallory, ("user", "mallory", "admin")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let outsider = caller("alice", "other", &[]);
    let (status, _) = grant(
        &service,
        &record,
        &outsider,
        ("user", "eve", "collaborator"),
    )
    .await;
    assert_eq!(
        status, 404,
        "the same name in another organisation is someone else"
    );
    assert_eq!(world.stored(&record.id).await.acl.len(), 1);
}

#[tokio::test]
async fn an_admin_shares_up_to_operator_and_only_the_owner_hands_out_admin() {
    let (_world, service, record) = setup().await;
    grant(&service, &record, &alice(), ("user", "bob", "admin")).await;
    let bob = caller("bob", "acme", &[]);
    let (status, _) = grant(&service, &record, &bob, ("user", "carol", "operator")).await;
    assert_eq!(status, 201);
    let (status, body) = grant(&service, &record, &bob, ("user", "carol", "admin")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let carol = caller("carol", "acme", &[]);
    let (status, _) = grant(&service, &record, &carol, ("user", "dave", "collaborator")).await;
    assert_eq!(status, 403, "an operator shares nothing");
}

#[tokio::test]
async fn ownership_moves_only_by_transfer_and_never_across_organisations() {
    let (_world, service, record) = setup().await;
    let (status, body) = grant(&service, &record, &alice(), ("user", "bob", "owner")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("use_ownership_transfer"))
    );
    let (status, body) = grant(
        &service,
        &record,
        &alice(),
        ("org", "other", "collaborator"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("cross_org_grant"))
    );
    let (status, body) = grant(&service, &record, &alice(), ("robot", "r2", "collaborator")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_principal"))
    );
    let (status, body) = grant(
        &service,
        &record,
        &alice(),
        ("user", "b/ob", "collaborator"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_id"))
    );
}

#[tokio::test]
async fn a_collaborator_drops_their_own_grant_but_not_anyone_elses() {
    let (world, service, record) = setup().await;
    grant(&service, &record, &alice(), ("user", "bob", "collaborator")).await;
    grant(
        &service,
        &record,
        &alice(),
        ("user", "carol", "collaborator"),
    )
    .await;
    let bob = caller("bob", "acme", &[]);
    let (status, _) = revoke(&service, &record, &bob, ("user", "carol")).await;
    assert_eq!(status, 403);
    let (status, _) = revoke(&service, &record, &bob, ("user", "bob")).await;
    assert_eq!(status, 204);
    assert!(world.store.indexed_for("acme", "user:bob").is_empty());
    let (status, body) = revoke(&service, &record, &alice(), ("user", "bob")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("grant_not_found"))
    );
    let (status, body) = revoke(&service, &record, &alice(), ("user", "alice")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("owner_not_revocable"))
    );
}

#[tokio::test]
async fn a_transfer_makes_the_previous_owner_an_admin() {
    let (world, service, record) = setup().await;
    let req = ApiRequest::new("POST /credentials/{id}/owner")
        .param("id", record.id.as_str())
        .body(json!({ "user": "bob" }))
        .from(&alice());
    let (status, body) = answer(service.handle(req).await.unwrap());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["owner"], "user:bob");
    assert_eq!(body["access_role"], "admin");
    let stored = world.stored(&record.id).await;
    assert_eq!(stored.acl["user:alice"].as_str(), "admin");
    assert_eq!(
        world.store.indexed_for("acme", "user:bob")[0].1.as_str(),
        "owner"
    );
    assert_eq!(world.events.types(), ["CredentialOwnerChanged"]);
}

#[tokio::test]
async fn accessors_are_listed_strongest_first_to_anyone_with_access() {
    let (_world, service, record) = setup().await;
    grant(
        &service,
        &record,
        &alice(),
        ("team", "data", "collaborator"),
    )
    .await;
    grant(&service, &record, &alice(), ("user", "bob", "operator")).await;
    let dana = caller("dana", "acme", &["data"]);
    let req = ApiRequest::new("GET /credentials/{id}/accessors")
        .param("id", record.id.as_str())
        .from(&dana);
    let (status, body) = answer(service.handle(req).await.unwrap());
    assert_eq!(status, 200);
    let principals: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["principal"].as_str().unwrap())
        .collect();
    assert_eq!(principals, ["user:alice", "user:bob", "team:data"]);
}

#[tokio::test]
async fn a_deleted_credential_cannot_be_shared() {
    let (world, service, record) = setup().await;
    let mut deleted = record.clone();
    deleted.deleted_at = Some(world.now());
    world.store.put(deleted);
    let (status, body) = grant(&service, &record, &alice(), ("user", "bob", "collaborator")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("credential_deleted"))
    );
}

//! The credentials handlers' logic against the in-memory adapters: create and its idempotent
//! replay, edits conditioned on the version read, secrets never answered, soft delete past
//! usages and restore, listing only what the caller may see.

use latchkey_shared::domain::{Caller, CredentialId};
use latchkey_shared::ports::CredentialStore;
use latchkey_shared::testing::{answer, caller, config, ApiRequest, World};
use serde_json::{json, Value};

use crate::Service;

const CANARY: &str = "canary-7f3a9c";

fn alice() -> Caller {
    caller("alice", "acme", &["data"])
}

fn service(world: &World) -> Service {
    Service::with_ports(world.ports(), world.secrets.clone(), config(&[]))
}

fn new_postgres(name: &str) -> Value {
    json!({ "name": name, "connector": "postgres", "fields": {
        "host": "db.example.com", "database": "sales", "username": "etl", "password": CANARY } })
}

async fn call(service: &Service, req: lambda_http::Request) -> (u16, Value) {
    answer(service.handle(req).await.unwrap())
}

async fn create(service: &Service, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = ApiRequest::new("POST /credentials").body(body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    call(service, req.from(&alice())).await
}

fn id_of(body: &Value) -> CredentialId {
    CredentialId::parse(body["id"].as_str().expect("an id")).expect("a credential id")
}

#[tokio::test]
async fn a_created_credential_keeps_its_secret_out_of_every_answer_record_and_event() {
    let world = World::default();
    let service = service(&world);
    let (status, body) = create(&service, new_postgres("warehouse"), None).await;
    assert_eq!(status, 201, "{body}");
    let id = id_of(&body);
    assert_eq!(body["secret_fields"], json!(["password"]));
    let password = world.current_secret(&id, "password").await;
    assert_eq!(password.as_deref(), Some(CANARY));
    let get = ApiRequest::new("GET /credentials/{id}").param("id", id.as_str());
    let (_, read) = call(&service, get.from(&alice())).await;
    for text in [body.to_string(), read.to_string(), world.store.dump()] {
        assert!(!text.contains(CANARY), "the canary leaked: {text}");
    }
    assert!(!format!("{:?}", world.events.all()).contains(CANARY));
    assert_eq!(world.events.types(), ["CredentialCreated"]);
}

#[tokio::test]
async fn a_retried_create_answers_the_first_credential_and_creates_no_other() {
    let world = World::default();
    let service = service(&world);
    let (first, body) = create(&service, new_postgres("warehouse"), Some("k-1")).await;
    let (again, replayed) = create(&service, new_postgres("warehouse"), Some("k-1")).await;
    assert_eq!((first, again), (201, 201));
    assert_eq!(body["id"], replayed["id"]);
    let (status, other) = create(&service, new_postgres("other"), Some("k-1")).await;
    assert_eq!(
        (status, other["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let listed = world.store.indexed_for("acme", "user:alice");
    assert_eq!(listed.len(), 1, "one credential for one key");
    // Keys belong to their caller: bob's k-1 is another request.
    let bob = caller("bob", "acme", &[]);
    let req = ApiRequest::new("POST /credentials")
        .header("Idempotency-Key", "k-1")
        .body(new_postgres("warehouse"));
    let (status, theirs) = call(&service, req.from(&bob)).await;
    assert_eq!(status, 201);
    assert_ne!(theirs["id"], body["id"]);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_member_it_is_about_and_stores_nothing() {
    let world = World::default();
    let service = service(&world);
    let mut body = new_postgres("warehouse");
    body["fields"]["port"] = json!("not a port");
    let (status, answer) = create(&service, body, None).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], "invalid_field");
    assert_eq!(answer["error"]["fields"], json!(["fields.port"]));
    let (status, answer) = create(
        &service,
        json!({ "name": "x", "connector": "gopher" }),
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("unknown_connector"))
    );
    assert!(world.store.indexed_for("acme", "user:alice").is_empty());
    assert!(world.events.all().is_empty());
}

#[tokio::test]
async fn an_edit_against_a_stale_version_is_refused_and_a_current_one_lands() {
    let world = World::default();
    let service = service(&world);
    let (_, body) = create(&service, new_postgres("warehouse"), None).await;
    let id = id_of(&body);
    let patch = |version: &str, body: Value| {
        ApiRequest::new("PATCH /credentials/{id}")
            .param("id", id.as_str())
            .header("If-Match", version)
            .body(body)
            .from(&alice())
    };
    let (status, answer) = call(&service, patch("\"7\"", json!({ "name": "x" }))).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (412, Some("version_mismatch"))
    );
    let new_password = json!({ "fields": { "password": "second-secret" } });
    let (status, answer) = call(&service, patch("\"1\"", new_password)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["version"], 2);
    let password = world.current_secret(&id, "password").await;
    assert_eq!(password.as_deref(), Some("second-secret"));
    assert_eq!(world.secrets.versions(&id), 2);
}

#[tokio::test]
async fn a_credential_in_use_is_deleted_only_by_force_and_restored_whole() {
    let world = World::default();
    let service = service(&world);
    let (_, body) = create(&service, new_postgres("warehouse"), None).await;
    let id = id_of(&body);
    let attach = ApiRequest::new("POST /credentials/{id}/usages")
        .param("id", id.as_str())
        .body(json!({ "kind": "source", "resource_id": "orders" }));
    let (status, _) = call(&service, attach.from(&alice())).await;
    assert_eq!(status, 201);
    let delete = |force: bool| {
        let req = ApiRequest::new("DELETE /credentials/{id}").param("id", id.as_str());
        let req = if force {
            req.query("force", "true")
        } else {
            req
        };
        req.from(&alice())
    };
    let (status, answer) = call(&service, delete(false)).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("credential_in_use"))
    );
    let (status, answer) = call(&service, delete(true)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["purge_at"].is_string());
    assert!(
        !world.secrets.is_live(&id),
        "the secret's deletion is scheduled"
    );
    let get = ApiRequest::new("GET /credentials/{id}").param("id", id.as_str());
    let (status, _) = call(&service, get.from(&alice())).await;
    assert_eq!(status, 410);
    let restore = ApiRequest::new("POST /credentials/{id}/restore").param("id", id.as_str());
    let (status, answer) = call(&service, restore.from(&alice())).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("deleted_at").is_none_or(Value::is_null));
    assert!(world.secrets.is_live(&id));
    assert_eq!(world.store.usage_count(&id).await.unwrap(), 1);
}

#[tokio::test]
async fn a_stranger_cannot_tell_a_credential_exists() {
    let world = World::default();
    let service = service(&world);
    let (_, body) = create(&service, new_postgres("warehouse"), None).await;
    let id = id_of(&body);
    let mallory = caller("mallory", "acme", &[]);
    for route in [
        "GET /credentials/{id}",
        "GET /credentials/{id}/history",
        "DELETE /credentials/{id}",
    ] {
        let req = ApiRequest::new(route).param("id", id.as_str());
        let (status, answer) = call(&service, req.from(&mallory)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{route}"
        );
    }
    let unknown =
        ApiRequest::new("GET /credentials/{id}").param("id", CredentialId::generate().as_str());
    let (status, _) = call(&service, unknown.from(&alice())).await;
    assert_eq!(
        status, 404,
        "the same answer as for a credential that does not exist"
    );
}

#[tokio::test]
async fn the_list_shows_what_the_caller_may_see_through_any_principal() {
    let world = World::default();
    let service = service(&world);
    create(&service, new_postgres("mine"), None).await;
    let bob = caller("bob", "acme", &["data"]);
    let (_, shared) = call(
        &service,
        ApiRequest::new("POST /credentials")
            .body(new_postgres("team"))
            .from(&bob),
    )
    .await;
    world
        .share(
            &id_of(&shared),
            "team:data",
            latchkey_shared::domain::Role::Collaborator,
        )
        .await;
    call(
        &service,
        ApiRequest::new("POST /credentials")
            .body(new_postgres("bobs"))
            .from(&bob),
    )
    .await;
    let (status, list) = call(&service, ApiRequest::new("GET /credentials").from(&alice())).await;
    assert_eq!(status, 200, "{list}");
    let mut names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["mine", "team"]);
    let search = ApiRequest::new("GET /credentials").query("q", "TEA");
    let (_, found) = call(&service, search.from(&alice())).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn moving_a_credential_to_another_host_needs_its_secrets_again() {
    let world = World::default();
    let service = service(&world);
    let (_, body) = create(&service, new_postgres("warehouse"), None).await;
    let id = id_of(&body);
    let patch = |fields: Value| {
        ApiRequest::new("PATCH /credentials/{id}")
            .param("id", id.as_str())
            .body(json!({ "fields": fields }))
            .from(&alice())
    };
    // The stored password is never sent to a host its owner did not send it to.
    let (status, answer) = call(&service, patch(json!({ "host": "evil.example.com" }))).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (422, Some("secrets_required"))
    );
    assert_eq!(answer["error"]["fields"], json!(["fields.password"]));
    assert_eq!(world.stored(&id).await.version, 1, "nothing changed");
    let moved = json!({ "host": "db2.example.com", "password": "for-db2" });
    let (status, answer) = call(&service, patch(moved)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["fields"]["host"], "db2.example.com");
    assert_eq!(
        answer["status"], "untested",
        "a verdict about the old host says nothing"
    );
    let password = world.current_secret(&id, "password").await;
    assert_eq!(password.as_deref(), Some("for-db2"));
}

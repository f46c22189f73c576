//! The sweep and the worker over the in-memory adapters: what is enqueued, what a batch does,
//! and which messages it hands back for redelivery.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use latchkey_shared::domain::CredentialId;
use latchkey_shared::ports::Job;
use latchkey_shared::record::CredentialRecord;
use latchkey_shared::testing::{caller, config, RecordedJobs, ScriptedTester, World};
use serde_json::json;
use std::sync::Arc;

use crate::{Sweeper, WorkReport, Worker};

async fn client_credentials(world: &World) -> CredentialRecord {
    world
        .create(
            &caller("alice", "acme", &["data"]),
            ("rest_api", "oauth2_client_credentials"),
            json!({ "base_url": "https://api.example.com", "token_url": "https://auth.example.com/token", "client_id": "c" }),
            &[("client_secret", "s3cret")],
        )
        .await
}

/// A world with one client-credentials credential, the provider ready, and its refresh job.
async fn due_refresh() -> (World, Job) {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("a1", None, 3600);
    let job = Job::Refresh {
        id: record.id,
        due_by: world.now().unix_timestamp() + 300,
    };
    (world, job)
}

fn sweeper(world: &World, queue: &Arc<RecordedJobs>) -> Sweeper {
    Sweeper::with_ports(world.ports(), queue.clone(), &config(&[]))
}

fn worker(world: &World) -> Worker {
    Worker::with_ports(
        world.ports(),
        world.secrets.clone(),
        world.provider.clone(),
        Arc::new(ScriptedTester::default()),
        &config(&[]),
    )
}

fn batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("m{i}"));
        message.body = Some(body.clone());
        event.records.push(message);
    }
    event
}

fn bodies(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .map(|j| serde_json::to_string(j).unwrap())
        .collect()
}

#[tokio::test]
async fn the_sweep_enqueues_what_falls_due_before_the_next_sweep_and_refreshes_nothing() {
    let world = World::default();
    let due = client_credentials(&world).await;
    world
        .create(
            &caller("alice", "acme", &[]),
            ("rest_api", "bearer"),
            json!({ "base_url": "https://api.example.com" }),
            &[("token", "t")],
        )
        .await;
    let queue = Arc::new(RecordedJobs::default());

    let report = sweeper(&world, &queue).sweep().await.unwrap();

    assert_eq!((report.due, report.checks_due), (1, 0), "{report:?}");
    let horizon = (world.now() + time::Duration::minutes(5)).unix_timestamp();
    assert_eq!(
        queue.take(),
        [Job::Refresh {
            id: due.id.clone(),
            due_by: horizon
        }]
    );
    assert_eq!(
        world.provider.calls(),
        0,
        "the sweep itself asks no provider"
    );
}

#[tokio::test]
async fn a_job_delivered_twice_refreshes_once() {
    let world = World::default();
    let record = client_credentials(&world).await;
    world.provider.issue("a1", None, 3600);
    let queue = Arc::new(RecordedJobs::default());
    sweeper(&world, &queue).sweep().await.unwrap();
    let jobs = queue.take();

    let worker = worker(&world);
    let (first, failures) = worker.work(batch(&bodies(&jobs))).await;
    let (again, _) = worker.work(batch(&bodies(&jobs))).await;

    assert_eq!(first.refreshed, 1, "{first:?}");
    assert!(failures.batch_item_failures.is_empty());
    assert_eq!(
        again,
        WorkReport {
            skipped: 1,
            ..Default::default()
        },
        "redelivered after it was done: not due any more"
    );
    assert_eq!(world.provider.calls(), 1);
    assert!(world
        .stored(&record.id)
        .await
        .token
        .token_expires_at
        .is_some());
}

#[tokio::test]
async fn messages_that_are_not_jobs_come_back_as_failures_and_done_jobs_do_not() {
    let (world, good) = due_refresh().await;
    let gone = Job::Check {
        id: CredentialId::generate(),
        due_by: world.now().unix_timestamp(),
    };
    let poison = [
        "not json".to_owned(),
        json!({"job": "refresh", "id": "cred_not-an-id", "due_by": 1}).to_string(),
        json!({"job": "delete", "id": CredentialId::generate()}).to_string(),
    ];
    let mut messages = bodies(&[good, gone]);
    messages.extend(poison);

    let (report, response) = worker(&world).work(batch(&messages)).await;

    let mut failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(failed, ["m2", "m3", "m4"]);
    assert_eq!(report.refreshed, 1, "{report:?}");
    assert_eq!(
        report.checks.skipped, 1,
        "a check of a credential that is gone"
    );
    assert_eq!(report.errors, 3);
}

#[tokio::test]
async fn a_job_the_service_could_not_finish_comes_back_for_redelivery() {
    let (world, job) = due_refresh().await;
    world.store.fail_next_writes(1);

    let (report, response) = worker(&world).work(batch(&bodies(&[job]))).await;

    assert_eq!(report.errors, 1, "{report:?}");
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m0"]);
}

#[test]
fn a_job_is_a_small_tagged_message_naming_no_secret() {
    let id = CredentialId::generate();
    let body = serde_json::to_value(Job::Refresh {
        id: id.clone(),
        due_by: 1_800_000_000,
    })
    .unwrap();
    assert_eq!(
        body,
        json!({"job": "refresh", "id": id, "due_by": 1_800_000_000})
    );
}

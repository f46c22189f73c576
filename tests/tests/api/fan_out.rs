//! The refresh fan-out end to end: the sweep enqueues into the emulator's queue, workers take
//! it through the local event source mapping, and the single-flight lease keeps every
//! credential to one exchange however the jobs are delivered. SQS delivers at least once, so
//! the counts that matter are exchanges at the provider, not deliveries.

use futures::stream::{self, StreamExt};
use latchkey_refresh::{Sweeper, WorkReport, Worker};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::helpers::TestApp;
use crate::test_servers::{client_credentials, register_client, with_client};

/// `count` OAuth 2.0 client-credentials credentials of one client: due at once.
async fn due_credentials(app: &TestApp, count: usize) -> (String, Vec<String>) {
    let client = format!("c{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let (token_url, _) = register_client(&client, 3600, 0);
    let body = client_credentials(&client, &token_url);
    let ids = stream::iter(0..count)
        .map(|_| async {
            app.create("alice", &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .buffer_unordered(8)
        .collect()
        .await;
    (client, ids)
}

fn sweeper(app: &TestApp) -> Sweeper {
    Sweeper::new(&app.stack.aws, &app.stack.config("refresh").unwrap()).unwrap()
}

fn worker(app: &TestApp) -> Worker {
    Worker::new(&app.stack.aws, &app.stack.config("refresh-worker").unwrap())
}

#[tokio::test]
async fn a_thousand_due_across_every_shard_are_each_refreshed_exactly_once() {
    let app = TestApp::spawn().await;
    let (client, ids) = due_credentials(&app, 1000).await;
    let shards = app.stack.config("refresh").unwrap().due_shards;
    let used: BTreeSet<String> = ids
        .iter()
        .map(|id| latchkey_shared::store::due_shard("DUE", &id.clone().try_into().unwrap(), shards))
        .collect();
    assert_eq!(used.len(), usize::from(shards), "{used:?}");

    let (sweep, work) = app.stack.refresh_run().await.unwrap();

    assert_eq!((sweep.items_read, sweep.due), (1000, 1000), "{sweep:?}");
    assert_eq!(
        (work.refreshed, work.failed, work.errors),
        (1000, 0, 0),
        "{work:?}"
    );
    assert_eq!(with_client(&client, |c| c.exchanges), 1000);
    // 1,000 exchanges for 1,000 credentials, and none of them due any more: one each.
    assert_eq!(app.stack.refresh_run().await.unwrap().0.due, 0);
    assert_eq!(app.stack.refresh_queue().unwrap().depth().await.unwrap(), 0);
}

#[tokio::test]
async fn a_worker_that_crashes_mid_batch_has_the_batch_redelivered_and_each_refreshed_once() {
    let app = TestApp::spawn().await;
    let (client, _) = due_credentials(&app, 10).await;
    assert_eq!(sweeper(&app).sweep().await.unwrap().due, 10);

    let worker = worker(&app);
    // How many jobs the crashed invocation finished (0: no crash yet).
    let crashed = AtomicUsize::new(0);
    let done = Mutex::new(WorkReport::default());
    let invoke = |mut event: aws_lambda_events::event::sqs::SqsEvent| {
        let (worker, crashed, done) = (&worker, &crashed, &done);
        async move {
            let half = event.records.len().div_ceil(2);
            if crashed
                .compare_exchange(0, half, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                // The first invocation does half its batch, then the process dies.
                event.records.truncate(half);
                let (report, _) = worker.work(event).await;
                *done.lock().unwrap() += report;
                return Err(format!("crashed after {half} jobs").into());
            }
            let (report, failures) = worker.work(event).await;
            *done.lock().unwrap() += report;
            Ok(failures)
        }
    };
    app.stack
        .refresh_queue()
        .unwrap()
        .drain(&invoke)
        .await
        .unwrap();

    let done = done.into_inner().unwrap();
    let finished_before_crash = crashed.load(Ordering::SeqCst);
    assert!(finished_before_crash > 0);
    assert_eq!(done.refreshed, 10, "{done:?}");
    assert!(
        done.skipped >= finished_before_crash,
        "the jobs done before the crash came back and were found done: {done:?}"
    );
    assert_eq!(with_client(&client, |c| c.exchanges), 10);
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dead_letter_queue_and_the_rest_is_done() {
    let app = TestApp::spawn().await;
    let (client, _) = due_credentials(&app, 3).await;
    let queue = app.stack.refresh_queue().unwrap();
    let sqs = aws_sdk_sqs::Client::new(&app.stack.aws);
    sqs.send_message()
        .queue_url(queue.url())
        .message_body("not a job")
        .send()
        .await
        .unwrap();

    let (_, work) = app.stack.refresh_run().await.unwrap();

    assert_eq!(work.refreshed, 3, "{work:?}");
    assert_eq!(
        work.errors, 5,
        "delivered 5 times (maxReceiveCount): {work:?}"
    );
    assert_eq!(with_client(&client, |c| c.exchanges), 3);
    assert_eq!(queue.depth().await.unwrap(), 0);
    let dead = sqs
        .receive_message()
        .queue_url(&app.stack.stack.assigned["RefreshDeadLetterQueue"])
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<&str> = dead.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["not a job"]);
}

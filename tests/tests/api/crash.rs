//! A create that dies between the secret store and the metadata table loses nothing, leaves no metadata
//! pointing at a missing secret, and its orphan secret is removed by the janitor's sweep.

use latchkey_janitor::{Janitor, SweepReport};
use latchkey_tests::gateway::{invoke, Handler};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

use crate::helpers::{postgres, TestApp};

#[tokio::test]
async fn a_half_finished_create_leaves_only_an_orphan_secret_that_the_sweep_removes() {
    let app = TestApp::spawn().await;
    let kept = app.create("alice", &postgres("kept", "pw")).await;

    // The credentials function as deployed, except that its table write fails: the secret is
    // created, then the metadata transaction errors.
    let mut config = app.stack.config("credentials").unwrap();
    config.table = format!("{}-missing", app.table);
    let broken = Arc::new(latchkey_credentials::Service::new(&app.stack.aws, config));
    let handler: Handler = Arc::new(move |req| {
        let broken = broken.clone();
        Box::pin(async move { broken.handle(req).await })
    });
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../functions/credentials/events/create-credential.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let reply = invoke(handler, event).await.unwrap();
    assert_eq!(reply.status().as_u16(), 500);

    assert_eq!(
        app.meta_items().await.len(),
        1,
        "no metadata for the failed create"
    );
    assert_eq!(
        app.secret_ids().await.len(),
        2,
        "its secret is left behind, tagged"
    );
    app.assert_no_dangling_secret_references().await;

    // Young secrets are left alone: their create may still be in flight.
    let mut janitor_config = app.stack.config("janitor").unwrap();
    assert_eq!(
        janitor_config.orphan_min_age_minutes, 60,
        "as the template sets it"
    );
    let cautious = Janitor::new(&app.stack.aws, &janitor_config)
        .sweep()
        .await
        .unwrap();
    assert_eq!(
        cautious,
        SweepReport {
            examined: 2,
            removed: 0
        }
    );

    janitor_config.orphan_min_age_minutes = 0;
    let report = Janitor::new(&app.stack.aws, &janitor_config)
        .sweep()
        .await
        .unwrap();
    assert_eq!(
        report,
        SweepReport {
            examined: 2,
            removed: 1
        }
    );
    let kept_id = kept["id"].as_str().unwrap();
    assert_eq!(app.secret_ids().await, [kept_id]);
    assert_eq!(
        app.get("alice", &format!("/credentials/{kept_id}"))
            .await
            .status,
        200
    );
    let again = Janitor::new(&app.stack.aws, &janitor_config)
        .sweep()
        .await
        .unwrap();
    assert_eq!(
        again,
        SweepReport {
            examined: 1,
            removed: 0
        }
    );
}

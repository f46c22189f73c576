//! Scheduled health checks against the local servers: a password changed on the server is
//! found by the next check, without any flow or person asking; an opted-out credential and a
//! token credential are never checked.

use latchkey_shared::testing::ManualClock;
use serde_json::json;
use std::sync::Arc;

use crate::helpers::TestApp;
use crate::test_servers::{base_url, set_account_password};

#[tokio::test]
async fn a_password_changed_on_the_server_is_found_by_the_next_check() {
    let app = TestApp::spawn().await;
    let account = format!("svc{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    set_account_password(&account, "first-password");
    let body = |name: &str, health_check: bool| {
        json!({"name": name, "connector": "rest_api", "auth_type": "basic", "health_check": health_check,
            "fields": {"username": account, "password": "first-password",
                       "validation_url": format!("{}/accounts/{account}", base_url())}})
    };
    let checked = app.create("alice", &body("checked", true)).await;
    assert_eq!(checked["health_check"], true, "{checked}");
    let next = checked["next_check_at"]
        .as_str()
        .expect("a check is scheduled");
    let next =
        time::OffsetDateTime::parse(next, &time::format_description::well_known::Rfc3339).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(
        next > now && next <= now + time::Duration::hours(24),
        "{next}"
    );
    let opted_out = app.create("alice", &body("opted-out", false)).await;
    assert!(opted_out.get("next_check_at").is_none(), "{opted_out}");

    let run_at = |at: time::OffsetDateTime| app.stack.refresh_run_at(Arc::new(ManualClock::at(at)));
    // Nothing is due yet.
    assert_eq!(run_at(now).await.unwrap().0.checks_due, 0);
    // At its time of day, the check finds the credential valid and schedules the next one.
    let (sweep, work) = run_at(next + time::Duration::seconds(1)).await.unwrap();
    assert_eq!((sweep.checks_due, work.checks.valid), (1, 1), "{work:?}");
    let id = checked["id"].as_str().unwrap();
    let after = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(after["status"], "valid", "{after}");
    assert_eq!(after["status_trigger"], "scheduled_check");
    let following = time::OffsetDateTime::parse(
        after["next_check_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        following,
        next + time::Duration::hours(24),
        "the same time the next day"
    );

    // The password changes on the server; nobody tells Latchkey. The next check finds it.
    set_account_password(&account, "rotated-by-someone-else");
    let (sweep, work) = run_at(following + time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!((sweep.checks_due, work.checks.invalid), (1, 1), "{work:?}");
    let after = app.get("alice", &format!("/credentials/{id}")).await.body;
    assert_eq!(
        (
            after["status"].as_str(),
            after["status_code"].as_str(),
            after["status_trigger"].as_str()
        ),
        (
            Some("invalid"),
            Some("auth_rejected"),
            Some("scheduled_check")
        ),
        "{after}"
    );
    let history = app
        .get("alice", &format!("/credentials/{id}/history"))
        .await
        .body;
    let checks = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["actor"] == "service:health-check" && h["action"] == "tested")
        .count();
    assert_eq!(checks, 2, "{history}");
    // The opted-out credential was never tested.
    let untouched = app
        .get(
            "alice",
            &format!("/credentials/{}", opted_out["id"].as_str().unwrap()),
        )
        .await
        .body;
    assert_eq!(untouched["status"], "untested");
}

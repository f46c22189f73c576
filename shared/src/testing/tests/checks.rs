//! Scheduled health checks: who is checked, when, and what a check records.

use serde_json::json;
use std::time::Duration;

use crate::checker::{CheckOutcome, Checker, CHECK_ACTOR};
use crate::domain::Status;
use crate::health::{keep_schedule, next_after, wants_checks};
use crate::ports::TestAllowance;
use crate::record::CredentialRecord;
use crate::status::Verdict;
use crate::testing::ScriptedTester;

use super::{alice, postgres, World};

const DAY: Duration = Duration::from_secs(24 * 3600);
const ALLOW: TestAllowance = TestAllowance {
    per_user: 20,
    per_org: 200,
};

/// A PostgreSQL credential with its daily check scheduled (stored), and when that check is due.
async fn scheduled_postgres(world: &World) -> (CredentialRecord, time::OffsetDateTime) {
    let mut record = postgres(world).await;
    keep_schedule(&mut record, Some(DAY), world.now());
    world.store.put(record.clone());
    let due = time::OffsetDateTime::from_unix_timestamp(record.check_due.unwrap()).unwrap();
    (record, due)
}

async fn check(
    world: &World,
    tester: &ScriptedTester,
    record: &crate::record::CredentialRecord,
    by: time::OffsetDateTime,
) -> CheckOutcome {
    let ports = world.ports();
    let checker = Checker {
        ports: &ports,
        secrets: &*world.secrets,
        tester,
        allowance: ALLOW,
        period: DAY,
    };
    checker.check(&record.id, by).await.unwrap()
}

#[tokio::test]
async fn checks_spread_over_the_period_and_keep_their_time_of_day() {
    let world = World::default();
    let now = world.now();
    let mut phases = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let record = postgres(&world).await;
        let next = next_after(&record, DAY, now);
        assert!(next > now && next <= now + time::Duration::days(1));
        assert_eq!(
            next_after(&record, DAY, next),
            next + time::Duration::days(1)
        );
        phases.insert((next - now).whole_hours());
    }
    assert!(
        phases.len() >= 15,
        "fifty credentials fall in many hours of the day: {phases:?}"
    );
}

#[tokio::test]
async fn only_live_opted_in_credentials_without_managed_tokens_are_checked() {
    let world = World::default();
    let mut record = postgres(&world).await;
    assert!(wants_checks(&record, Some(DAY)));
    assert!(!wants_checks(&record, None), "checks off");
    keep_schedule(&mut record, Some(DAY), world.now());
    assert!(record.check_due.is_some());
    record.health_check = false;
    keep_schedule(&mut record, Some(DAY), world.now());
    assert_eq!(record.check_due, None);
    let tokens = world
        .create(
            &alice(),
            ("rest_api", "oauth2_client_credentials"),
            json!({ "token_url": "https://auth.example.com/token", "client_id": "c" }),
            &[("client_secret", "s")],
        )
        .await;
    assert!(!wants_checks(&tokens, Some(DAY)), "its refreshes prove it");
}

#[tokio::test]
async fn a_due_check_records_its_verdict_and_schedules_the_next_one() {
    let world = World::default();
    let (record, due) = scheduled_postgres(&world).await;
    let tester = ScriptedTester::default();
    assert_eq!(
        check(&world, &tester, &record, world.now()).await,
        CheckOutcome::NotDue
    );
    tester.answer(Verdict::Invalid, "auth_rejected");
    let outcome = check(&world, &tester, &record, due).await;
    assert_eq!(outcome, CheckOutcome::Checked(Verdict::Invalid));
    let stored = world.stored(&record.id).await;
    assert_eq!(stored.status, Status::Invalid);
    assert_eq!(
        stored.check_due,
        Some((due + time::Duration::days(1)).unix_timestamp())
    );
    let last = world
        .store
        .history_of(&record.id)
        .into_iter()
        .rev()
        .nth(1)
        .unwrap();
    assert_eq!(last.actor, CHECK_ACTOR);
    assert_eq!(world.events.types(), ["CredentialStatusChanged"]);
    assert_eq!(tester.calls(), 1);
}

#[tokio::test]
async fn an_unreachable_server_changes_no_status_and_an_exhausted_allowance_waits() {
    let world = World::default();
    let (record, due) = scheduled_postgres(&world).await;
    let tester = ScriptedTester::default();
    tester.answer(Verdict::Inconclusive, "connection_refused");
    let outcome = check(&world, &tester, &record, due).await;
    assert_eq!(outcome, CheckOutcome::Checked(Verdict::Inconclusive));
    assert_eq!(world.stored(&record.id).await.status, Status::Untested);

    // The organisation spent its tests this minute: the check waits for the next sweep.
    let stored = world.stored(&record.id).await;
    let next = time::OffsetDateTime::from_unix_timestamp(stored.check_due.unwrap()).unwrap();
    world.clock.advance(next - world.now());
    for _ in 0..ALLOW.per_org {
        let counted = crate::ports::CredentialStore::count_test(
            &*world.store,
            "acme",
            "bob",
            TestAllowance {
                per_user: 0,
                per_org: ALLOW.per_org,
            },
            world.now(),
        );
        assert_eq!(counted.await.unwrap(), None);
    }
    assert_eq!(
        check(&world, &tester, &record, next).await,
        CheckOutcome::RateLimited
    );
    assert_eq!(
        world.stored(&record.id).await.check_due,
        stored.check_due,
        "still due"
    );
    assert_eq!(tester.calls(), 1);
}

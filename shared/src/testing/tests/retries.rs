//! The retries the serial emulator never exercises: unprocessed batch keys and transaction
//! conflicts on the test-rate counters. Time is paused, so backoff costs nothing.

use crate::domain::CredentialId;
use crate::ports::CredentialStore;
use crate::store::{Exhausted, TestAllowance};
use crate::testing::MemoryStore;

use super::{postgres, World};

const ALLOW: TestAllowance = TestAllowance {
    per_user: 2,
    per_org: 3,
};

#[tokio::test(start_paused = true)]
async fn a_batch_read_retries_unprocessed_keys_until_every_one_is_read() {
    let world = World::default();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(postgres(&world).await.id);
    }
    world.store.leave_unprocessed(2);
    let mut read: Vec<CredentialId> = world
        .store
        .get_many(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    read.sort();
    ids.sort();
    assert_eq!(read, ids);
    // 3 asked, one left over, and left over again, then read.
    assert_eq!(world.store.batch_reads(), [3, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_read_gives_up_when_keys_stay_unprocessed() {
    let store = MemoryStore::default();
    let ids: Vec<CredentialId> = (0..2).map(|_| CredentialId::generate()).collect();
    store.leave_unprocessed(100);
    let err = store.get_many(&ids).await.unwrap_err();
    assert!(err.to_string().contains("unprocessed"), "{err}");
    assert_eq!(store.batch_reads().len(), 9, "one read and eight retries");
}

#[tokio::test]
async fn batch_reads_ask_for_at_most_a_hundred_keys() {
    let store = MemoryStore::default();
    let ids: Vec<CredentialId> = (0..250).map(|_| CredentialId::generate()).collect();
    assert!(store.get_many(&ids).await.unwrap().is_empty());
    assert_eq!(store.batch_reads(), [100, 100, 50]);
}

#[tokio::test(start_paused = true)]
async fn a_counted_test_retries_a_transaction_conflict() {
    let store = MemoryStore::default();
    store.conflict_next_counts(3);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        store.count_test("acme", "alice", ALLOW, now).await.unwrap(),
        None
    );
    // The retry counted once: one more is allowed, the third is over.
    assert_eq!(
        store.count_test("acme", "alice", ALLOW, now).await.unwrap(),
        None
    );
    assert_eq!(
        store.count_test("acme", "alice", ALLOW, now).await.unwrap(),
        Some(Exhausted::User)
    );
}

#[tokio::test(start_paused = true)]
async fn a_test_that_keeps_conflicting_counts_as_over_the_limit() {
    let store = MemoryStore::default();
    store.conflict_next_counts(5);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        store.count_test("acme", "alice", ALLOW, now).await.unwrap(),
        Some(Exhausted::User),
        "fail closed"
    );
    let org_only = TestAllowance {
        per_user: 0,
        per_org: 3,
    };
    store.conflict_next_counts(5);
    assert_eq!(
        store
            .count_test("acme", "alice", org_only, now)
            .await
            .unwrap(),
        Some(Exhausted::Org)
    );
}

#[tokio::test]
async fn the_organisation_allowance_holds_across_its_users() {
    let store = MemoryStore::default();
    let now = time::OffsetDateTime::now_utc();
    for user in ["alice", "bob", "carol"] {
        assert_eq!(
            store.count_test("acme", user, ALLOW, now).await.unwrap(),
            None
        );
    }
    assert_eq!(
        store.count_test("acme", "dave", ALLOW, now).await.unwrap(),
        Some(Exhausted::Org)
    );
    // Another organisation, and the next minute, start afresh.
    assert_eq!(
        store.count_test("other", "dave", ALLOW, now).await.unwrap(),
        None
    );
    let later = now + time::Duration::minutes(1);
    assert_eq!(
        store
            .count_test("acme", "dave", ALLOW, later)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn no_limit_counts_nothing() {
    let store = MemoryStore::default();
    store.conflict_next_counts(1);
    let none = TestAllowance {
        per_user: 0,
        per_org: 0,
    };
    let now = time::OffsetDateTime::now_utc();
    for _ in 0..50 {
        assert_eq!(
            store.count_test("acme", "alice", none, now).await.unwrap(),
            None
        );
    }
}

//! Recording an observation: the status rules, committed on the version read, with history
//! lines and a status event.

use crate::domain::Status;
use crate::record::HistoryAction;
use crate::status::{Observation, Trigger, Verdict};
use crate::validity::{record, Recorded};

use super::{postgres, World};

async fn observe(
    world: &World,
    cred: &crate::record::CredentialRecord,
    observation: &Observation,
    (trigger, action): (Trigger, HistoryAction),
) -> Recorded {
    let ports = world.ports();
    record(&ports, cred, observation, trigger, action, "user:alice")
        .await
        .unwrap()
}

const TESTED: (Trigger, HistoryAction) = (Trigger::Test, HistoryAction::Tested);

fn verdict(result: Verdict, code: &str) -> Observation {
    Observation::new(result, code, "what happened")
}

#[tokio::test]
async fn a_rejection_marks_the_credential_invalid_and_tells_the_owner() {
    let world = World::default();
    let cred = postgres(&world).await;
    let rejected = verdict(Verdict::Invalid, "auth_rejected");
    assert_eq!(
        observe(&world, &cred, &rejected, TESTED).await,
        Recorded::Transition(Status::Untested, Status::Invalid)
    );
    let stored = world.stored(&cred.id).await;
    assert_eq!(stored.status, Status::Invalid);
    assert_eq!(stored.status_code.as_deref(), Some("auth_rejected"));
    assert_eq!(stored.version, 2);
    let actions: Vec<HistoryAction> = world
        .store
        .history_of(&cred.id)
        .iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(
        actions,
        [
            HistoryAction::Created,
            HistoryAction::Tested,
            HistoryAction::StatusChanged
        ]
    );
    let events = world.events.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "CredentialStatusChanged");
    assert_eq!(events[0].1["to"], "invalid");
    assert_eq!(events[0].1["trigger"], "test");
    assert_eq!(events[0].1["change"], "invalidated");
    assert_eq!(events[0].1["schema_version"], 1);
    assert_eq!(events[0].1["name"], cred.name.as_str());
}

#[tokio::test]
async fn an_unreachable_server_never_changes_the_status() {
    let world = World::default();
    let cred = postgres(&world).await;
    let ok = verdict(Verdict::Valid, "ok");
    observe(&world, &cred, &ok, TESTED).await;
    let valid = world.stored(&cred.id).await;
    let unreachable = verdict(Verdict::Inconclusive, "connection_refused");
    assert_eq!(
        observe(&world, &valid, &unreachable, TESTED).await,
        Recorded::Unchanged
    );
    assert_eq!(world.stored(&cred.id).await.status, Status::Valid);
    assert_eq!(
        world.events.types(),
        ["CredentialStatusChanged"],
        "only the first verdict"
    );
}

#[tokio::test]
async fn a_verdict_about_a_credential_that_changed_meanwhile_is_dropped() {
    let world = World::default();
    let cred = postgres(&world).await;
    let mut edited = cred.clone();
    edited.version = 2;
    world.store.put(edited);
    let rejected = verdict(Verdict::Invalid, "auth_rejected");
    let flow = (Trigger::Flow, HistoryAction::FlowFailureReported);
    assert_eq!(
        observe(&world, &cred, &rejected, flow).await,
        Recorded::Stale
    );
    assert_eq!(world.stored(&cred.id).await.status, Status::Untested);
    assert!(world.events.all().is_empty());
}

#[tokio::test]
async fn the_same_verdict_again_writes_its_line_and_no_event() {
    let world = World::default();
    let cred = postgres(&world).await;
    let rejected = verdict(Verdict::Invalid, "auth_rejected");
    observe(&world, &cred, &rejected, TESTED).await;
    let invalid = world.stored(&cred.id).await;
    assert_eq!(
        observe(&world, &invalid, &rejected, TESTED).await,
        Recorded::Unchanged
    );
    assert_eq!(world.store.history_of(&cred.id).len(), 4);
    assert_eq!(world.events.all().len(), 1);
}

#[test]
fn a_status_change_says_what_it_means_for_the_owner() {
    use crate::validity::StatusChange;
    let cases = [
        (Status::Valid, Status::Invalid, StatusChange::Invalidated),
        (Status::Untested, Status::Invalid, StatusChange::Invalidated),
        (
            Status::Valid,
            Status::ReauthRequired,
            StatusChange::ReauthRequired,
        ),
        (Status::Invalid, Status::Valid, StatusChange::Recovered),
        (
            Status::ReauthRequired,
            Status::Valid,
            StatusChange::Recovered,
        ),
        (Status::Untested, Status::Valid, StatusChange::Verified),
        (Status::Invalid, Status::Untested, StatusChange::Reset),
    ];
    for (from, to, change) in cases {
        assert_eq!(StatusChange::of(from, to), change, "{from:?} -> {to:?}");
    }
}

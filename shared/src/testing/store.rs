//! The credential store in memory: the DynamoDB adapter's conditions (a write conditioned on
//! the version read, an idempotency key taken once, usages only on a live credential, a lease
//! until it runs out, a state taken once), and faults the serial emulator never produces.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

use super::{lock, page};
use crate::domain::{CredentialId, Principal, Role};
use crate::error::InternalError;
use crate::ports::{Counted, CredentialStore};
use crate::record::{CredentialRecord, HistoryEntry};
use crate::store::{
    Change, Exhausted, Grants, IdempotencyKey, IdempotencyRecord, OAuthPending, TestAllowance,
    Usage, UsageChange, WriteOutcome,
};

#[derive(Default)]
struct State {
    records: BTreeMap<CredentialId, CredentialRecord>,
    /// The `by_principal` index: (organisation/principal, credential) -> role.
    grants: BTreeMap<(String, CredentialId), Role>,
    /// In the order written; read newest first.
    history: BTreeMap<CredentialId, Vec<HistoryEntry>>,
    usages: BTreeMap<CredentialId, BTreeMap<String, Usage>>,
    idempotency: BTreeMap<IdempotencyKey, IdempotencyRecord>,
    leases: BTreeMap<CredentialId, (String, i64)>,
    oauth: BTreeMap<String, OAuthPending>,
    counters: BTreeMap<(i64, String), u32>,
}

/// Faults to inject, each used up as it fires.
#[derive(Default)]
struct Faults {
    /// Counting attempts that lose to a concurrent transaction.
    conflicts: u32,
    /// Batch reads that leave their last key unprocessed.
    unprocessed: u32,
    /// Writes that fail as if DynamoDB were unreachable.
    failing_writes: u32,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    faults: Mutex<Faults>,
    batch_reads: Mutex<Vec<usize>>,
}

fn partition(org: &str, principal: &str) -> String {
    format!("{org}/{principal}")
}

impl MemoryStore {
    /// The next `n` attempts to count a connection test meet a `TransactionConflict`.
    pub fn conflict_next_counts(&self, n: u32) {
        lock(&self.faults).conflicts = n;
    }

    /// The next `n` batch reads leave their last key unprocessed.
    pub fn leave_unprocessed(&self, n: u32) {
        lock(&self.faults).unprocessed = n;
    }

    /// The next `n` writes fail as if the table were unreachable.
    pub fn fail_next_writes(&self, n: u32) {
        lock(&self.faults).failing_writes = n;
    }

    /// The credentials whose `due` time is at or before `by`, as a sparse index gives them.
    fn due(
        &self,
        due: impl Fn(&CredentialRecord) -> Option<i64>,
        by: i64,
    ) -> (Vec<CredentialId>, usize) {
        let ids: Vec<CredentialId> = lock(&self.state)
            .records
            .values()
            .filter(|r| due(r).is_some_and(|at| at <= by))
            .map(|r| r.id.clone())
            .collect();
        let read = ids.len();
        (ids, read)
    }

    /// How many keys each batch read asked for, in order.
    pub fn batch_reads(&self) -> Vec<usize> {
        lock(&self.batch_reads).clone()
    }

    /// Puts a credential as it is, bypassing the write path (a concurrent writer, a fixture).
    pub fn put(&self, record: CredentialRecord) {
        lock(&self.state).records.insert(record.id.clone(), record);
    }

    /// Every history line of a credential, oldest first.
    pub fn history_of(&self, id: &CredentialId) -> Vec<HistoryEntry> {
        lock(&self.state)
            .history
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// The credentials the principal index lists for `principal` of `org`.
    pub fn indexed_for(&self, org: &str, principal: &str) -> Vec<(CredentialId, Role)> {
        let key = partition(org, principal);
        lock(&self.state)
            .grants
            .iter()
            .filter(|((p, _), _)| *p == key)
            .map(|((_, id), role)| (id.clone(), *role))
            .collect()
    }

    /// Everything stored, as text: where a canary secret must never be found.
    pub fn dump(&self) -> String {
        let state = lock(&self.state);
        serde_json::json!([state.records, state.history, state.usages]).to_string()
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn get(&self, id: &CredentialId) -> Result<Option<CredentialRecord>, InternalError> {
        Ok(lock(&self.state).records.get(id).cloned())
    }

    async fn get_batch(
        &self,
        ids: &[CredentialId],
    ) -> Result<(Vec<CredentialRecord>, Vec<CredentialId>), InternalError> {
        lock(&self.batch_reads).push(ids.len());
        let (served, left) = {
            let mut faults = lock(&self.faults);
            if faults.unprocessed > 0 && !ids.is_empty() {
                faults.unprocessed -= 1;
                ids.split_at(ids.len() - 1)
            } else {
                (ids, &[][..])
            }
        };
        let state = lock(&self.state);
        let found = served
            .iter()
            .filter_map(|id| state.records.get(id).cloned())
            .collect();
        Ok((found, left.to_vec()))
    }

    async fn write(&self, change: Change<'_>) -> Result<WriteOutcome, InternalError> {
        {
            let mut faults = lock(&self.faults);
            if faults.failing_writes > 0 {
                faults.failing_writes -= 1;
                return Err(InternalError::new("the table is unreachable (injected)"));
            }
        }
        let mut state = lock(&self.state);
        let record = change.record;
        if let Some((key, _)) = change.idempotency {
            if state.idempotency.contains_key(key) {
                return Ok(WriteOutcome::IdempotencyKeyTaken);
            }
        }
        let current = state.records.get(&record.id).map(|r| r.version);
        if current != change.expected_version {
            return Ok(WriteOutcome::VersionConflict);
        }
        state.records.insert(record.id.clone(), record.clone());
        for (principal, role) in &record.acl {
            let wanted = match &change.grants {
                Grants::All => true,
                Grants::Only(only) => only.contains(principal),
            };
            if wanted {
                let key = (partition(&record.org_id, principal), record.id.clone());
                state.grants.insert(key, *role);
            }
        }
        for principal in &change.revoked {
            let key = (partition(&record.org_id, principal), record.id.clone());
            state.grants.remove(&key);
        }
        state
            .history
            .entry(record.id.clone())
            .or_default()
            .extend(change.history);
        if let Some((key, idem)) = change.idempotency {
            state.idempotency.insert(key.clone(), idem.clone());
        }
        Ok(WriteOutcome::Written)
    }

    async fn granted_to(
        &self,
        org: &str,
        principal: &Principal,
        after: Option<&CredentialId>,
        limit: i32,
    ) -> Result<(Vec<(CredentialId, Role)>, bool), InternalError> {
        let key = partition(org, &principal.to_string());
        let all: Vec<(CredentialId, Role)> = lock(&self.state)
            .grants
            .iter()
            .filter(|((p, id), _)| *p == key && after.is_none_or(|a| id > a))
            .map(|((_, id), role)| (id.clone(), *role))
            .collect();
        let more = all.len() > limit.max(0) as usize;
        Ok((all.into_iter().take(limit.max(0) as usize).collect(), more))
    }

    async fn append_history(
        &self,
        id: &CredentialId,
        entry: &HistoryEntry,
    ) -> Result<(), InternalError> {
        lock(&self.state)
            .history
            .entry(id.clone())
            .or_default()
            .push(entry.clone());
        Ok(())
    }

    async fn history(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), InternalError> {
        let lines = self.history_of(id);
        let newest_first = lines
            .into_iter()
            .enumerate()
            .rev()
            .map(|(i, e)| (format!("{i:08}"), e))
            .collect();
        Ok(page(newest_first, limit, after))
    }

    async fn write_usage(
        &self,
        id: &CredentialId,
        change: UsageChange<'_>,
        history: &HistoryEntry,
    ) -> Result<bool, InternalError> {
        let mut state = lock(&self.state);
        if state.records.get(id).is_none_or(|r| r.is_deleted()) {
            return Ok(false);
        }
        let usages = state.usages.entry(id.clone()).or_default();
        match change {
            UsageChange::Add(usage) => {
                let key = format!("{}#{}", usage.kind, usage.resource_id);
                usages.insert(key, usage.clone());
            }
            UsageChange::Remove { kind, resource_id } => {
                usages.remove(&format!("{kind}#{resource_id}"));
            }
        }
        state
            .history
            .entry(id.clone())
            .or_default()
            .push(history.clone());
        Ok(true)
    }

    async fn usage(
        &self,
        id: &CredentialId,
        kind: &str,
        resource_id: &str,
    ) -> Result<Option<Usage>, InternalError> {
        Ok(lock(&self.state)
            .usages
            .get(id)
            .and_then(|u| u.get(&format!("{kind}#{resource_id}")))
            .cloned())
    }

    async fn usages(
        &self,
        id: &CredentialId,
        limit: i32,
        after: Option<String>,
    ) -> Result<(Vec<Usage>, Option<String>), InternalError> {
        let all = lock(&self.state)
            .usages
            .get(id)
            .map(|u| u.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(page(all, limit, after))
    }

    async fn usage_count(&self, id: &CredentialId) -> Result<usize, InternalError> {
        Ok(lock(&self.state).usages.get(id).map_or(0, |u| u.len()))
    }

    async fn idempotency(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, InternalError> {
        Ok(lock(&self.state).idempotency.get(key).cloned())
    }

    async fn take_lease(
        &self,
        id: &CredentialId,
        owner: &str,
        now: OffsetDateTime,
        for_how_long: Duration,
    ) -> Result<bool, InternalError> {
        let mut state = lock(&self.state);
        let now_s = now.unix_timestamp();
        if state
            .leases
            .get(id)
            .is_some_and(|(_, until)| *until >= now_s)
        {
            return Ok(false);
        }
        let until = (now + for_how_long).unix_timestamp();
        state.leases.insert(id.clone(), (owner.to_owned(), until));
        Ok(true)
    }

    async fn release_lease(&self, id: &CredentialId, owner: &str) -> Result<(), InternalError> {
        let mut state = lock(&self.state);
        if state.leases.get(id).is_some_and(|(o, _)| o == owner) {
            state.leases.remove(id);
        }
        Ok(())
    }

    async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), InternalError> {
        lock(&self.state)
            .oauth
            .insert(state.to_owned(), pending.clone());
        Ok(())
    }

    async fn take_oauth_state(&self, state: &str) -> Result<Option<OAuthPending>, InternalError> {
        Ok(lock(&self.state).oauth.remove(state))
    }

    async fn count_test_once(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        minute: i64,
    ) -> Result<Counted, InternalError> {
        {
            let mut faults = lock(&self.faults);
            if faults.conflicts > 0 {
                faults.conflicts -= 1;
                return Ok(Counted::Conflict);
            }
        }
        let mut state = lock(&self.state);
        let limited: Vec<(Exhausted, String, u32)> = allowance
            .limits()
            .map(|(which, limit)| {
                let counter = match which {
                    Exhausted::User => format!("{org}/{user}"),
                    Exhausted::Org => org.to_owned(),
                };
                (which, counter, limit)
            })
            .collect();
        for (which, key, limit) in &limited {
            let used = state.counters.get(&(minute, key.clone())).copied();
            if used.unwrap_or(0) >= *limit {
                return Ok(Counted::Over(*which));
            }
        }
        for (_, key, _) in limited {
            *state.counters.entry((minute, key.clone())).or_default() += 1;
        }
        Ok(Counted::Yes)
    }

    async fn due_for_check(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError> {
        Ok(self.due(|r| r.check_due, by))
    }

    async fn due_for_refresh(&self, by: i64) -> Result<(Vec<CredentialId>, usize), InternalError> {
        Ok(self.due(|r| r.token.refresh_due, by))
    }
}

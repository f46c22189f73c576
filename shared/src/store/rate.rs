//! Test-rate counters: connection tests per minute per user and per organisation.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{keys, n, s, Store, CONDITION_FAILED, CONFLICT};
use crate::error::ApiError;

/// Connection tests allowed per minute; 0 is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestAllowance {
    pub per_user: u32,
    pub per_org: u32,
}

/// How one attempt to count a connection test went.
enum Counted {
    Yes,
    Over(Exhausted),
    /// Another test's transaction touched the same counter at the same moment.
    Conflict,
}

/// Which allowance a connection test would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    User,
    Org,
}

impl Store {
    /// Counts one connection test against the caller's and the organisation's allowance for
    /// the current minute, both in one transaction, so the limit holds across every function
    /// instance. Returns the allowance that is used up, if one is (and then counts nothing).
    pub async fn count_test(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        now: OffsetDateTime,
    ) -> Result<Option<Exhausted>, ApiError> {
        let minute = now.unix_timestamp().div_euclid(60);
        let counters = [
            (
                Exhausted::User,
                keys::user_tests(minute, org, user),
                allowance.per_user,
            ),
            (
                Exhausted::Org,
                keys::org_tests(minute, org),
                allowance.per_org,
            ),
        ];
        let counters: Vec<_> = counters
            .into_iter()
            .filter(|(_, _, limit)| *limit > 0)
            .collect();
        if counters.is_empty() {
            return Ok(None);
        }
        // Tests that start at the same moment conflict on the counters; each retries (fail
        // closed: after the last try the test counts as over the limit).
        for attempt in 0..5u64 {
            match self.count_test_once(&counters, minute).await? {
                Counted::Yes => return Ok(None),
                Counted::Over(which) => return Ok(Some(which)),
                Counted::Conflict => {
                    tokio::time::sleep(std::time::Duration::from_millis(10 + 20 * attempt)).await
                }
            }
        }
        Ok(Some(counters[0].0))
    }

    async fn count_test_once(
        &self,
        counters: &[(Exhausted, String, u32)],
        minute: i64,
    ) -> Result<Counted, ApiError> {
        let mut items = Vec::new();
        for (_, pk, limit) in counters {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(pk))
                .key("sk", s(keys::RATE))
                .update_expression("ADD #n :one SET #ttl = :ttl")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "count")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":limit", n(limit))
                .expression_attribute_values(":ttl", n((minute + 2) * 60))
                .build()
                .map_err(ApiError::internal)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let cancelled = match self.transact(items).await? {
            Ok(()) => return Ok(Counted::Yes),
            Err(cancelled) => cancelled,
        };
        let exhausted = (0..counters.len()).find(|i| cancelled.is(*i, &[CONDITION_FAILED]));
        match exhausted {
            Some(i) => Ok(Counted::Over(counters[i].0)),
            None if (0..counters.len()).any(|i| cancelled.is(i, &[CONFLICT])) => {
                Ok(Counted::Conflict)
            }
            None => Err(cancelled.unexpected()),
        }
    }
}

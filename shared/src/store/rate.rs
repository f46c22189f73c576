//! Test-rate counters: connection tests per minute per user and per organisation.

use super::{keys, n, s, Store, CONDITION_FAILED, CONFLICT};
use crate::error::InternalError;
use crate::ports::Counted;
use crate::ports::{Exhausted, TestAllowance};
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

impl Store {
    /// One attempt to count a connection test: both counters of `minute` that have a limit,
    /// in one transaction.
    pub(super) async fn count_test_once(
        &self,
        org: &str,
        user: &str,
        allowance: TestAllowance,
        minute: i64,
    ) -> Result<Counted, InternalError> {
        let counters: Vec<_> = allowance
            .limits()
            .map(|(which, limit)| {
                let pk = match which {
                    Exhausted::User => keys::user_tests(minute, org, user),
                    Exhausted::Org => keys::org_tests(minute, org),
                };
                (which, pk, limit)
            })
            .collect();
        if counters.is_empty() {
            return Ok(Counted::Yes);
        }
        let mut items = Vec::new();
        for (_, pk, limit) in &counters {
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
                .map_err(InternalError::new)?;
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

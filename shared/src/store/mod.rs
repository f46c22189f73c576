//! DynamoDB adapter: one table for metadata, grants, history, usages, leases, OAuth states,
//! test-rate counters and idempotency keys (brief §6), one module per kind of item. The key
//! layout is private to [`keys`].
//!
//! Every write that changes a credential goes through one transaction that also writes its
//! history line, conditioned on the version it read, so concurrent edits cannot both win.
//! Callers reach it through [`crate::commit`], never directly.

mod credentials;
mod history;
mod idempotency;
mod keys;
mod leases;
mod oauth_state;
mod rate;
mod refresh_index;
mod usages;

pub use credentials::{Change, Expiry, Grants, WriteOutcome, BATCH_GET_LIMIT};
pub use idempotency::{IdempotencyKey, IdempotencyRecord};
pub use oauth_state::OAuthPending;
pub use rate::{Exhausted, TestAllowance};
pub use usages::{Usage, UsageChange};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

use crate::error::{sdk, ApiError};

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

const CONDITION_FAILED: &str = "ConditionalCheckFailed";
const CONFLICT: &str = "TransactionConflict";

/// A transaction DynamoDB cancelled: each item's reason code, in item order.
struct Cancelled(Vec<Option<String>>);

impl Cancelled {
    /// Whether item `i` was cancelled for one of `codes`.
    fn is(&self, i: usize, codes: &[&str]) -> bool {
        self.0
            .get(i)
            .and_then(Option::as_deref)
            .is_some_and(|c| codes.contains(&c))
    }

    /// A cancellation the caller did not expect: internal, with the reasons for the log.
    fn unexpected(&self) -> ApiError {
        ApiError::internal(format!("transaction cancelled: {:?}", self.0))
    }
}

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One item by key, strongly consistent.
    async fn get_one<T: serde::de::DeserializeOwned>(
        &self,
        pk: AttributeValue,
        sk: AttributeValue,
    ) -> Result<Option<T>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        out.item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(Into::into)
    }

    /// Runs one transaction. `Ok(Err(_))` is DynamoDB cancelling it (a condition failed or
    /// another transaction touched an item), with each item's reason; other failures are `Err`.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Cancelled>, ApiError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    Ok(Err(Cancelled(
                        e.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().map(str::to_owned))
                            .collect(),
                    )))
                }
                _ => Err(sdk(err)),
            },
        }
    }
}

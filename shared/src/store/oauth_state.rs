//! Authorizations in progress through an OAuth provider, keyed by their one-time `state`.

use super::{keys, n, s, Item, Store};
use crate::error::{sdk, InternalError};
use crate::ports::OAuthPending;

impl Store {
    /// Remembers an authorization request until it expires, keyed by its `state`.
    pub(super) async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), InternalError> {
        let mut item: Item = serde_dynamo::to_item(pending)?;
        item.insert("pk".into(), s(keys::oauth_state(state)));
        item.insert("sk".into(), s(keys::OAUTH_STATE));
        item.insert("ttl".into(), n(pending.expires_at.unix_timestamp()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Takes (reads and deletes, atomically) the authorization request for `state`: a state
    /// works once.
    pub(super) async fn take_oauth_state(
        &self,
        state: &str,
    ) -> Result<Option<OAuthPending>, InternalError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::oauth_state(state)))
            .key("sk", s(keys::OAUTH_STATE))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk)?;
        let Some(item) = out.attributes else {
            return Ok(None);
        };
        Ok(Some(serde_dynamo::from_item(item)?))
    }
}

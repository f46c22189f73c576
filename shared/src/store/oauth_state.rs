//! Authorizations in progress through an OAuth provider, keyed by their one-time `state`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{keys, n, s, Item, Store};
use crate::domain::CredentialId;
use crate::error::{sdk, ApiError};

/// An authorization request on its way through the provider (connect or re-authenticate).
/// The PKCE verifier is a one-time value for this exchange, not a credential secret; it lives
/// ten minutes and is deleted when the callback uses it.
#[derive(Clone, Serialize, Deserialize)]
pub struct OAuthPending {
    pub credential_id: CredentialId,
    pub pkce_verifier: String,
    pub actor: String,
    /// Who started the connect, as far as authorization goes: the callback checks they still
    /// may connect before anything is exchanged or stored.
    pub initiator: crate::domain::Caller,
    /// A digest of where the connect sends the person and the code (auth type, authorize URL,
    /// token URL, client id) at the authorize step: the callback refuses if it changed since.
    pub connects_to: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Store {
    /// Remembers an authorization request for ten minutes, keyed by its `state`.
    pub async fn put_oauth_state(
        &self,
        state: &str,
        pending: &OAuthPending,
    ) -> Result<(), ApiError> {
        let mut item: Item = serde_dynamo::to_item(pending)?;
        item.insert("pk".into(), s(keys::oauth_state(state)));
        item.insert("sk".into(), s(keys::OAUTH_STATE));
        let expires = OffsetDateTime::now_utc() + time::Duration::minutes(10);
        item.insert("ttl".into(), n(expires.unix_timestamp()));
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
    /// works once, and not after ten minutes.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<OAuthPending>, ApiError> {
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
        let pending: OAuthPending = serde_dynamo::from_item(item)?;
        Ok((pending.expires_at > OffsetDateTime::now_utc()).then_some(pending))
    }
}

//! Secrets Manager adapter: one secret per credential, holding only its secret fields as JSON.
//!
//! The metadata item names the exact secret version it goes with. Edits write a new version
//! under a pending label first, commit the metadata that points at it, then promote it to
//! AWSCURRENT: a crash at any step leaves the metadata pointing at a version that exists.

pub use crate::secret_versions::derives_from;
use crate::secret_versions::{
    adopt_tokens, derived_version_token, first_version_token, newer_than,
};
use async_trait::async_trait;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::catalog::SecretFields;
use crate::domain::CredentialId;
use crate::error::{or_none_if, sdk, InternalError};
pub use crate::ports::{Pending, TaggedSecret};
use crate::ports::{SecretOwner, SecretReader, SecretStore};

pub(crate) const CURRENT: &str = "AWSCURRENT";
pub const CREDENTIAL_TAG: &str = "latchkey:credential-id";

#[derive(Clone)]
pub struct Vault {
    client: Client,
    prefix: String,
}

impl Vault {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    fn secret_name(&self, id: &CredentialId) -> String {
        format!("{}{}", self.prefix, id)
    }

    async fn promote_wherever(&self, name: &str, version: &str) -> Result<(), InternalError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(sdk)?;
        let current = described
            .version_ids_to_stages()
            .into_iter()
            .flatten()
            .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
            .map(|(v, _)| v.clone());
        if current.as_deref().is_some_and(|c| !newer_than(version, c)) {
            // Already there, or a later commit's version holds it: a late promote never moves
            // AWSCURRENT back to older secrets.
            return Ok(());
        }
        self.client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(CURRENT)
            .move_to_version_id(version)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }
}

#[async_trait]
impl SecretStore for Vault {
    /// Creates the credential's secret; returns the version id. The tag lets an orphan sweep
    /// find secrets whose metadata was never written.
    async fn create(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
    ) -> Result<String, InternalError> {
        let id = owner.id;
        let out = self
            .client
            .create_secret()
            .name(self.secret_name(id))
            .secret_string(secrets.to_json()?.expose_secret())
            .client_request_token(first_version_token(id))
            .description("Latchkey credential secret fields")
            .tags(
                Tag::builder()
                    .key(CREDENTIAL_TAG)
                    .value(id.as_str())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk)?;
        out.version_id
            .ok_or_else(|| InternalError::new("CreateSecret returned no version id"))
    }

    /// Writes a new version, derived from version `parent`, that nothing reads until metadata
    /// points at it.
    async fn put_pending(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, InternalError> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(self.secret_name(owner.id))
            .secret_string(secrets.to_json()?.expose_secret())
            .client_request_token(derived_version_token(parent))
            .version_stages(why.label())
            .send()
            .await
            .map_err(sdk)?;
        out.version_id
            .ok_or_else(|| InternalError::new("PutSecretValue returned no version id"))
    }

    /// Moves AWSCURRENT to `version`, which the metadata now names, from `named_before`, where
    /// every commit's promote left it: one call. If a promote was lost (a crash right after a
    /// commit), the label is elsewhere; AWS refuses the move and the label is looked up.
    async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        named_before: &str,
    ) -> Result<(), InternalError> {
        if version == named_before {
            return Ok(());
        }
        let name = self.secret_name(id);
        let moved = self
            .client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage(CURRENT)
            .move_to_version_id(version)
            .remove_from_version_id(named_before)
            .send()
            .await;
        match moved {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_exception()) =>
            {
                self.promote_wherever(&name, version).await
            }
            Err(e) => Err(sdk(e)),
        }
    }

    /// Takes the pending label off a version whose metadata commit was refused, so nothing
    /// mistakes it for work in progress.
    async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        why: Pending,
    ) -> Result<(), InternalError> {
        self.client
            .update_secret_version_stage()
            .secret_id(self.secret_name(id))
            .version_stage(why.label())
            .remove_from_version_id(version)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// What a refresh starts from: the secrets of the version the metadata names, with the
    /// tokens of an interrupted refresh (stored, then its commit lost to a crash or a concurrent
    /// write) when, and only when, that refresh derives from the named version: with rotation,
    /// the refresh token in `named` may already be spent. Only the token fields are carried
    /// over, never a client secret or anything else: a refresh that started before an edit
    /// derives from the version the edit replaced and is ignored, so an edit's new secrets and
    /// destinations are never mixed with old ones. The refresh label sits on the last refreshed
    /// version, normally the named one, so this is usually one call.
    async fn refresh_input(
        &self,
        owner: SecretOwner<'_>,
        named: &str,
    ) -> Result<SecretFields, InternalError> {
        let labelled = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(owner.id))
            .version_stage(Pending::Refresh.label())
            .send()
            .await;
        let interrupted = match or_none_if(labelled, |e| e.is_resource_not_found_exception())? {
            Some(out) => {
                let version = out.version_id.clone().unwrap_or_default();
                if version == named {
                    return fields_of(out.secret_string);
                }
                derives_from(&version, named).then_some((version, out.secret_string))
            }
            None => None,
        };
        let mut fields = self.read(owner, named).await?;
        if let Some((version, secret_string)) = interrupted {
            adopt_tokens(&mut fields, &version, fields_of(secret_string)?);
        }
        Ok(fields)
    }

    /// Schedules deletion; the secret stays restorable for `days`.
    async fn schedule_delete(
        &self,
        id: &CredentialId,
        _named: &str,
        days: i64,
    ) -> Result<(), InternalError> {
        self.client
            .delete_secret()
            .secret_id(self.secret_name(id))
            .recovery_window_in_days(days)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Immediate deletion, only for a secret no metadata ever pointed at.
    async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), InternalError> {
        let deleted = self
            .client
            .delete_secret()
            .secret_id(self.secret_name(id))
            .force_delete_without_recovery(true)
            .send()
            .await;
        or_none_if(deleted, |e| e.is_resource_not_found_exception())?;
        Ok(())
    }

    /// Every live (not scheduled for deletion) secret under the prefix with a credential tag.
    async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, InternalError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(&self.prefix)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::TagKey)
                    .values(CREDENTIAL_TAG)
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for secret in page.map_err(sdk)?.secret_list() {
                let in_prefix = secret.name().is_some_and(|n| n.starts_with(&self.prefix));
                let tagged = secret
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(CREDENTIAL_TAG))
                    .and_then(|t| t.value())
                    .and_then(|v| CredentialId::parse(v).ok());
                let created = secret
                    .created_date()
                    .and_then(|d| time::OffsetDateTime::from_unix_timestamp(d.secs()).ok());
                if let (true, Some(credential_id), Some(created_at)) = (in_prefix, tagged, created)
                {
                    found.push(TaggedSecret {
                        credential_id,
                        created_at,
                    });
                }
            }
        }
        Ok(found)
    }

    /// Cancels a scheduled deletion. Restoring a secret that is not scheduled is a no-op.
    async fn restore(&self, id: &CredentialId, _named: &str) -> Result<(), InternalError> {
        self.client
            .restore_secret()
            .secret_id(self.secret_name(id))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }
}

fn fields_of(secret_string: Option<String>) -> Result<SecretFields, InternalError> {
    let raw = SecretString::from(secret_string.unwrap_or_default());
    SecretFields::from_json(raw.expose_secret().as_bytes())
        .map_err(|_| InternalError::new("stored secret is not a JSON object of strings"))
}

#[async_trait]
impl SecretReader for Vault {
    /// The secret fields stored in exactly `version`.
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(owner.id))
            .version_id(version)
            .send()
            .await
            .map_err(sdk)?;
        fields_of(out.secret_string)
    }
}

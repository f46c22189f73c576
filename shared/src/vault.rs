//! Secrets Manager adapter: one secret per credential, holding only its secret fields as JSON.
//!
//! The metadata item names the exact secret version it goes with. Edits write a new version
//! under a pending label first, commit the metadata that points at it, then promote it to
//! AWSCURRENT: a crash at any step leaves the metadata pointing at a version that exists.

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

use crate::catalog::SecretFields;
use crate::domain::CredentialId;
use crate::error::{sdk, ApiError};

/// Why a version is written before the metadata names it; each reason has its own staging
/// label, so a refresh that crashed before its commit can be told apart from an abandoned edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    Edit,
    Refresh,
}

impl Pending {
    fn label(self) -> &'static str {
        match self {
            Pending::Edit => "LATCHKEY_PENDING",
            Pending::Refresh => "LATCHKEY_REFRESHED",
        }
    }
}
const CURRENT: &str = "AWSCURRENT";
pub const CREDENTIAL_TAG: &str = "latchkey:credential-id";

/// A live secret of this service, as the orphan sweep sees it.
#[derive(Debug)]
pub struct TaggedSecret {
    pub credential_id: CredentialId,
    pub created_at: time::OffsetDateTime,
}

#[derive(Clone)]
pub struct Vault {
    client: Client,
    prefix: String,
}

/// A fresh ClientRequestToken (32 to 64 characters) for a credential's first version. Reusing it
/// on an SDK retry is what makes the write idempotent. Version ids are these tokens, so each
/// says when this service wrote it (its ULID) whatever clock the store keeps.
fn first_version_token(id: &CredentialId) -> String {
    format!("{}-{}", id.as_str(), ulid::Ulid::new())
}

const DERIVED: &str = "-from-";

/// The token of a version derived from `parent`: `<ULID>-from-<parent's ULID>` (58 characters).
/// The version records what it was made from, which is what decides whether an interrupted
/// refresh's tokens may be adopted (see [`Vault::refresh_input`]). A parent this service did not
/// write gets the nil ULID: its children are never adopted.
fn derived_version_token(parent: &str) -> String {
    let parent = own_ulid(parent).unwrap_or(ulid::Ulid::nil());
    format!("{}{DERIVED}{parent}", ulid::Ulid::new())
}

/// When this service wrote a version: its own ULID.
fn own_ulid(version: &str) -> Option<ulid::Ulid> {
    let own = match version.split_once(DERIVED) {
        Some((own, _)) => own,
        None => version.rsplit('-').next()?,
    };
    ulid::Ulid::from_string(own).ok()
}

/// Whether this service wrote `version` after `other`. Commits are conditioned on the version
/// read, and each version is written after that read, so the later version is the later commit.
/// A version this service did not write is never newer.
fn newer_than(version: &str, other: &str) -> bool {
    match (own_ulid(version), own_ulid(other)) {
        (Some(v), Some(o)) => v > o,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Whether `version` was derived from `parent` (written from exactly that version's secrets).
pub fn derives_from(version: &str, parent: &str) -> bool {
    let recorded = version
        .split_once(DERIVED)
        .and_then(|(_, p)| ulid::Ulid::from_string(p).ok());
    matches!((recorded, own_ulid(parent)), (Some(r), Some(p)) if r == p && !p.is_nil())
}

/// The only secrets a refresh writes, and so the only ones adopted from an interrupted refresh.
const TOKEN_FIELDS: [&str; 2] = ["access_token", "refresh_token"];

fn to_json(secrets: &SecretFields) -> Result<SecretString, ApiError> {
    let exposed: BTreeMap<&str, &str> = secrets
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose_secret()))
        .collect();
    Ok(SecretString::from(serde_json::to_string(&exposed)?))
}

impl Vault {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }

    pub fn secret_name(&self, id: &CredentialId) -> String {
        format!("{}{}", self.prefix, id)
    }

    /// Creates the credential's secret; returns the version id. The tag lets an orphan sweep
    /// find secrets whose metadata was never written.
    pub async fn create(
        &self,
        id: &CredentialId,
        secrets: &SecretFields,
    ) -> Result<String, ApiError> {
        let out = self
            .client
            .create_secret()
            .name(self.secret_name(id))
            .secret_string(to_json(secrets)?.expose_secret())
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
            .ok_or_else(|| ApiError::internal("CreateSecret returned no version id"))
    }

    /// Writes a new version, derived from version `parent`, that nothing reads until metadata
    /// points at it.
    pub async fn put_pending(
        &self,
        id: &CredentialId,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, ApiError> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(self.secret_name(id))
            .secret_string(to_json(secrets)?.expose_secret())
            .client_request_token(derived_version_token(parent))
            .version_stages(why.label())
            .send()
            .await
            .map_err(sdk)?;
        out.version_id
            .ok_or_else(|| ApiError::internal("PutSecretValue returned no version id"))
    }

    /// Moves AWSCURRENT to `version`, which the metadata now names, from `named_before`, where
    /// every commit's promote left it: one call. If a promote was lost (a crash right after a
    /// commit), the label is elsewhere; AWS refuses the move and the label is looked up.
    pub async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        named_before: &str,
    ) -> Result<(), ApiError> {
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

    async fn promote_wherever(&self, name: &str, version: &str) -> Result<(), ApiError> {
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

    /// Takes the pending label off a version whose metadata commit was refused, so nothing
    /// mistakes it for work in progress.
    pub async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        why: Pending,
    ) -> Result<(), ApiError> {
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
    pub async fn refresh_input(
        &self,
        id: &CredentialId,
        named: &str,
    ) -> Result<SecretFields, ApiError> {
        let labelled = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(id))
            .version_stage(Pending::Refresh.label())
            .send()
            .await;
        let interrupted = match labelled {
            Ok(out) => {
                let version = out.version_id.clone().unwrap_or_default();
                if version == named {
                    return fields_of(out.secret_string);
                }
                derives_from(&version, named).then_some((version, out.secret_string))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(sdk(e)),
        };
        let mut fields = self.read(id, named).await?;
        if let Some((version, secret_string)) = interrupted {
            tracing::warn!(version = %version, "adopting the tokens an interrupted refresh stored");
            let mut tokens = fields_of(secret_string)?;
            for name in TOKEN_FIELDS {
                if let Some(token) = tokens.0.remove(name) {
                    fields.0.insert(name.to_owned(), token);
                }
            }
        }
        Ok(fields)
    }

    /// The secret fields stored in exactly `version`.
    pub async fn read(&self, id: &CredentialId, version: &str) -> Result<SecretFields, ApiError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(self.secret_name(id))
            .version_id(version)
            .send()
            .await
            .map_err(sdk)?;
        fields_of(out.secret_string)
    }

    /// Schedules deletion; the secret stays restorable for `days`.
    pub async fn schedule_delete(&self, id: &CredentialId, days: i64) -> Result<(), ApiError> {
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
    pub async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), ApiError> {
        self.client
            .delete_secret()
            .secret_id(self.secret_name(id))
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Every live (not scheduled for deletion) secret under the prefix with a credential tag.
    pub async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, ApiError> {
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
    pub async fn restore(&self, id: &CredentialId) -> Result<(), ApiError> {
        self.client
            .restore_secret()
            .secret_id(self.secret_name(id))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }
}

fn fields_of(secret_string: Option<String>) -> Result<SecretFields, ApiError> {
    let raw = SecretString::from(secret_string.unwrap_or_default());
    let map: BTreeMap<String, String> = serde_json::from_str(raw.expose_secret())
        .map_err(|_| ApiError::internal("stored secret is not a JSON object of strings"))?;
    Ok(SecretFields(
        map.into_iter()
            .map(|(k, v)| (k, SecretString::from(v)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_record_what_they_derive_from() {
        let id = CredentialId::generate();
        let first = first_version_token(&id);
        assert!((32..=64).contains(&first.len()), "{first}");
        let child = derived_version_token(&first);
        assert!((32..=64).contains(&child.len()), "{child}");
        assert!(derives_from(&child, &first));
        let grandchild = derived_version_token(&child);
        assert!(derives_from(&grandchild, &child));
        assert!(!derives_from(&grandchild, &first), "only the direct parent");
        let sibling = derived_version_token(&first);
        assert!(!derives_from(&sibling, &child));
        assert!(
            !derives_from(&first, &first),
            "a first version derives from nothing"
        );
        // A parent this service did not write gets the nil ULID: nothing derives from it.
        let orphan = derived_version_token("not-ours");
        assert!(!derives_from(&orphan, "not-ours"));
        assert!(!derives_from(&orphan, &format!("x-{}", ulid::Ulid::nil())));
    }

    #[test]
    fn a_late_promote_never_moves_current_back() {
        let id = CredentialId::generate();
        let first = first_version_token(&id);
        let older = derived_version_token(&first);
        // ULIDs order by millisecond; within one they are random.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let newer = derived_version_token(&older);
        assert!(newer_than(&newer, &older));
        assert!(!newer_than(&older, &newer));
        assert!(!newer_than(&older, &older));
        assert!(newer_than(&older, "not-ours"));
        assert!(!newer_than("not-ours", &older));
    }
}

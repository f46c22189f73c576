//! Envelope adapter of the secret store: each secret version sealed (AES-256-GCM, see [`seal`])
//! under its organisation's data key (see [`keys`]) in one immutable item of the secret table.
//! Kept for large tenants: a DynamoDB item costs a fraction of a Secrets Manager secret, and
//! the data keys, not the secrets, are what KMS and IAM guard.
//!
//! The version protocol is the Secrets Manager adapter's ([`crate::vault`]): the same version
//! ids (which record what they derive from), new versions written before the metadata names
//! them, a refresh label that lets an interrupted refresh's tokens be adopted. Items, under
//! `pk = CRED#<id>`:
//! - `HEAD`: created with the first version; `created_at` and `head` (the sparse `by_head`
//!   index the orphan sweep lists), `refresh` (the version last written by a refresh), and
//!   while deletion is scheduled `ttl` plus `marked` (the versions that deletion put a `ttl` on,
//!   which a restore takes off again).
//! - `V#<version>`: `sealed`, `org`, `key_generation`. A version that stops being named (or is
//!   refused) gets a `ttl` a day later, so readers of the previous metadata still find it, and
//!   DynamoDB's TTL then removes it: storage does not grow with every refresh.

pub mod keys;
pub mod seal;
mod table;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use crate::catalog::SecretFields;
use crate::domain::CredentialId;
use crate::error::{sdk, InternalError};
use crate::ports::{Pending, SecretOwner, SecretReader, SecretStore, TaggedSecret};
use crate::secret_versions::{
    adopt_tokens, derived_version_token, derives_from, first_version_token,
};
use keys::DataKeys;
use table::{key, n, now, s, text, version_sk, Item, HEAD, LIVE_HEAD, MARK, UNNAMED_KEPT_SECONDS};

pub struct Envelope {
    ddb: Client,
    table: String,
    keys: DataKeys,
}

impl Envelope {
    /// Whether this store wrote `version`.
    pub fn holds(version: &str) -> bool {
        version.starts_with(MARK)
    }

    pub fn new(ddb: Client, table: &str, keys: DataKeys) -> Self {
        Self {
            ddb,
            table: table.to_owned(),
            keys,
        }
    }

    /// The item of a new version, sealed under the organisation's current data key.
    async fn sealed_version(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
        fields: &SecretFields,
    ) -> Result<Item, InternalError> {
        let (generation, data_key) = self.keys.for_sealing(owner.org).await?;
        let sealed = seal::seal(&data_key, owner, version, fields)?;
        let mut item = key(owner.id, &version_sk(version));
        item.insert("sealed".into(), AttributeValue::B(sealed.into()));
        item.insert("org".into(), s(owner.org));
        item.insert("key_generation".into(), n(generation as i64));
        item.insert("created_at".into(), n(now()));
        Ok(item)
    }
}

#[async_trait]
impl SecretStore for Envelope {
    /// The head and the first version in one transaction; refused if the secret exists.
    async fn create(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
    ) -> Result<String, InternalError> {
        let version = format!("{MARK}{}", first_version_token(owner.id));
        let mut head = key(owner.id, HEAD);
        head.insert("head".into(), s("1"));
        head.insert("created_at".into(), n(now()));
        head.insert("org".into(), s(owner.org));
        let first = self.sealed_version(owner, &version, secrets).await?;
        self.transact(&version, vec![self.put_new(head)?, self.put_new(first)?])
            .await?;
        Ok(version)
    }

    /// The version, with the head checked live (as Secrets Manager refuses writes to a secret
    /// scheduled for deletion) and, for a refresh, pointing at it.
    async fn put_pending(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, InternalError> {
        let version = format!("{MARK}{}", derived_version_token(parent));
        let item = self.sealed_version(owner, &version, secrets).await?;
        let head = match why {
            Pending::Edit => TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(owner.id, HEAD)))
                    .condition_expression(LIVE_HEAD)
                    .expression_attribute_names("#ttl", "ttl")
                    .build()
                    .map_err(|e| InternalError::new(e.to_string()))?,
            ),
            Pending::Refresh => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(owner.id, HEAD)))
                    .update_expression("SET refresh = :v")
                    .condition_expression(LIVE_HEAD)
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":v", s(&version))
                    .build()
                    .map_err(|e| InternalError::new(e.to_string()))?,
            ),
        };
        self.transact(&version, vec![self.put_new(item)?, head.build()])
            .await?;
        Ok(version)
    }

    /// The metadata names `version` now: `named_before` is no longer read, and expires.
    async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        named_before: &str,
    ) -> Result<(), InternalError> {
        if version == named_before {
            return Ok(());
        }
        self.expire(id, named_before, now() + UNNAMED_KEPT_SECONDS)
            .await
    }

    /// A version whose metadata commit was refused is never named: it expires.
    async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        _why: Pending,
    ) -> Result<(), InternalError> {
        self.expire(id, version, now() + UNNAMED_KEPT_SECONDS).await
    }

    /// As [`crate::vault::Vault::refresh_input`]: the named version's fields, with the tokens of
    /// an interrupted refresh that derives from it.
    async fn refresh_input(
        &self,
        owner: SecretOwner<'_>,
        named: &str,
    ) -> Result<SecretFields, InternalError> {
        let head = self
            .get(owner.id, HEAD)
            .await?
            .ok_or_else(|| InternalError::new("no such secret"))?;
        let mut fields = self.read(owner, named).await?;
        if let Some(refreshed) = text(&head, "refresh") {
            if refreshed != named && derives_from(&refreshed, named) {
                let tokens = self.read(owner, &refreshed).await?;
                adopt_tokens(&mut fields, &refreshed, tokens);
            }
        }
        Ok(fields)
    }

    /// Every version still without a `ttl` gets one `days` from now, after the head has
    /// recorded which (so a restore, even after a crash half-way, knows what to take back), and
    /// the head last (so a failure half-way never leaves versions the head does not outlive).
    async fn schedule_delete(
        &self,
        id: &CredentialId,
        _named: &str,
        days: i64,
    ) -> Result<(), InternalError> {
        let at = now() + days * 86_400;
        let unexpired: Vec<String> = self
            .items_of(id)
            .await?
            .iter()
            .filter(|i| !i.contains_key("ttl"))
            .filter_map(|i| text(i, "sk")?.strip_prefix("V#").map(str::to_owned))
            .collect();
        let head = || {
            self.ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(id, HEAD)))
                .condition_expression("attribute_exists(pk)")
        };
        if !unexpired.is_empty() {
            head()
                .update_expression("ADD marked :marked")
                .expression_attribute_values(":marked", AttributeValue::Ss(unexpired.clone()))
                .send()
                .await
                .map_err(sdk)?;
        }
        for version in &unexpired {
            self.expire(id, version, at).await?;
        }
        head()
            .update_expression("SET #ttl = :at")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":at", n(at))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    /// Takes the deletion's `ttl` off the versions it marked and the named one, then off the
    /// head.
    async fn restore(&self, id: &CredentialId, named: &str) -> Result<(), InternalError> {
        let Some(head) = self.get(id, HEAD).await? else {
            return Err(InternalError::new("no such secret"));
        };
        let marked = head
            .get("marked")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let named = version_sk(named);
        for version in marked
            .iter()
            .map(|v| version_sk(v))
            .filter(|v| *v != named)
            .chain([named.clone(), HEAD.to_owned()])
        {
            self.ddb
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(id, &version)))
                .update_expression("REMOVE #ttl, marked")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#ttl", "ttl")
                .send()
                .await
                .map_err(sdk)?;
        }
        Ok(())
    }

    /// Deletes every item of a secret no metadata names, the head last: a failure half-way
    /// leaves the head, so the orphan sweep still finds what is left.
    async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), InternalError> {
        let mut keys: Vec<String> = self
            .items_of(id)
            .await?
            .iter()
            .filter_map(|item| text(item, "sk"))
            .collect();
        keys.sort_by_key(|sk| sk == HEAD);
        for sk in keys {
            self.ddb
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(id, &sk)))
                .send()
                .await
                .map_err(sdk)?;
        }
        Ok(())
    }

    /// The heads not scheduled for deletion, from the sparse `by_head` index.
    async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, InternalError> {
        let heads: Vec<Item> = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("by_head")
            .key_condition_expression("head = :h")
            .expression_attribute_values(":h", s("1"))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(sdk)?;
        Ok(heads
            .iter()
            .filter(|item| !item.contains_key("ttl"))
            .filter_map(|item| {
                let credential_id =
                    CredentialId::parse(text(item, "pk")?.strip_prefix("CRED#")?).ok()?;
                let created_at = item
                    .get("created_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())?;
                Some(TaggedSecret {
                    credential_id,
                    created_at,
                })
            })
            .collect())
    }
}

#[async_trait]
impl SecretReader for Envelope {
    /// Opens exactly `version`, which must belong to `owner`'s organisation.
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError> {
        let item = self
            .get(owner.id, &version_sk(version))
            .await?
            .ok_or_else(|| InternalError::new("no such secret version"))?;
        if text(&item, "org").as_deref() != Some(owner.org) {
            return Err(InternalError::new(
                "a sealed secret belongs to another organisation",
            ));
        }
        let generation = item
            .get("key_generation")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| InternalError::new("a sealed secret names no data key"))?;
        let sealed = item
            .get("sealed")
            .and_then(|v| v.as_b().ok())
            .ok_or_else(|| InternalError::new("a sealed secret has no value"))?;
        let data_key = self.keys.for_opening(owner.org, generation).await?;
        seal::open(&data_key, owner, version, sealed.as_ref())
    }
}

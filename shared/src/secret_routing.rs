//! The secret store every function is given: both adapters behind the one port, each operation
//! sent to the store that holds the version it names. A version id says which store wrote it
//! (the envelope store marks its own), so a stack can change `SecretStorage` without a window
//! in which some secret cannot be read: new credentials go to the configured store, existing
//! ones stay readable, writable and deletable where they are until the migration
//! (`functions/migrate`) moves them.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::catalog::SecretFields;
use crate::config::SecretStorage;
use crate::domain::CredentialId;
use crate::error::InternalError;
use crate::ports::{Pending, SecretOwner, SecretReader, SecretStore, TaggedSecret};

/// Which store wrote `version`.
pub fn held_by(version: &str) -> SecretStorage {
    if crate::envelope::Envelope::holds(version) {
        SecretStorage::Envelope
    } else {
        SecretStorage::SecretsManager
    }
}

pub struct RoutedSecrets {
    secrets_manager: Arc<dyn SecretStore>,
    /// `None` where the template gives no envelope table (a stack that never used it).
    envelope: Option<Arc<dyn SecretStore>>,
    new_secrets: SecretStorage,
}

impl RoutedSecrets {
    pub fn new(
        secrets_manager: Arc<dyn SecretStore>,
        envelope: Option<Arc<dyn SecretStore>>,
        new_secrets: SecretStorage,
    ) -> Self {
        Self {
            secrets_manager,
            envelope,
            new_secrets,
        }
    }

    fn store(&self, storage: SecretStorage) -> Result<&dyn SecretStore, InternalError> {
        match storage {
            SecretStorage::SecretsManager => Ok(&*self.secrets_manager),
            SecretStorage::Envelope => self
                .envelope
                .as_deref()
                .ok_or_else(|| InternalError::new("envelope secret storage is not configured")),
        }
    }

    fn holding(&self, version: &str) -> Result<&dyn SecretStore, InternalError> {
        self.store(held_by(version))
    }

    fn every_store(&self) -> impl Iterator<Item = &dyn SecretStore> {
        std::iter::once(&*self.secrets_manager).chain(self.envelope.as_deref())
    }
}

#[async_trait]
impl SecretReader for RoutedSecrets {
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError> {
        self.holding(version)?.read(owner, version).await
    }
}

#[async_trait]
impl SecretStore for RoutedSecrets {
    async fn create(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
    ) -> Result<String, InternalError> {
        self.store(self.new_secrets)?.create(owner, secrets).await
    }

    /// A new version goes where its parent is: the credential moves only by migration.
    async fn put_pending(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, InternalError> {
        self.holding(parent)?
            .put_pending(owner, secrets, why, parent)
            .await
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        named_before: &str,
    ) -> Result<(), InternalError> {
        self.holding(version)?
            .promote(id, version, named_before)
            .await
    }

    async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        why: Pending,
    ) -> Result<(), InternalError> {
        self.holding(version)?.abandon(id, version, why).await
    }

    async fn refresh_input(
        &self,
        owner: SecretOwner<'_>,
        named: &str,
    ) -> Result<SecretFields, InternalError> {
        self.holding(named)?.refresh_input(owner, named).await
    }

    async fn schedule_delete(
        &self,
        id: &CredentialId,
        named: &str,
        days: i64,
    ) -> Result<(), InternalError> {
        self.holding(named)?.schedule_delete(id, named, days).await
    }

    async fn restore(&self, id: &CredentialId, named: &str) -> Result<(), InternalError> {
        self.holding(named)?.restore(id, named).await
    }

    /// Wherever it is: no metadata names it in either store.
    async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), InternalError> {
        for store in self.every_store() {
            store.destroy_unreferenced(id).await?;
        }
        Ok(())
    }

    /// Both stores' secrets, once per credential (the earliest, where a migration that
    /// stopped half-way left one in each).
    async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, InternalError> {
        let mut found: BTreeMap<CredentialId, TaggedSecret> = BTreeMap::new();
        for store in self.every_store() {
            for secret in store.tagged_secrets().await? {
                match found.get(&secret.credential_id) {
                    Some(kept) if kept.created_at <= secret.created_at => {}
                    _ => {
                        found.insert(secret.credential_id.clone(), secret);
                    }
                }
            }
        }
        Ok(found.into_values().collect())
    }
}

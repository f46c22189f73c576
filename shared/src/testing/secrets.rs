//! The secret store in memory, with Secrets Manager's version model: version ids from the same
//! tokens the AWS adapter sends, staging labels, AWSCURRENT never moved back, deletion with a
//! recovery window.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use time::OffsetDateTime;

use super::lock;
use crate::catalog::SecretFields;
use crate::domain::CredentialId;
use crate::error::InternalError;
use crate::ports::{SecretOwner, SecretReader, SecretStore};
use crate::secret_versions::{
    adopt_tokens, derived_version_token, derives_from, first_version_token, newer_than,
};
use crate::vault::{Pending, TaggedSecret, CURRENT};

struct Version {
    id: String,
    fields: BTreeMap<String, String>,
    labels: BTreeSet<String>,
}

struct Secret {
    versions: Vec<Version>,
    scheduled_for_deletion: bool,
    created_at: OffsetDateTime,
}

impl Secret {
    fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    fn labelled(&self, label: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.labels.contains(label))
    }

    /// Moves `label` to `version`, off every other.
    fn label(&mut self, version: &str, label: &str) {
        for v in &mut self.versions {
            if v.id == version {
                v.labels.insert(label.to_owned());
            } else {
                v.labels.remove(label);
            }
        }
    }
}

#[derive(Default)]
pub struct MemorySecrets {
    secrets: Mutex<BTreeMap<CredentialId, Secret>>,
}

fn exposed(secrets: &SecretFields) -> BTreeMap<String, String> {
    secrets
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
        .collect()
}

fn fields(map: &BTreeMap<String, String>) -> SecretFields {
    SecretFields(
        map.iter()
            .map(|(k, v)| (k.clone(), SecretString::from(v.clone())))
            .collect(),
    )
}

fn missing() -> InternalError {
    InternalError::new("no such secret")
}

/// As Secrets Manager refuses to read or write a secret marked for deletion.
fn marked() -> InternalError {
    InternalError::new("the secret is marked for deletion")
}

impl MemorySecrets {
    /// The value of field `name` in `version` of the credential's secret.
    pub fn value(&self, id: &CredentialId, version: &str, name: &str) -> Option<String> {
        lock(&self.secrets)
            .get(id)?
            .version(version)?
            .fields
            .get(name)
            .cloned()
    }

    /// Whether the credential has a secret that is not scheduled for deletion.
    pub fn is_live(&self, id: &CredentialId) -> bool {
        lock(&self.secrets)
            .get(id)
            .is_some_and(|s| !s.scheduled_for_deletion)
    }

    /// How many versions the credential's secret has.
    pub fn versions(&self, id: &CredentialId) -> usize {
        lock(&self.secrets).get(id).map_or(0, |s| s.versions.len())
    }

    /// Plants a secret no metadata names, as a create that crashed before its commit leaves.
    pub fn plant_orphan(&self, id: &CredentialId, created_at: OffsetDateTime) {
        lock(&self.secrets).insert(
            id.clone(),
            Secret {
                versions: vec![Version {
                    id: first_version_token(id),
                    fields: BTreeMap::new(),
                    labels: BTreeSet::from([CURRENT.to_owned()]),
                }],
                scheduled_for_deletion: false,
                created_at,
            },
        );
    }
}

#[async_trait]
impl SecretStore for MemorySecrets {
    async fn create(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
    ) -> Result<String, InternalError> {
        let id = owner.id;
        let mut all = lock(&self.secrets);
        if all.contains_key(id) {
            return Err(InternalError::new("the secret already exists"));
        }
        let version = first_version_token(id);
        all.insert(
            id.clone(),
            Secret {
                versions: vec![Version {
                    id: version.clone(),
                    fields: exposed(secrets),
                    labels: BTreeSet::from([CURRENT.to_owned()]),
                }],
                scheduled_for_deletion: false,
                // Long before any test's clock: the orphan sweep examines every created secret.
                created_at: OffsetDateTime::UNIX_EPOCH,
            },
        );
        Ok(version)
    }

    async fn put_pending(
        &self,
        owner: SecretOwner<'_>,
        secrets: &SecretFields,
        why: Pending,
        parent: &str,
    ) -> Result<String, InternalError> {
        let id = owner.id;
        let mut all = lock(&self.secrets);
        let secret = all.get_mut(id).ok_or_else(missing)?;
        if secret.scheduled_for_deletion {
            return Err(marked());
        }
        let version = derived_version_token(parent);
        match secret.version(&version) {
            Some(v) if v.fields != exposed(secrets) => {
                return Err(InternalError::new(
                    "a version with this token holds other values",
                ))
            }
            Some(_) => {}
            None => secret.versions.push(Version {
                id: version.clone(),
                fields: exposed(secrets),
                labels: BTreeSet::new(),
            }),
        }
        secret.label(&version, why.label());
        Ok(version)
    }

    async fn promote(
        &self,
        id: &CredentialId,
        version: &str,
        _named_before: &str,
    ) -> Result<(), InternalError> {
        let mut all = lock(&self.secrets);
        let secret = all.get_mut(id).ok_or_else(missing)?;
        let current = secret.labelled(CURRENT).map(|v| v.id.clone());
        if current.is_some_and(|c| !newer_than(version, &c)) {
            return Ok(());
        }
        secret.label(version, CURRENT);
        Ok(())
    }

    async fn abandon(
        &self,
        id: &CredentialId,
        version: &str,
        why: Pending,
    ) -> Result<(), InternalError> {
        let mut all = lock(&self.secrets);
        let secret = all.get_mut(id).ok_or_else(missing)?;
        for v in secret.versions.iter_mut().filter(|v| v.id == version) {
            v.labels.remove(why.label());
        }
        Ok(())
    }

    async fn refresh_input(
        &self,
        owner: SecretOwner<'_>,
        named: &str,
    ) -> Result<SecretFields, InternalError> {
        let id = owner.id;
        let interrupted = {
            let all = lock(&self.secrets);
            let secret = all.get(id).ok_or_else(missing)?;
            secret
                .labelled(Pending::Refresh.label())
                .filter(|v| v.id == named || derives_from(&v.id, named))
                .map(|v| (v.id.clone(), fields(&v.fields)))
        };
        match interrupted {
            Some((version, fields)) if version == named => Ok(fields),
            Some((version, tokens)) => {
                let mut named_fields = self.read(owner, named).await?;
                adopt_tokens(&mut named_fields, &version, tokens);
                Ok(named_fields)
            }
            None => self.read(owner, named).await,
        }
    }

    async fn schedule_delete(
        &self,
        id: &CredentialId,
        _named: &str,
        _days: i64,
    ) -> Result<(), InternalError> {
        let mut all = lock(&self.secrets);
        all.get_mut(id).ok_or_else(missing)?.scheduled_for_deletion = true;
        Ok(())
    }

    async fn restore(&self, id: &CredentialId, _named: &str) -> Result<(), InternalError> {
        let mut all = lock(&self.secrets);
        all.get_mut(id).ok_or_else(missing)?.scheduled_for_deletion = false;
        Ok(())
    }

    async fn destroy_unreferenced(&self, id: &CredentialId) -> Result<(), InternalError> {
        lock(&self.secrets).remove(id);
        Ok(())
    }

    async fn tagged_secrets(&self) -> Result<Vec<TaggedSecret>, InternalError> {
        Ok(lock(&self.secrets)
            .iter()
            .filter(|(_, s)| !s.scheduled_for_deletion)
            .map(|(id, s)| TaggedSecret {
                credential_id: id.clone(),
                created_at: s.created_at,
            })
            .collect())
    }
}

#[async_trait]
impl SecretReader for MemorySecrets {
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError> {
        let all = lock(&self.secrets);
        let secret = all.get(owner.id).ok_or_else(missing)?;
        if secret.scheduled_for_deletion {
            return Err(marked());
        }
        let v = secret.version(version);
        v.map(|v| fields(&v.fields)).ok_or_else(missing)
    }
}

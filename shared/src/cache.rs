//! A warm function's memory of things that are costly to fetch and never change under their
//! key (an unwrapped data key, a secret version): bounded in entries and in age, so a revoked
//! key or a deleted secret stops being served from memory within the age.

use async_trait::async_trait;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::catalog::SecretFields;
use crate::domain::CredentialId;
use crate::error::InternalError;
use crate::ports::{SecretOwner, SecretReader};

pub struct AgedCache<K, V> {
    max_age: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> AgedCache<K, V> {
    pub fn new(max_age: Duration, max_entries: usize) -> Self {
        Self {
            max_age,
            max_entries: max_entries.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value kept under `key`, unless it is older than the age allowed (then it is
    /// dropped, not kept until the cache fills).
    pub fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((at, value)) if at.elapsed() < self.max_age => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` under `key`; expired entries go first, then the oldest if still full.
    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, (at, _)| at.elapsed() < self.max_age);
        }
        if entries.len() >= self.max_entries {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads of secret versions kept in memory: a version never changes, so a warm function that
/// hands the same credential to flows again and again asks the store once per version and five
/// minutes. The caller still reads the metadata and authorizes on every call, and asks for the
/// version the metadata names, so a revoked grant or a new version takes effect at once; the
/// age bounds how long a deleted secret stays in memory. Writes go to the store itself.
pub struct CachedReads {
    store: Arc<dyn SecretReader>,
    versions: AgedCache<(CredentialId, String), SecretFields>,
}

/// At most five minutes (issue 16) and this many versions (a few MB at the largest secrets).
const VERSION_KEPT: Duration = Duration::from_secs(300);
const MOST_VERSIONS: usize = 2048;

impl CachedReads {
    pub fn new(store: Arc<dyn SecretReader>) -> Self {
        Self {
            store,
            versions: AgedCache::new(VERSION_KEPT, MOST_VERSIONS),
        }
    }
}

#[async_trait]
impl SecretReader for CachedReads {
    async fn read(
        &self,
        owner: SecretOwner<'_>,
        version: &str,
    ) -> Result<SecretFields, InternalError> {
        let key = (owner.id.clone(), version.to_owned());
        if let Some(fields) = self.versions.get(&key) {
            return Ok(fields);
        }
        let fields = self.store.read(owner, version).await?;
        self.versions.insert(key, fields.clone());
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_bounded_in_number_and_age() {
        let cache = AgedCache::new(Duration::from_millis(50), 2);
        cache.insert("a", 1);
        cache.insert("b", 2);
        cache.insert("c", 3);
        assert_eq!(cache.len(), 2, "the oldest made room");
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"c"), Some(3));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get(&"c"), None, "too old to serve");
        cache.insert("d", 4);
        cache.insert("e", 5);
        assert_eq!(cache.len(), 2, "expired entries went first");
        assert_eq!(cache.get(&"d"), Some(4));
    }

    #[tokio::test]
    async fn a_version_is_read_from_the_store_once_and_another_version_afresh() {
        use crate::ports::{Pending, SecretStore};
        use secrecy::{ExposeSecret, SecretString};
        let memory = Arc::new(crate::testing::MemorySecrets::default());
        let cached = CachedReads::new(memory.clone());
        let id = CredentialId::generate();
        let owner = SecretOwner {
            id: &id,
            org: "acme",
        };
        let fields = |v: &str| {
            SecretFields(
                [("password".to_owned(), SecretString::from(v.to_owned()))]
                    .into_iter()
                    .collect(),
            )
        };
        let first = memory.create(owner, &fields("pw-1")).await.unwrap();
        let password = |f: SecretFields| f.0["password"].expose_secret().to_owned();
        assert_eq!(password(cached.read(owner, &first).await.unwrap()), "pw-1");
        let second = memory
            .put_pending(owner, &fields("pw-2"), Pending::Edit, &first)
            .await
            .unwrap();
        // Gone from the store, still in memory: the repeat never reached the store.
        memory.destroy_unreferenced(&id).await.unwrap();
        assert_eq!(password(cached.read(owner, &first).await.unwrap()), "pw-1");
        assert!(
            cached.read(owner, &second).await.is_err(),
            "a version not yet read goes to the store"
        );
    }
}

//! The table's key layout, in one place: what each kind of item is keyed by. Nothing outside
//! the store builds or parses a key.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | metadata and ACL | `CRED#<id>` | `META` |
//! | grant (mirrors the ACL for the `by_principal` index) | `CRED#<id>` | `GRANT#<kind>#<id>` |
//! | history line | `CRED#<id>` | `HIST#<ulid>` |
//! | usage | `CRED#<id>` | `USE#<kind>#<resource id>` |
//! | refresh lease | `CRED#<id>` | `LEASE` |
//! | OAuth authorization in progress | `OAUTH#<state>` | `STATE` |
//! | test-rate counter | `RATE#<minute>#user#<org>/<user>`, `RATE#<minute>#org#<org>` | `RATE` |
//! | idempotency key of a create | `IDEM#<org>#<user>#<key>` | `IDEM` |
//!
//! The metadata item of a credential with work scheduled also carries the partition key of a
//! sparse due index: `refresh_shard` = `DUE#<n>` beside `refresh_due`, `check_shard` =
//! `CHECK#<n>` beside `check_due`, `n` from a hash of the credential id modulo the configured
//! number of shards, so the writes of a million schedules spread over partitions and the
//! sweep reads every shard in parallel.

use crate::domain::CredentialId;
use crate::error::InternalError;

pub const META: &str = "META";
pub const LEASE: &str = "LEASE";
pub const OAUTH_STATE: &str = "STATE";
pub const RATE: &str = "RATE";
pub const IDEMPOTENCY: &str = "IDEM";
pub const HISTORY_PREFIX: &str = "HIST#";
pub const USAGE_PREFIX: &str = "USE#";
pub const PRINCIPAL_INDEX: &str = "by_principal";
pub const REFRESH_INDEX: &str = "by_refresh_due";
pub const CHECK_INDEX: &str = "by_check_due";
const CREDENTIAL_PREFIX: &str = "CRED#";

/// The due-index shard of credential `id` under `prefix` (`DUE`, `CHECK`), of `shards`.
pub fn due_shard(prefix: &str, id: &CredentialId, shards: u16) -> String {
    format!("{prefix}#{}", id.spread(u64::from(shards)))
}

pub fn credential(id: &CredentialId) -> String {
    format!("{CREDENTIAL_PREFIX}{id}")
}

/// The credential a `CRED#...` key names.
pub fn credential_id(pk: &str) -> Result<CredentialId, InternalError> {
    CredentialId::parse(pk.strip_prefix(CREDENTIAL_PREFIX).unwrap_or(pk))
        .map_err(|_| InternalError::new(format!("the table holds a malformed key `{pk}`")))
}

/// A key every credential key sorts after.
pub fn before_every_credential() -> &'static str {
    CREDENTIAL_PREFIX
}

pub fn grant(principal: &str) -> String {
    // `user:alice` -> `GRANT#user#alice`
    format!("GRANT#{}", principal.replacen(':', "#", 1))
}

/// The `by_principal` partition of a grant: the principal within its organisation
/// (`acme/user:alice`), so a listing never even reads another organisation's grants to a
/// principal of the same name. `/` is not in the identifier grammar, so this is unambiguous.
pub fn grant_partition(org: &str, principal: &str) -> String {
    format!("{org}/{principal}")
}

pub fn history(line: ulid::Ulid) -> String {
    format!("{HISTORY_PREFIX}{line}")
}

pub fn usage(kind: &str, resource_id: &str) -> String {
    format!("{USAGE_PREFIX}{kind}#{resource_id}")
}

pub fn oauth_state(state: &str) -> String {
    format!("OAUTH#{state}")
}

pub fn user_tests(minute: i64, org: &str, user: &str) -> String {
    format!("RATE#{minute}#user#{org}/{user}")
}

pub fn org_tests(minute: i64, org: &str) -> String {
    format!("RATE#{minute}#org#{org}")
}

pub fn idempotency(key: &crate::ports::IdempotencyKey) -> String {
    format!("IDEM#{}#{}#{}", key.org, key.user, key.key)
}

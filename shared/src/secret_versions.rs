//! The secret version protocol both secret stores keep. Version ids say when this service wrote
//! them (a ULID) and what they derive from, which is what orders promotions and decides whether
//! an interrupted refresh's tokens are adopted.

use crate::catalog::SecretFields;
use crate::domain::CredentialId;

/// The only secrets a refresh writes, and so the only ones adopted from an interrupted refresh.
const TOKEN_FIELDS: [&str; 2] = ["access_token", "refresh_token"];

/// Carries the tokens of an interrupted refresh (`version`, derived from the named one) over
/// to the named version's fields: only the token fields, never a client secret or anything else.
pub(crate) fn adopt_tokens(
    fields: &mut SecretFields,
    version: &str,
    mut interrupted: SecretFields,
) {
    tracing::warn!(version = %version, "adopting the tokens an interrupted refresh stored");
    for name in TOKEN_FIELDS {
        if let Some(token) = interrupted.0.remove(name) {
            fields.0.insert(name.to_owned(), token);
        }
    }
}

/// A fresh ClientRequestToken (32 to 64 characters) for a credential's first version. Reusing it
/// on an SDK retry is what makes the write idempotent. Version ids are these tokens, so each
/// says when this service wrote it (its ULID) whatever clock the store keeps.
pub(crate) fn first_version_token(id: &CredentialId) -> String {
    format!("{}-{}", id.as_str(), ulid::Ulid::new())
}

const DERIVED: &str = "-from-";

/// The token of a version derived from `parent`: `<ULID>-from-<parent's ULID>` (58 characters).
/// The version records what it was made from, which is what decides whether an interrupted
/// refresh's tokens may be adopted (see [`crate::ports::SecretStore::refresh_input`]). A parent this service did not
/// write gets the nil ULID: its children are never adopted.
pub(crate) fn derived_version_token(parent: &str) -> String {
    let parent = own_ulid(parent).unwrap_or(ulid::Ulid::nil());
    format!("{}{DERIVED}{parent}", ulid::Ulid::new())
}

/// When this service wrote a version: its own ULID, the last `-` part before any `-from-` (a
/// store may put a mark of its own in front).
fn own_ulid(version: &str) -> Option<ulid::Ulid> {
    let own = version.split_once(DERIVED).map_or(version, |(own, _)| own);
    ulid::Ulid::from_string(own.rsplit('-').next()?).ok()
}

/// Whether this service wrote `version` after `other`. Commits are conditioned on the version
/// read, and each version is written after that read, so the later version is the later commit.
/// A version this service did not write is never newer.
pub(crate) fn newer_than(version: &str, other: &str) -> bool {
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
    fn a_store_may_mark_its_versions_without_changing_what_they_derive_from() {
        let id = CredentialId::generate();
        let first = first_version_token(&id);
        let marked_child = format!("e-{}", derived_version_token(&first));
        assert!(derives_from(&marked_child, &first));
        let grandchild = derived_version_token(&marked_child);
        assert!(derives_from(&grandchild, &marked_child));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let marked_first = format!("e-{}", first_version_token(&id));
        assert!(newer_than(&marked_first, &marked_child));
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

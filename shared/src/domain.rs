//! Domain types, parsed at the boundary. No AWS or Lambda crate is imported here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::ApiError;

/// `cred_` + a lowercase ULID: sortable by creation time, which gives listings a stable order.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^cred_[0-7][0-9a-hjkmnp-tv-z]{25}$", example = "cred_01jdz3k5m8q2r7t9v4w6x8y0za")]
pub struct CredentialId(String);

impl CredentialId {
    const PREFIX: &'static str = "cred_";

    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            Self::PREFIX,
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::bad_request(
                "invalid_id",
                "a credential id looks like cred_ followed by 26 lowercase letters and digits",
            )
        };
        let ulid_part = raw.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        let ulid = ulid::Ulid::from_string(ulid_part).map_err(|_| invalid())?;
        // One spelling per id: reject other cases so two strings never name one credential.
        if ulid.to_string().to_ascii_lowercase() != ulid_part {
            return Err(invalid());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A number below `buckets`, the same for this id every time and spread evenly over ids:
    /// where its work falls (a due-index shard, a health check's time of the period).
    pub fn spread(&self, buckets: u64) -> u64 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.0.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % buckets.max(1)
    }
}

impl TryFrom<String> for CredentialId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).map_err(|e| e.public_message())
    }
}

impl From<CredentialId> for String {
    fn from(id: CredentialId) -> String {
        id.0
    }
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Access levels, weakest first so that `Ord` reads as "at least".
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Collaborator,
    Operator,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Collaborator, Role::Operator, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Collaborator => "collaborator",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_role",
                    "role must be one of collaborator, operator, admin, owner",
                )
            })
    }
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Team,
    Org,
}

/// `user:<id>`, `team:<id>` or `org:<id>`: who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub id: String,
}

impl Principal {
    pub fn user(id: &str) -> Self {
        Self {
            kind: PrincipalKind::User,
            id: id.to_owned(),
        }
    }
    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Team => "team",
            PrincipalKind::Org => "org",
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind_str(), self.id)
    }
}

/// The authenticated caller, from the JWT claims API Gateway verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub user_id: String,
    pub org_id: String,
    pub teams: Vec<String>,
}

impl Caller {
    /// Every principal a grant may name to reach this caller: the user, each team, the org.
    pub fn principals(&self) -> Vec<Principal> {
        let mut all = vec![Principal::user(&self.user_id)];
        all.extend(self.teams.iter().map(|t| Principal {
            kind: PrincipalKind::Team,
            id: t.clone(),
        }));
        all.push(Principal {
            kind: PrincipalKind::Org,
            id: self.org_id.clone(),
        });
        all
    }

    pub fn as_actor(&self) -> String {
        Principal::user(&self.user_id).to_string()
    }
}

/// Who has which role on one credential, keyed by `Principal` display form (`user:alice`).
pub type Acl = BTreeMap<String, Role>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Untested,
    Valid,
    Invalid,
    ReauthRequired,
}

/// The grammar of ids minted elsewhere (users, teams, orgs, data sources), as a rule to show.
pub const IDENTIFIER_RULE: &str = "1 to 128 of A-Z a-z 0-9 . _ @ | + = -";

/// Ids minted elsewhere: 1 to 128 of `A-Z a-z 0-9 . _ @ | + = -`, taken as they are (never
/// trimmed or coerced). Enough for JWT subjects such as `auth0|123`; never a space or comma
/// (API Gateway's flattened claims split on them), nor a `#`, `:` or `/` that could confuse a
/// key, a principal (`team:data`) or a path, nor a control or bidirectional character.
pub fn parse_identifier(raw: &str) -> Result<String, &'static str> {
    let ok = (1..=128).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@|+=-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(IDENTIFIER_RULE)
    }
}

/// [`parse_identifier`] for a request field: 400 `invalid_id` naming `what`.
pub fn parse_external_id(what: &str, raw: &str) -> Result<String, ApiError> {
    parse_identifier(raw)
        .map_err(|rule| ApiError::bad_request("invalid_id", format!("{what} must be {rule}")))
}

impl Principal {
    /// `user`, `team` or `org` and an id, as in `/accessors/{type}/{pid}`.
    pub fn parse(kind: &str, id: &str) -> Result<Self, ApiError> {
        let kind = match kind {
            "user" => PrincipalKind::User,
            "team" => PrincipalKind::Team,
            "org" => PrincipalKind::Org,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_principal",
                    "a principal type is user, team or org",
                ))
            }
        };
        Ok(Self {
            kind,
            id: parse_external_id("a principal id", id)?,
        })
    }
}

/// Whether `text` is safe to show a person as typed: no control characters (line breaks and
/// tabs only where `multiline`) and no bidirectional formatting characters, which can make a
/// name read differently from what it is (`\u{202e}` reverses what follows).
pub fn is_plain_text(text: &str, multiline: bool) -> bool {
    text.chars().all(|c| {
        let allowed_control = multiline && matches!(c, '\n' | '\t');
        let bidi = matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        (!c.is_control() || allowed_control) && !bidi
    })
}

/// Lowercase, trimmed, 1..=64 of `[a-z0-9_.:-]`: tags are for filtering, not prose.
pub fn parse_tag(raw: &str) -> Option<String> {
    let tag = raw.trim().to_ascii_lowercase();
    let ok = (1..=64).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    ok.then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_round_trip_and_reject_other_shapes() {
        let id = CredentialId::generate();
        assert_eq!(CredentialId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "cred_",
            "cred_123",
            &id.as_str().to_ascii_uppercase(),
            &id.as_str().replace("cred_", "crd_"),
            &format!("{id}x"),
            "cred_01hzzzzzzzzzzzzzzzzzzzzzz!",
            "../../etc/passwd",
        ] {
            let err = CredentialId::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_id", "{bad:?}");
        }
    }

    #[test]
    fn roles_order_from_weakest_to_strongest() {
        assert!(Role::Collaborator < Role::Operator);
        assert!(Role::Operator < Role::Admin);
        assert!(Role::Admin < Role::Owner);
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn caller_principals_cover_user_teams_and_org() {
        let caller = Caller {
            user_id: "alice".into(),
            org_id: "acme".into(),
            teams: vec!["data".into(), "ops".into()],
        };
        let got: Vec<String> = caller.principals().iter().map(|p| p.to_string()).collect();
        assert_eq!(got, ["user:alice", "team:data", "team:ops", "org:acme"]);
    }

    #[test]
    fn plain_text_has_no_control_or_bidi_characters() {
        assert!(is_plain_text("Orders DB (prod) – ünïcode ok", false));
        assert!(is_plain_text("line one\nline two", true));
        for bad in [
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{200f}b",
            "a\u{0007}b",
            "a\rb",
        ] {
            assert!(!is_plain_text(bad, true), "{bad:?}");
        }
        assert!(!is_plain_text("a\nb", false));
    }

    #[test]
    fn tags_are_normalised_or_refused() {
        assert_eq!(parse_tag(" Prod ").as_deref(), Some("prod"));
        assert_eq!(parse_tag("team:data-eng").as_deref(), Some("team:data-eng"));
        assert_eq!(parse_tag(""), None);
        assert_eq!(parse_tag("has space"), None);
        assert_eq!(parse_tag(&"x".repeat(65)), None);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn ids_parse_to_exactly_what_was_given(raw in ".*", any_ulid in any::<u128>()) {
                if let Ok(id) = CredentialId::parse(&raw) {
                    prop_assert_eq!(id.as_str(), raw.as_str());
                }
                let id = format!("cred_{}", ulid::Ulid::from(any_ulid).to_string().to_ascii_lowercase());
                let parsed = CredentialId::parse(&id).unwrap();
                prop_assert_eq!(parsed.as_str(), id.as_str());
                if let Ok(parsed) = parse_identifier(&raw) {
                    prop_assert_eq!(&parsed, &raw);
                    prop_assert!(!raw.contains([' ', ',', '#', ':', '/']));
                    prop_assert!(is_plain_text(&raw, false));
                }
            }
        }
    }
}

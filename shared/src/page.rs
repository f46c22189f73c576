//! Page tokens: opaque to callers, bound to the caller and the listing they continue, and never
//! carrying anything the caller could not see (brief §7).
//!
//! A token is base64url JSON `{"at": <position>, "for": <binding>}`: the position is where the
//! previous page ended (a credential id, or a history or usage key of one credential the caller
//! may read), the binding a hash of the caller and the listing. A token from another caller or
//! another listing, or one that was edited, is refused with 400 `invalid_page_token`. Tokens
//! only say where to continue; what a caller may see is decided on every page by the ACLs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Caller;
use crate::error::ApiError;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Token {
    at: String,
    #[serde(rename = "for")]
    binding: String,
}

/// A hash, not a MAC (the service holds no key for it): it refuses another caller's token, a
/// token of another listing and naive edits; someone who recomputes it can only choose where
/// their own listing continues, which the ACL check on every page makes harmless.
fn binding(caller: &Caller, listing: &str, position: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}\n{listing}\n{position}",
        caller.org_id, caller.user_id
    ));
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid() -> ApiError {
    ApiError::bad_request(
        "invalid_page_token",
        "next_token is not one this API issued to you for this listing; start from the first page",
    )
}

/// The token that continues `listing` for `caller` after `position`.
pub fn encode(caller: &Caller, listing: &str, position: &str) -> String {
    let token = Token {
        at: position.to_owned(),
        binding: binding(caller, listing, position),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The position a token continues from, if it was issued to `caller` for `listing`.
pub fn decode(caller: &Caller, listing: &str, raw: &str) -> Result<String, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.binding != binding(caller, listing, &token.at) {
        return Err(invalid());
    }
    Ok(token.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, org: &str) -> Caller {
        Caller {
            user_id: user.into(),
            org_id: org.into(),
            teams: vec![],
        }
    }

    #[test]
    fn tokens_continue_only_the_listing_of_the_caller_they_were_issued_to() {
        let alice = caller("alice", "acme");
        let token = encode(&alice, "credentials", "cred_x");
        assert_eq!(decode(&alice, "credentials", &token).unwrap(), "cred_x");
        for (who, listing) in [
            (caller("bob", "acme"), "credentials"),
            (caller("alice", "globex"), "credentials"),
            (alice.clone(), "history:cred_y"),
        ] {
            let err = decode(&who, listing, &token).unwrap_err();
            assert_eq!(err.code(), "invalid_page_token");
        }
        let edited = String::from_utf8(URL_SAFE_NO_PAD.decode(&token).unwrap())
            .unwrap()
            .replace("cred_x", "cred_z");
        for raw in [
            "",
            "%%%",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode(r#"{"at":"x"}"#),
            &URL_SAFE_NO_PAD.encode(edited),
        ] {
            assert_eq!(
                decode(&alice, "credentials", raw).unwrap_err().code(),
                "invalid_page_token"
            );
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn tokens_round_trip_and_garbage_never_panics(position in ".*", raw in ".*") {
                let alice = Caller { user_id: "alice".into(), org_id: "acme".into(), teams: vec![] };
                let token = encode(&alice, "credentials", &position);
                prop_assert_eq!(decode(&alice, "credentials", &token).unwrap(), position);
                let _ = decode(&alice, "credentials", &raw);
            }
        }
    }
}

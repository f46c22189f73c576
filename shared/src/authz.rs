//! The one place that decides who may do what to a credential.
//!
//! A caller's effective role is the strongest of its user, team and org grants within the
//! credential's organisation. No role at all answers 404 (deny by default, no hint that the
//! credential exists); a role too weak for the action answers 403.

use crate::domain::{Acl, Caller, Role};
use crate::error::ApiError;

/// Everything a caller can ask of one credential, each with the weakest role allowed to do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    View,
    ViewHistory,
    Edit,
    Delete,
    Restore,
}

impl Action {
    pub fn minimum_role(self) -> Role {
        match self {
            Action::View | Action::ViewHistory => Role::Collaborator,
            Action::Edit | Action::Delete | Action::Restore => Role::Admin,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::ViewHistory => "view the history of",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Restore => "restore",
        }
    }
}

/// The strongest role any of the caller's principals holds, if the credential is in its org.
pub fn effective_role(acl: &Acl, credential_org: &str, caller: &Caller) -> Option<Role> {
    if credential_org != caller.org_id {
        return None;
    }
    caller
        .principals()
        .iter()
        .filter_map(|p| acl.get(&p.to_string()).copied())
        .max()
}

/// Checks `action` and returns the caller's role for the response's `access_role`.
pub fn authorize(
    acl: &Acl,
    credential_org: &str,
    caller: &Caller,
    action: Action,
) -> Result<Role, ApiError> {
    let role = effective_role(acl, credential_org, caller).ok_or_else(ApiError::not_found)?;
    if role < action.minimum_role() {
        return Err(ApiError::forbidden(format!(
            "your access to this credential is {}; to {} it you need {} or above",
            role.as_str(),
            action.verb(),
            action.minimum_role().as_str()
        )));
    }
    Ok(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, org: &str, teams: &[&str]) -> Caller {
        Caller {
            user_id: user.into(),
            org_id: org.into(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn strongest_grant_wins_within_the_org() {
        let acl = Acl::from([
            ("user:alice".into(), Role::Owner),
            ("team:data".into(), Role::Collaborator),
            ("org:acme".into(), Role::Operator),
        ]);
        assert_eq!(
            effective_role(&acl, "acme", &caller("bob", "acme", &["data"])),
            Some(Role::Operator)
        );
        assert_eq!(
            effective_role(&acl, "acme", &caller("alice", "acme", &[])),
            Some(Role::Owner)
        );
        // Same user id in another org reaches nothing.
        assert_eq!(
            effective_role(&acl, "acme", &caller("alice", "other", &["data"])),
            None
        );
    }

    #[test]
    fn no_role_is_not_found_and_weak_role_is_forbidden() {
        let acl = Acl::from([("user:bob".into(), Role::Collaborator)]);
        let err = authorize(&acl, "acme", &caller("eve", "acme", &[]), Action::View).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = authorize(&acl, "acme", &caller("bob", "acme", &[]), Action::Edit).unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(
            authorize(&acl, "acme", &caller("bob", "acme", &[]), Action::View).unwrap(),
            Role::Collaborator
        );
    }
}

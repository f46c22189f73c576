//! The one place that decides who may do what to a credential (brief §2).
//!
//! A caller's effective role is the strongest of its user, team and org grants within the
//! credential's organisation. No role at all answers 404 (deny by default, no hint that the
//! credential exists); a role too weak for the action answers 403. Every function asks here.

use crate::domain::{Acl, Caller, Role};
use crate::error::ApiError;

/// Everything a caller can ask of one credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    View,
    ViewHistory,
    ViewAccessors,
    ViewUsages,
    /// Attach the credential to a data source or destination.
    AttachUsage,
    /// Test the connection (and record the result as the credential's status).
    Test,
    /// Receive the connection material, secrets included, for a data flow (resolve function).
    Use,
    /// Report that a data flow failed to authenticate.
    ReportFailure,
    /// Refresh the token now.
    Refresh,
    /// Connect (or re-authenticate) an OAuth 2.0 credential through the provider.
    Connect,
    /// Detach a usage; anyone who may use the credential may undo their own attachment.
    DetachUsage {
        attached_by_caller: bool,
    },
    Edit,
    Delete,
    Restore,
    /// Grant `role`, or change a grant whose stronger role (before or after) is `role`.
    Grant(Role),
    /// Revoke a grant of `role`; dropping one's own grant needs no more than having it.
    Revoke {
        role: Role,
        own_grant: bool,
    },
    TransferOwnership,
}

impl Action {
    /// The matrix: the weakest role allowed to take each action.
    pub fn minimum_role(self) -> Role {
        use Action::*;
        match self {
            View | ViewHistory | ViewAccessors | ViewUsages | AttachUsage => Role::Collaborator,
            Test | Use | ReportFailure => Role::Collaborator,
            Refresh => Role::Operator,
            DetachUsage {
                attached_by_caller: true,
            } => Role::Collaborator,
            Revoke {
                own_grant: true, ..
            } => Role::Collaborator,
            DetachUsage {
                attached_by_caller: false,
            } => Role::Admin,
            Edit | Delete | Restore | Connect => Role::Admin,
            // Admins share up to operator; only the owner hands out (or takes back) admin.
            Grant(role)
            | Revoke {
                role,
                own_grant: false,
            } => {
                if role >= Role::Admin {
                    Role::Owner
                } else {
                    Role::Admin
                }
            }
            TransferOwnership => Role::Owner,
        }
    }

    fn describe(self) -> &'static str {
        use Action::*;
        match self {
            View => "view it",
            ViewHistory => "view its history",
            ViewAccessors => "see who can access it",
            ViewUsages => "see where it is used",
            AttachUsage => "use it in a data source or destination",
            Test => "test it",
            Use => "use it in a data flow",
            ReportFailure => "report a failure of it",
            Refresh => "refresh its token",
            Connect => "connect or re-authenticate it",
            DetachUsage { .. } => "detach a usage someone else attached",
            Edit => "edit it",
            Delete => "delete it",
            Restore => "restore it",
            Grant(_) => "grant this role",
            Revoke { .. } => "revoke this grant",
            TransferOwnership => "transfer its ownership",
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
    let needed = action.minimum_role();
    if role < needed {
        return Err(ApiError::forbidden(format!(
            "your access to this credential is {}; to {} you need {} or above",
            role.as_str(),
            action.describe(),
            needed.as_str()
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

    #[test]
    fn sharing_rules() {
        use Action::*;
        assert_eq!(Grant(Role::Collaborator).minimum_role(), Role::Admin);
        assert_eq!(Grant(Role::Operator).minimum_role(), Role::Admin);
        assert_eq!(Grant(Role::Admin).minimum_role(), Role::Owner);
        assert_eq!(
            Revoke {
                role: Role::Admin,
                own_grant: false
            }
            .minimum_role(),
            Role::Owner
        );
        assert_eq!(
            Revoke {
                role: Role::Operator,
                own_grant: false
            }
            .minimum_role(),
            Role::Admin
        );
        assert_eq!(
            Revoke {
                role: Role::Admin,
                own_grant: true
            }
            .minimum_role(),
            Role::Collaborator
        );
        assert_eq!(TransferOwnership.minimum_role(), Role::Owner);
        assert_eq!(
            DetachUsage {
                attached_by_caller: true
            }
            .minimum_role(),
            Role::Collaborator
        );
        assert_eq!(
            DetachUsage {
                attached_by_caller: false
            }
            .minimum_role(),
            Role::Admin
        );
    }
}

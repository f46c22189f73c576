//! What the data platform sends: the two actions and their members, parsed strictly.

use latchkey_shared::domain::{parse_external_id, Caller};
use latchkey_shared::error::ApiError;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Principal {
    user: String,
    org_id: String,
    #[serde(default)]
    teams: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Usage {
    kind: String,
    resource_id: String,
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    Resolve {
        credential_id: String,
        principal: Principal,
        #[serde(default)]
        usage: Option<Usage>,
    },
    ReportFailure {
        credential_id: String,
        principal: Principal,
        #[serde(default)]
        usage: Option<Usage>,
        /// The version the flow resolved; a report about an older one is ignored.
        #[serde(default)]
        version: Option<u64>,
    },
}

impl Principal {
    pub(crate) fn caller(&self) -> Result<Caller, ApiError> {
        Ok(Caller {
            user_id: parse_external_id("principal.user", &self.user)?,
            org_id: parse_external_id("principal.org_id", &self.org_id)?,
            teams: self
                .teams
                .iter()
                .map(|t| parse_external_id("principal.teams", t))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl Usage {
    pub(crate) fn label(&self) -> Result<String, ApiError> {
        if !matches!(self.kind.as_str(), "source" | "destination") {
            return Err(ApiError::bad_request(
                "invalid_field",
                "usage.kind must be source or destination",
            ));
        }
        Ok(format!(
            "{}:{}",
            self.kind,
            parse_external_id("usage.resource_id", &self.resource_id)?
        ))
    }
}

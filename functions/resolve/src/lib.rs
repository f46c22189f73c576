//! The resolve function: the only way secrets leave Latchkey towards the data platform.
//!
//! `{"action": "resolve", "credential_id", "principal": {"user", "org_id", "teams"}, "usage": {"kind", "resource_id"}}`
//! returns the connection material to a principal with at least collaborator access and writes
//! a `used` history line; for token URL and OAuth 2.0 credentials that material is the access
//! token, never the refresh token or client secret. `{"action": "report_failure", "credential_id", "principal", "version"?}`
//! marks the credential invalid (`flow_auth_failed`); on a token credential it first refreshes
//! and answers `recorded: refreshed` with new material for one retry. Answers are JSON; refusals carry
//! `{"error": {"code", "message"}}` as on the HTTP API.

mod request;

use latchkey_shared::authz::{authorize, Action};
use latchkey_shared::cache::CachedReads;
use latchkey_shared::config::Config;
use latchkey_shared::domain::{Caller, CredentialId, Status};
use latchkey_shared::error::ApiError;
use latchkey_shared::handler::refuse_deleted;
use latchkey_shared::ports::{Ports, SecretReader, SecretStore, TokenEndpoint};
use latchkey_shared::record::{CredentialRecord, HistoryAction, HistoryEntry};
use latchkey_shared::refresh::{RefreshOutcome, Refresher, SkipReason, When};
use latchkey_shared::status::{Observation, Trigger, Verdict};
use latchkey_shared::validity::{self, Recorded};
use request::{Request, Usage};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct Resolver {
    ports: Ports,
    secrets: Arc<dyn SecretStore>,
    /// Flows resolve the same credentials over and over: the versions read are kept in memory.
    reads: CachedReads,
    provider: Arc<dyn TokenEndpoint>,
    margin: Option<std::time::Duration>,
}

impl Resolver {
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        Self::with_ports(
            latchkey_shared::aws::ports(aws, config),
            latchkey_shared::aws::secrets(aws, config),
            Arc::new(latchkey_shared::testers::Testers::from_config(config)),
            config.refresh_margin,
        )
    }

    pub fn with_ports(
        ports: Ports,
        secrets: Arc<dyn SecretStore>,
        provider: Arc<dyn TokenEndpoint>,
        margin: Option<std::time::Duration>,
    ) -> Self {
        Self {
            ports,
            reads: CachedReads::new(secrets.clone()),
            secrets,
            provider,
            margin,
        }
    }

    /// The Lambda handler: the data platform's invoke, answered (never a runtime error).
    pub async fn on_invoke(
        &self,
        event: lambda_runtime::LambdaEvent<Value>,
    ) -> Result<Value, lambda_runtime::Error> {
        Ok(self.handle(event.payload).await)
    }

    /// Always answers; an unexpected failure is logged and answered generically.
    pub async fn handle(&self, event: Value) -> Value {
        match self.dispatch(event).await {
            Ok(v) => v,
            Err(e) => {
                if let ApiError::Internal(inner) = &e {
                    tracing::error!(error = %inner, "resolve failed");
                }
                json!({ "error": { "code": e.code(), "message": e.public_message() } })
            }
        }
    }

    async fn dispatch(&self, event: Value) -> Result<Value, ApiError> {
        // serde's messages can quote values; this payload has none worth quoting.
        let request: Request = serde_json::from_value(event).map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "expected {action: resolve|report_failure, credential_id, principal: {user, org_id, teams}, usage?: {kind, resource_id}}",
            )
        })?;
        match request {
            Request::Resolve {
                credential_id,
                principal,
                usage,
            } => {
                self.resolve(&credential_id, &principal.caller()?, usage)
                    .await
            }
            Request::ReportFailure {
                credential_id,
                principal,
                usage,
                version,
            } => {
                self.report_failure(&credential_id, &principal.caller()?, usage, version)
                    .await
            }
        }
    }

    async fn load(
        &self,
        raw_id: &str,
        caller: &Caller,
        action: Action,
    ) -> Result<CredentialRecord, ApiError> {
        let id = CredentialId::parse(raw_id)?;
        let record = self
            .ports
            .store
            .get(&id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        authorize(&record.acl, &record.org_id, caller, action)?;
        refuse_deleted(&record)?;
        Ok(record)
    }

    async fn resolve(
        &self,
        raw_id: &str,
        caller: &Caller,
        usage: Option<Usage>,
    ) -> Result<Value, ApiError> {
        let mut record = self.load(raw_id, caller, Action::Use).await?;
        let usage = usage.map(|u| u.label()).transpose()?;
        let now = self.ports.now();
        if record.is_token_based() && record.token.is_due(now, now) {
            // Boxed: the refresh future is deep, and the resolve future stays small.
            let when = When::DueBy(now);
            (_, record) = Box::pin(self.refresh(record, when, "service:resolve")).await?;
        }
        self.hand_out(&record, caller, usage.as_deref()).await
    }

    /// The connection material a flow needs, with a `used` history line. Authorized here, on
    /// the record handed out: after a refresh it is a newer read than the one `load` checked,
    /// and a grant may have been revoked (or the credential deleted) in between.
    async fn hand_out(
        &self,
        record: &CredentialRecord,
        caller: &Caller,
        usage: Option<&str>,
    ) -> Result<Value, ApiError> {
        authorize(&record.acl, &record.org_id, caller, Action::Use)?;
        refuse_deleted(record)?;
        let secrets = self
            .reads
            .read(record.secret_owner(), &record.secret_version)
            .await?;
        let mut entry =
            HistoryEntry::new(HistoryAction::Used, &caller.as_actor(), self.ports.now());
        if let Some(u) = usage {
            entry = entry.with_usage(u.to_owned());
        }
        self.ports.store.append_history(&record.id, &entry).await?;
        tracing::info!(credential_id = %record.id, usage = usage.unwrap_or("-"), "connection material handed out");
        let secret_values: Map<String, Value> = secrets
            .0
            .iter()
            .filter(|(name, _)| flow_needs(record, name))
            .map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned())))
            .collect();
        Ok(json!({
            "credential_id": record.id,
            "version": record.version,
            "connector": record.connector,
            "auth_type": record.auth_type,
            "status": record.status,
            "fields": record.fields,
            "secrets": secret_values,
        }))
    }

    /// Refreshes a token, sharing the single-flight lease with the sweep, other resolves and
    /// reports: whoever holds it refreshes, the others wait for the result. Answers how the
    /// last attempt went and the credential as it is afterwards.
    async fn refresh(
        &self,
        record: CredentialRecord,
        when: When,
        actor: &str,
    ) -> Result<(RefreshOutcome, CredentialRecord), ApiError> {
        let refresher = Refresher {
            ports: &self.ports,
            secrets: &*self.secrets,
            provider: &*self.provider,
            margin: self.margin,
        };
        let busy = RefreshOutcome::Skipped {
            reason: SkipReason::LeaseBusy,
        };
        let mut outcome = busy.clone();
        for _ in 0..50 {
            outcome = refresher.refresh(&record.id, when, actor).await?;
            if outcome != busy {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let now = self.ports.store.get(&record.id).await?.unwrap_or(record);
        Ok((outcome, now))
    }

    async fn report_failure(
        &self,
        raw_id: &str,
        caller: &Caller,
        usage: Option<Usage>,
        version: Option<u64>,
    ) -> Result<Value, ApiError> {
        let record = self.load(raw_id, caller, Action::ReportFailure).await?;
        let usage = usage.map(|u| u.label()).transpose()?;
        if version.is_some_and(|v| v != record.version) {
            return Ok(json!({ "recorded": "stale", "status": record.status }));
        }
        let record = match self
            .refresh_first(record, caller, (usage.as_deref(), version))
            .await?
        {
            RefreshFirst::Answer(answer) => return Ok(answer),
            RefreshFirst::MarkInvalid(record) => *record,
        };
        let observation = Observation::new(
            Verdict::Invalid,
            "flow_auth_failed",
            match &usage {
                Some(u) => format!("a data flow ({u}) failed to authenticate with this credential; check it and test it again"),
                None => "a data flow failed to authenticate with this credential; check it and test it again".to_owned(),
            },
        );
        let recorded = validity::record(
            &self.ports,
            &record,
            &observation,
            Trigger::Flow,
            HistoryAction::FlowFailureReported,
            &caller.as_actor(),
        )
        .await?;
        Ok(json!({
            "recorded": match recorded { Recorded::Transition(..) => "transition", Recorded::Unchanged => "unchanged", Recorded::Stale => "stale" },
            "status": observation.status(),
        }))
    }
}

/// What a flow's failure report does on a token credential.
enum RefreshFirst {
    /// Answered: new material to retry with once, or the refresh's own verdict.
    Answer(Value),
    /// Not refreshable now, or the refresh failed: the failure marks the credential invalid.
    MarkInvalid(Box<CredentialRecord>),
}

impl Resolver {
    /// A 401 on a token the service manages most often means the token went stale before its
    /// time (revoked, rotated, clock skew): refresh at once (single flight: of many flows that
    /// failed together, one refreshes and all get its token) and hand the flow the new token to
    /// retry with. Only a refresh that fails, or a failure with a token fetched for a failure,
    /// marks it invalid: a flow that keeps failing cannot make the service hammer the provider.
    async fn refresh_first(
        &self,
        record: CredentialRecord,
        caller: &Caller,
        (usage, version): (Option<&str>, Option<u64>),
    ) -> Result<RefreshFirst, ApiError> {
        let refreshable = record.is_token_based()
            && !matches!(record.status, Status::Invalid | Status::ReauthRequired)
            // A refresh failed since the last success: its own backoff decides the next try.
            && record.token.refresh_failures == 0;
        if !refreshable {
            return Ok(RefreshFirst::MarkInvalid(Box::new(record)));
        }
        if record.token.refreshed_for_flow {
            if version.is_some() {
                // It failed with the token fetched for the last failure: bad, not stale.
                return Ok(RefreshFirst::MarkInvalid(Box::new(record)));
            }
            // Unknown which token failed: perhaps the one before; hand over the current one.
            let mut answer = self.hand_out(&record, caller, usage).await?;
            answer["recorded"] = json!("current");
            return Ok(RefreshFirst::Answer(answer));
        }
        let when = When::AfterFlowFailure(record.version);
        let (outcome, record) = Box::pin(self.refresh(record, when, &caller.as_actor())).await?;
        let changed = RefreshOutcome::Skipped {
            reason: SkipReason::ChangedMeanwhile,
        };
        match outcome {
            RefreshOutcome::Refreshed { .. } => {}
            skipped if skipped == changed => {}
            RefreshOutcome::ReauthRequired => {
                let answer = json!({ "recorded": "transition", "status": record.status });
                return Ok(RefreshFirst::Answer(answer));
            }
            _ => return Ok(RefreshFirst::MarkInvalid(Box::new(record))),
        }
        tracing::info!(credential_id = %record.id, "refreshed for a flow's failure");
        let mut answer = self.hand_out(&record, caller, usage).await?;
        answer["recorded"] = json!("refreshed");
        Ok(RefreshFirst::Answer(answer))
    }
}

/// Whether a data flow gets secret `name` to connect. When the service manages the tokens
/// (token URL, OAuth 2.0), a flow gets the access token only: the refresh token and the client
/// secret stay here, so only the service refreshes and no flow can break a rotation or mint
/// tokens of its own.
fn flow_needs(record: &CredentialRecord, name: &str) -> bool {
    !record.is_token_based() || name == "access_token"
}

#[cfg(test)]
mod tests;

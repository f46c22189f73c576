//! The AWS adapters of the ports, built once at cold start from one SDK config.

use std::sync::Arc;

use crate::config::{Config, SecretStorage};
use crate::ports::{Ports, SecretStore, SystemClock};

/// The ports every function is given, over DynamoDB and EventBridge.
pub fn ports(aws: &aws_config::SdkConfig, config: &Config) -> Ports {
    Ports {
        store: Arc::new(crate::store::Store::new(
            aws_sdk_dynamodb::Client::new(aws),
            &config.table,
            config.due_shards,
        )),
        events: Arc::new(crate::events::Events::new(
            aws_sdk_eventbridge::Client::new(aws),
            &config.event_bus,
        )),
        clock: Arc::new(SystemClock),
    }
}

/// The secret store the stack is configured with, for the functions whose role may touch
/// secrets. The one place that knows which adapter runs.
pub fn secrets(aws: &aws_config::SdkConfig, config: &Config) -> Arc<dyn SecretStore> {
    match &config.secret_storage {
        SecretStorage::SecretsManager => Arc::new(crate::vault::Vault::new(
            aws_sdk_secretsmanager::Client::new(aws),
            &config.secret_prefix,
        )),
        SecretStorage::Envelope(envelope) => {
            let ddb = aws_sdk_dynamodb::Client::new(aws);
            let keys = crate::envelope::keys::DataKeys::new(
                aws_sdk_kms::Client::new(aws),
                ddb.clone(),
                &envelope.table,
                &envelope.master_key,
                envelope.rotation,
            );
            Arc::new(crate::envelope::Envelope::new(ddb, &envelope.table, keys))
        }
    }
}

/// The SQS adapter of the work queue, for the sweep that fills it.
pub fn work_queue(
    aws: &aws_config::SdkConfig,
    config: &Config,
) -> Result<Arc<dyn crate::ports::WorkQueue>, crate::config::ConfigError> {
    let url = config
        .work_queue_url
        .as_deref()
        .ok_or(crate::config::ConfigError::Missing(
            "LATCHKEY_WORK_QUEUE_URL",
        ))?;
    Ok(Arc::new(crate::queue::Queue::new(
        aws_sdk_sqs::Client::new(aws),
        url,
    )))
}

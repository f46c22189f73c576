//! The AWS adapters of the ports, built once at cold start from one SDK config.

use std::sync::Arc;

use crate::config::Config;
use crate::ports::{Ports, SecretStore, SystemClock};
use crate::secret_routing::RoutedSecrets;

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

/// The secret store, for the functions whose role may touch secrets: both adapters behind one
/// port, each operation sent where its version lives, new secrets where the stack says. The one
/// place (with the migration) that knows which adapters exist.
pub fn secrets(aws: &aws_config::SdkConfig, config: &Config) -> Arc<dyn SecretStore> {
    let (secrets_manager, envelope) = secret_stores(aws, config);
    Arc::new(RoutedSecrets::new(
        secrets_manager,
        envelope,
        config.secret_storage,
    ))
}

/// The two adapters on their own: the Secrets Manager one, and the envelope one where the
/// template configures its table and key. Only the migration uses them apart.
pub fn secret_stores(
    aws: &aws_config::SdkConfig,
    config: &Config,
) -> (Arc<dyn SecretStore>, Option<Arc<dyn SecretStore>>) {
    let secrets_manager = Arc::new(crate::vault::Vault::new(
        aws_sdk_secretsmanager::Client::new(aws),
        &config.secret_prefix,
    ));
    let envelope = config.envelope.as_ref().map(|envelope| {
        let ddb = aws_sdk_dynamodb::Client::new(aws);
        let keys = crate::envelope::keys::DataKeys::new(
            aws_sdk_kms::Client::new(aws),
            ddb.clone(),
            &envelope.table,
            &envelope.master_key,
            envelope.rotation,
        );
        Arc::new(crate::envelope::Envelope::new(ddb, &envelope.table, keys)) as Arc<dyn SecretStore>
    });
    (secrets_manager, envelope)
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

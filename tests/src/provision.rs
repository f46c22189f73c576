//! Creates a stack's tables, event bus, queues and KMS key in the emulator from their template
//! declarations, and records what the emulator assigned (queue URLs and ARNs) in the stack,
//! for the functions' environment and the local event source.
//!
//! Keys, indexes, billing and TTL come from the template. Deletion protection, point-in-time
//! recovery and encryption are production safeguards with no local meaning and are skipped
//! (deletion protection would stop the emulator reset between runs).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

use crate::template::{Stack, Template};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, Error> {
    v.as_str()
        .ok_or_else(|| format!("template: {what} must be a string").into())
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, Error> {
    v.as_sequence()
        .ok_or("template: KeySchema must be a list")?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(&k["AttributeName"], "AttributeName")?)
                .key_type(KeyType::from(text(&k["KeyType"], "KeyType")?))
                .build()?)
        })
        .collect()
}

pub async fn provision(
    aws: &aws_config::SdkConfig,
    template: &Template,
    stack: &mut Stack,
) -> Result<(), Error> {
    tables(aws, template, stack).await?;
    buses(aws, template, stack).await?;
    queues(aws, template, stack).await?;
    keys(aws, template, stack).await
}

/// KMS keys: one per stack, as CloudFormation makes one, found again by an alias when the
/// stack is provisioned again (`make run` on a running emulator: what the key sealed stays
/// readable); its id for `!Ref`, its ARN for `!GetAtt Key.Arn`. The key policy names IAM roles
/// the emulator does not have and enforces nothing locally, so the emulator's default policy
/// stands in for it.
async fn keys(
    aws: &aws_config::SdkConfig,
    template: &Template,
    stack: &mut Stack,
) -> Result<(), Error> {
    let kms = aws_sdk_kms::Client::new(aws);
    for (logical_id, resource) in template.resources_of_type("AWS::KMS::Key") {
        let alias = format!("alias/{}-{logical_id}", stack.name);
        let existing = kms.describe_key().key_id(&alias).send().await;
        let key = match existing {
            Ok(found) => found.key_metadata,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_not_found_exception()) =>
            {
                let description = resource["Properties"]["Description"].as_str().unwrap_or("");
                let created = kms
                    .create_key()
                    .description(format!("{} ({})", description, stack.name))
                    .send()
                    .await
                    .map_err(|e| aws_sdk_kms::error::DisplayErrorContext(e).to_string())?
                    .key_metadata;
                if let Some(key) = &created {
                    kms.create_alias()
                        .alias_name(&alias)
                        .target_key_id(key.key_id())
                        .send()
                        .await
                        .map_err(|e| aws_sdk_kms::error::DisplayErrorContext(e).to_string())?;
                }
                created
            }
            Err(e) => {
                return Err(aws_sdk_kms::error::DisplayErrorContext(e)
                    .to_string()
                    .into())
            }
        }
        .ok_or("KMS answered no key")?;
        stack
            .assigned
            .insert(logical_id.to_owned(), key.key_id().to_owned());
        let arn = key.arn().ok_or("CreateKey answered no ARN")?;
        stack
            .assigned
            .insert(format!("{logical_id}.Arn"), arn.to_owned());
    }
    Ok(())
}

async fn tables(
    aws: &aws_config::SdkConfig,
    template: &Template,
    stack: &Stack,
) -> Result<(), Error> {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    for (logical_id, resource) in template.resources_of_type("AWS::DynamoDB::Table") {
        let p = &resource["Properties"];
        let name = template.physical_name(logical_id, stack)?;
        let mut create = ddb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::from(
                p["BillingMode"].as_str().unwrap_or("PAY_PER_REQUEST"),
            ))
            .set_key_schema(Some(key_schema(&p["KeySchema"])?));
        for a in p["AttributeDefinitions"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(text(&a["AttributeName"], "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(text(
                        &a["AttributeType"],
                        "AttributeType",
                    )?))
                    .build()?,
            );
        }
        for g in p["GlobalSecondaryIndexes"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let mut projection = Projection::builder().projection_type(ProjectionType::from(text(
                &g["Projection"]["ProjectionType"],
                "ProjectionType",
            )?));
            for attr in g["Projection"]["NonKeyAttributes"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                projection = projection.non_key_attributes(text(attr, "NonKeyAttributes")?);
            }
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(text(&g["IndexName"], "IndexName")?)
                    .set_key_schema(Some(key_schema(&g["KeySchema"])?))
                    .projection(projection.build())
                    .build()?,
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                continue
            }
            Err(e) => {
                return Err(aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    .to_string()
                    .into())
            }
        }
        let ttl = &p["TimeToLiveSpecification"];
        if ttl["Enabled"].as_bool() == Some(true) {
            ddb.update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(text(&ttl["AttributeName"], "TTL AttributeName")?)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        }
    }

    Ok(())
}

async fn buses(
    aws: &aws_config::SdkConfig,
    template: &Template,
    stack: &Stack,
) -> Result<(), Error> {
    let events = aws_sdk_eventbridge::Client::new(aws);
    for (logical_id, _) in template.resources_of_type("AWS::Events::EventBus") {
        let name = template.physical_name(logical_id, stack)?;
        match events.create_event_bus().name(&name).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_already_exists_exception()) => {}
            Err(e) => {
                return Err(aws_sdk_eventbridge::error::DisplayErrorContext(e)
                    .to_string()
                    .into())
            }
        }
    }
    Ok(())
}

/// Queues, dead-letter queues first (a redrive policy names its target's ARN). Conditional
/// queues are left out: their conditions guard deliveries to outside endpoints (the webhook)
/// that the local stack does not make. Encryption has no local meaning and is skipped.
async fn queues(
    aws: &aws_config::SdkConfig,
    template: &Template,
    stack: &mut Stack,
) -> Result<(), Error> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let mut declared: Vec<(&str, &Value)> = template
        .resources_of_type("AWS::SQS::Queue")
        .filter(|(_, r)| r["Condition"].is_null())
        .collect();
    declared.sort_by_key(|(_, r)| !r["Properties"]["RedrivePolicy"].is_null());
    for (logical_id, resource) in declared {
        let p = &resource["Properties"];
        let name = template.physical_name(logical_id, stack)?;
        let mut create = sqs.create_queue().queue_name(&name);
        for (attribute, key) in [
            (QueueAttributeName::VisibilityTimeout, "VisibilityTimeout"),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "MessageRetentionPeriod",
            ),
        ] {
            if let Some(v) = p[key].as_u64() {
                create = create.attributes(attribute, v.to_string());
            }
        }
        let redrive = &p["RedrivePolicy"];
        if !redrive.is_null() {
            let policy = serde_json::json!({
                "deadLetterTargetArn": template.resolve(&redrive["deadLetterTargetArn"], stack)?,
                "maxReceiveCount": redrive["maxReceiveCount"].as_u64().ok_or("maxReceiveCount")?,
            });
            create = create.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = create
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?
            .queue_url
            .ok_or("CreateQueue answered no URL")?;
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        let arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .ok_or("no QueueArn")?
            .clone();
        stack.assigned.insert(logical_id.to_owned(), url);
        stack.assigned.insert(format!("{logical_id}.Arn"), arn);
        stack
            .assigned
            .insert(format!("{logical_id}.QueueName"), name);
    }
    Ok(())
}

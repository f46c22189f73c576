//! Creates a stack's table and event bus in the emulator from their template declarations.
//!
//! Keys, indexes, billing and TTL come from the template. Deletion protection, point-in-time
//! recovery and encryption are production safeguards with no local meaning and are skipped
//! (deletion protection would stop the emulator reset between runs).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
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

//! The EventBridge adapter of the event-sink port. Events carry ids, names and field names,
//! never values.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use serde_json::Value;

pub const SOURCE: &str = "latchkey";

#[derive(Clone)]
pub struct Events {
    client: Client,
    bus: String,
}

impl Events {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::EventSink for Events {
    async fn publish(&self, detail_type: &str, detail: Value) {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build();
        match self.client.put_events().entries(entry).send().await {
            Ok(out) if out.failed_entry_count() == 0 => {}
            Ok(out) => tracing::error!(
                detail_type,
                failed = out.failed_entry_count(),
                "event rejected by the bus"
            ),
            Err(e) => tracing::error!(
                detail_type,
                error = %aws_sdk_eventbridge::error::DisplayErrorContext(e),
                "event not published"
            ),
        }
    }
}

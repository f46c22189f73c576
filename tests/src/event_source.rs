//! Lambda's SQS event source mapping, locally: receives a batch from the emulator's queue,
//! invokes the function with the SQS event Lambda would build, deletes the messages the
//! function did not name in its `batchItemFailures`, and leaves the rest (or the whole batch,
//! when the invocation fails) to come back, until the queue's redrive policy dead-letters them.
//!
//! Two local differences, both about time. Lambda's pollers long-poll (wait up to 20 s for a
//! message); these short-poll and pause when the queue is empty, because the emulator answers
//! one request at a time and a waiting receive would hold every other caller. (Serving requests
//! in threads so that a receive could wait cost 2.5 ms more per request, measured: 10.1 against
//! 7.6 ms per GetItem from boto3; that slowed every test and benchmark to give the pollers
//! fidelity nobody observes.) And a failed message comes back after a second rather than after
//! the queue's visibility timeout (minutes), so that a test of redelivery takes seconds.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, QueueAttributeName,
};
use std::future::Future;
use std::time::Duration;

use crate::{Error, LocalStack};

/// How long a received batch stays invisible while the function works on it.
const IN_FLIGHT: Duration = Duration::from_secs(30);
/// When a failed message is visible again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The pause after an empty receive: while draining, and while running for `make run`.
const DRAIN_IDLE: Duration = Duration::from_millis(200);
const RUN_IDLE: Duration = Duration::from_secs(1);

pub struct QueueSource {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    batch_size: i32,
    /// Pollers at once: the template's `ScalingConfig.MaximumConcurrency`.
    concurrency: usize,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the answer names what failed.
    /// Without it a successful invocation is the whole batch done, whatever it answers.
    partial: bool,
}

/// What one receive-invoke-delete round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub received: usize,
    pub deleted: usize,
    /// Left for redelivery: named failures, or the whole batch of a failed invocation.
    pub returned: usize,
}

fn sqs_error<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> Error {
    aws_sdk_sqs::error::DisplayErrorContext(e)
        .to_string()
        .into()
}

impl QueueSource {
    /// The event source mapping (`AWS::Lambda::EventSourceMapping`) the template declares for
    /// `function` (a logical id), from an SQS queue.
    pub fn of(stack: &LocalStack, function: &str) -> Result<Self, Error> {
        let refers_to_function = |v: &serde_yaml::Value| match v {
            serde_yaml::Value::Tagged(t) => t.value.as_str() == Some(function),
            _ => false,
        };
        let (_, mapping) = stack
            .template
            .resources_of_type("AWS::Lambda::EventSourceMapping")
            .find(|(_, r)| refers_to_function(&r["Properties"]["FunctionName"]))
            .ok_or_else(|| format!("{function} has no event source mapping"))?;
        let p = &mapping["Properties"];
        // `EventSourceArn: !GetAtt <Queue>.Arn`: the queue's URL is what `!Ref <Queue>` gives.
        let arn = stack.template.resolve(&p["EventSourceArn"], &stack.stack)?;
        let queue = match &p["EventSourceArn"] {
            serde_yaml::Value::Tagged(t) => t.value.as_str().and_then(|v| v.split('.').next()),
            _ => None,
        }
        .ok_or_else(|| format!("{function}: EventSourceArn is not a !GetAtt of a queue"))?;
        let url = stack
            .stack
            .assigned
            .get(queue)
            .ok_or_else(|| format!("queue {queue} was not provisioned"))?
            .clone();
        let concurrency = match &p["ScalingConfig"]["MaximumConcurrency"] {
            serde_yaml::Value::Null => 1,
            v => stack.template.resolve(v, &stack.stack)?.parse()?,
        };
        let partial = p["FunctionResponseTypes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|t| t.as_str() == Some("ReportBatchItemFailures"));
        Ok(Self {
            sqs: aws_sdk_sqs::Client::new(&stack.aws),
            url,
            arn,
            batch_size: p["BatchSize"].as_i64().unwrap_or(10) as i32,
            concurrency,
            partial,
        })
    }

    /// The same source with `n` pollers (each invoking one batch at a time).
    pub fn with_pollers(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn pollers(&self) -> usize {
        self.concurrency
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One round: receive up to a batch, invoke, delete what succeeded.
    pub async fn poll<F, Fut>(&self, invoke: &F) -> Result<Round, Error>
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, Error>>,
    {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(self.batch_size)
            .visibility_timeout(IN_FLIGHT.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(sqs_error)?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(Round::default());
        }
        let mut event = SqsEvent::default();
        event.records = messages.iter().map(|m| self.record(m)).collect();
        let every_message: Vec<String> = messages
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect();
        let failed: Vec<String> = match invoke(event).await {
            Ok(_) if !self.partial => Vec::new(),
            Ok(response) => {
                let named: Vec<String> = response
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect();
                // As Lambda does: a failure that names no message of the batch fails it all.
                if named.iter().all(|id| every_message.contains(id)) {
                    named
                } else {
                    tracing::warn!(?named, "unknown failure ids: the whole batch comes back");
                    every_message
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "invocation failed: the whole batch comes back");
                every_message
            }
        };
        let (back, done): (Vec<&Message>, Vec<&Message>) = messages
            .iter()
            .partition(|m| m.message_id.as_ref().is_some_and(|id| failed.contains(id)));
        self.delete(&done).await?;
        self.retry_soon(&back).await?;
        Ok(Round {
            received: messages.len(),
            deleted: done.len(),
            returned: back.len(),
        })
    }

    /// Polls, with as many pollers as the mapping's maximum concurrency, until nothing is
    /// visible, in flight or delayed: every message was deleted or dead-lettered.
    pub async fn drain<F, Fut>(&self, invoke: &F) -> Result<(), Error>
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, Error>>,
    {
        futures::future::try_join_all((0..self.concurrency).map(|_| self.drain_one(invoke)))
            .await?;
        Ok(())
    }

    async fn drain_one<F, Fut>(&self, invoke: &F) -> Result<(), Error>
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, Error>>,
    {
        loop {
            if self.poll(invoke).await?.received == 0 {
                if self.depth().await? == 0 {
                    return Ok(());
                }
                tokio::time::sleep(DRAIN_IDLE).await;
            }
        }
    }

    /// Polls for as long as the process runs, as the mapping does (`make run`).
    pub async fn run<F, Fut>(&self, invoke: F)
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, Error>>,
    {
        futures::future::join_all((0..self.concurrency).map(|_| self.run_one(&invoke))).await;
    }

    async fn run_one<F, Fut>(&self, invoke: &F)
    where
        F: Fn(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, Error>>,
    {
        loop {
            match self.poll(invoke).await {
                Ok(round) if round.received > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "polling the queue failed"),
            }
            tokio::time::sleep(RUN_IDLE).await;
        }
    }

    /// Messages visible, in flight and delayed.
    pub async fn depth(&self) -> Result<usize, Error> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(sqs_error)?;
        let attributes = out.attributes.unwrap_or_default();
        Ok(names
            .iter()
            .filter_map(|n| attributes.get(n)?.parse::<usize>().ok())
            .sum())
    }

    fn record(&self, m: &Message) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.md5_of_body = m.md5_of_body.clone();
        record.attributes = m
            .attributes()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect();
        record.event_source = Some("aws:sqs".into());
        record.event_source_arn = Some(self.arn.clone());
        record
    }

    async fn delete(&self, messages: &[&Message]) -> Result<(), Error> {
        for chunk in messages.chunks(10) {
            let entries = receipts(chunk)
                .map(|(id, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(handle)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.sqs
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
        }
        Ok(())
    }

    async fn retry_soon(&self, messages: &[&Message]) -> Result<(), Error> {
        for chunk in messages.chunks(10) {
            let entries = receipts(chunk)
                .map(|(id, handle)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(id)
                        .receipt_handle(handle)
                        .visibility_timeout(RETRY_AFTER.as_secs() as i32)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
        }
        Ok(())
    }
}

/// A batch request's entries: an id unique in the batch (the position) and the receipt handle.
fn receipts<'a>(chunk: &'a [&Message]) -> impl Iterator<Item = (String, String)> + 'a {
    chunk
        .iter()
        .enumerate()
        .map(|(i, m)| (i.to_string(), m.receipt_handle.clone().unwrap_or_default()))
}

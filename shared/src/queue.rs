//! The SQS adapter of the work-queue port: jobs go out ten to a `SendMessageBatch`, several
//! batches at a time, and the entries SQS refuses are sent again before giving up.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::future::try_join_all;

use crate::error::{sdk, InternalError};
use crate::ports::{Job, WorkQueue};

/// SQS's most entries per `SendMessageBatch`.
const BATCH: usize = 10;
/// Batches in flight at once: 1,000 jobs are 100 calls in 13 waves.
const IN_FLIGHT: usize = 8;
/// Attempts for the entries of a batch that SQS refused (throttled, internal error).
const ATTEMPTS: usize = 3;

pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    async fn send_batch(&self, jobs: &[Job]) -> Result<(), InternalError> {
        // Entry ids are positions in this batch; the bodies name a credential id, no secret.
        let mut left: Vec<(String, String)> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| Ok((i.to_string(), serde_json::to_string(job)?)))
            .collect::<Result<_, InternalError>>()?;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Refused entries were throttled or hit an internal error: back off, jittered
                // so that the batches in flight do not come back together.
                let jitter = u64::from(ulid::Ulid::new().random() as u8) % 50;
                let wait = (50 << attempt) + jitter;
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            let entries = left
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| InternalError::new(format!("queue entry: {e}")))?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sdk)?;
            let refused: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            if let Some(f) = out.failed().iter().find(|f| f.sender_fault()) {
                return Err(InternalError::new(format!(
                    "queue refused a job: {} {}",
                    f.code(),
                    f.message().unwrap_or_default()
                )));
            }
            left.retain(|(id, _)| refused.contains(&id.as_str()));
            if left.is_empty() {
                return Ok(());
            }
        }
        Err(InternalError::new(format!(
            "queue refused {} jobs {ATTEMPTS} times",
            left.len()
        )))
    }
}

#[async_trait::async_trait]
impl WorkQueue for Queue {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), InternalError> {
        for wave in jobs.chunks(BATCH * IN_FLIGHT) {
            try_join_all(wave.chunks(BATCH).map(|batch| self.send_batch(batch))).await?;
        }
        Ok(())
    }
}

//! The outside world a credential reaches, scripted: a provider's token endpoint and the
//! connection testers, each answering from a queue and counting the calls.

use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;

use super::lock;
use crate::oauth::Tokens;
use crate::ports::TokenEndpoint;
use crate::status::Observation;
use crate::target::Target;

/// A token endpoint that answers from a script, one answer per call, and counts the calls.
#[derive(Default)]
pub struct ScriptedProvider {
    answers: Mutex<VecDeque<Result<Tokens, Observation>>>,
    calls: Mutex<usize>,
}

impl ScriptedProvider {
    pub fn answer(&self, answer: Result<Tokens, Observation>) {
        lock(&self.answers).push_back(answer);
    }

    /// Tokens as a provider issues them.
    pub fn issue(&self, access: &str, refresh: Option<&str>, expires_in_seconds: u64) {
        self.answer(Ok(Tokens {
            access_token: access.to_owned().into(),
            refresh_token: refresh.map(|r| r.to_owned().into()),
            expires_in: Some(std::time::Duration::from_secs(expires_in_seconds)),
        }));
    }

    pub fn calls(&self) -> usize {
        *lock(&self.calls)
    }
}

#[async_trait]
impl TokenEndpoint for ScriptedProvider {
    async fn acquire(&self, _target: &Target<'_>) -> Result<Tokens, Observation> {
        *lock(&self.calls) += 1;
        lock(&self.answers)
            .pop_front()
            .expect("the test scripted an answer for every token request")
    }
}

/// Connection testers that answer from a script, one verdict per test, and count the tests.
#[derive(Default)]
pub struct ScriptedTester {
    verdicts: Mutex<VecDeque<Observation>>,
    calls: Mutex<usize>,
}

impl ScriptedTester {
    pub fn answer(&self, verdict: crate::status::Verdict, code: &str) {
        lock(&self.verdicts).push_back(Observation::new(verdict, code, "what the server said"));
    }

    pub fn calls(&self) -> usize {
        *lock(&self.calls)
    }
}

#[async_trait]
impl crate::ports::ConnectionTester for ScriptedTester {
    async fn test(&self, _target: &Target<'_>) -> Observation {
        *lock(&self.calls) += 1;
        lock(&self.verdicts)
            .pop_front()
            .expect("the test scripted a verdict for every connection test")
    }
}

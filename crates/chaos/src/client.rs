//! A JSON client for the servers of a run that turns every answer into an [`Outcome`]: 2xx is
//! ok, a problem is a failure with its code, and no answer (timeout, refused, reset) is
//! unknown.

use crate::history::Outcome;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// How long a client waits for an answer before it counts the outcome as unknown: longer than
/// a pause, a handover's freeze or a relay's timeout, so a slow answer is not mistaken for a
/// lost one too often.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

/// A client of every server, as the admin.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    token: String,
}

/// An answer: how it ended and its body (Null when none).
#[derive(Clone, Debug)]
pub struct Answer {
    /// Ok, fail or unknown.
    pub outcome: Outcome,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    /// Whether it was a 2xx.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok { .. })
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Ok { status } | Outcome::Fail { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl Client {
    /// A client with the admin token.
    pub fn new(token: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(16)
            .build()?;
        Ok(Self {
            http,
            token: token.to_string(),
        })
    }

    /// Sends a request to `base` + `path`.
    pub async fn call(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut rb = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    outcome: Outcome::Info { error: short(&e) },
                    body: Value::Null,
                }
            }
        };
        let status = resp.status().as_u16();
        let body = match resp.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(e) => {
                // The status came but the body did not: the write may have happened.
                return Answer {
                    outcome: Outcome::Info { error: short(&e) },
                    body: Value::Null,
                };
            }
        };
        let outcome = if (200..300).contains(&status) {
            Outcome::Ok { status }
        } else {
            Outcome::Fail {
                status,
                code: body["code"].as_str().unwrap_or("no_code").to_string(),
            }
        };
        Answer { outcome, body }
    }

    /// GET.
    pub async fn get(&self, base: &str, path: &str) -> Answer {
        self.call(Method::GET, base, path, None, &[]).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, base: &str, path: &str, body: &Value) -> Answer {
        self.call(Method::POST, base, path, Some(body), &[]).await
    }
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or reset".into()
    } else {
        let mut s = e.to_string();
        s.truncate(200);
        s
    }
}

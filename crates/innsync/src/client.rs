//! A small JSON client for innsync's own API, used by `demo` and `bench`.

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Talks to one server as one user.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// A client for `base` (`http://127.0.0.1:7000`) with a bearer token. A server whose
    /// certificate comes from the environment's private CA (`innsync cert`) is trusted when
    /// `INNSYNC_CA` names that CA's PEM file.
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true);
        if let Some(ca) = std::env::var_os("INNSYNC_CA") {
            let pem = std::fs::read(&ca)
                .with_context(|| format!("reading INNSYNC_CA {}", ca.to_string_lossy()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("INNSYNC_CA {}", ca.to_string_lossy()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().context("building the HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Sends a request and returns the status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok((status, v))
    }

    /// POST, requiring a 2xx answer (or 409 `already_exists`, so seeding is re-runnable).
    pub async fn post_ok(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.ok(Method::POST, path, body).await
    }

    /// PUT, requiring a 2xx answer.
    pub async fn put_ok(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.ok(Method::PUT, path, body).await
    }

    async fn ok(&self, m: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.call(m, path, Some(&body)).await?;
        if status.is_success() || v["code"] == "already_exists" {
            Ok(v)
        } else {
            anyhow::bail!("{path} answered {status}: {}", v["detail"])
        }
    }
}

/// A random bearer token for a server this process starts itself.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("isk_{hex}")
}

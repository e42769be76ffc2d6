//! `application/problem+json` errors (RFC 9457) with innsync's `code`, from every failure.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use innsync_core::{DomainError, ErrorCode};
use innsync_store::StoreError;
use serde_json::{json, Map, Value};

/// An error answer: status, code, a precise detail, and optional extra members.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: &'static str,
    /// What exactly was wrong.
    pub detail: String,
    /// Extra members (`master`, `owner_url`, …).
    pub extra: Map<String, Value>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with no extra members.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// 400 `invalid_input`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 503 `unavailable`, retryable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        p.retry_after = Some(1);
        p
    }

    /// Adds a member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    fn title(&self) -> &'static str {
        match self.code {
            "invalid_input" => "The request is not valid",
            "unauthorized" => "Authentication is required",
            "forbidden" => "Not allowed",
            "not_found" => "Not found",
            "version_conflict" => "The record has changed",
            "no_availability" => "No availability",
            "not_master" => "This server is not the master",
            "not_owner" => "The record is owned by another server",
            "invalid_transition" => "Not possible in the booking's current state",
            "already_exists" => "Already exists",
            "room_unavailable" => "The room is not available",
            "handover_in_progress" => "A master handover is in progress",
            "payload_too_large" => "The request body is too large",
            "method_not_allowed" => "Method not allowed",
            "unavailable" => "Temporarily unavailable",
            _ => "Error",
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://innsync.dev/problems/{}", self.code.replace('_', "-")),
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(obj) = body.as_object_mut() {
            for (k, v) in self.extra {
                obj.insert(k, v);
            }
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        let detail = e.to_string();
        let code = e.code();
        let status = match code {
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Storage => return Problem::unavailable(detail),
            ErrorCode::HandoverInProgress => {
                let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, code.as_str(), detail);
                p.retry_after = Some(1);
                return p;
            }
            _ => StatusCode::CONFLICT,
        };
        let p = Problem::new(status, code.as_str(), detail);
        match e {
            DomainError::NotMaster { master } => p
                .with("master", master.as_ref().map(|m| m.to_string()))
                .with(
                    "master_url",
                    master.as_ref().map_or(Value::Null, |m| url_of(m.as_str())),
                ),
            DomainError::NotOwner { owner } => {
                let url = match &owner {
                    innsync_core::Authority::Server(s) => url_of(s.as_str()),
                    innsync_core::Authority::Env => Value::Null,
                };
                p.with("owner", owner.to_string()).with("owner_url", url)
            }
            DomainError::NoAvailability {
                night,
                requested,
                free,
                ..
            } => p
                .with("night", night.to_string())
                .with("requested", requested)
                .with("available", free),
            DomainError::AllotmentShort {
                holder,
                night,
                held,
                held_sold,
                requested,
                ..
            } => p
                .with("holder", holder.to_string())
                .with("night", night.to_string())
                .with("held", held)
                .with("sold", held_sold)
                .with("requested", requested),
            DomainError::VersionConflict { actual, .. } => p.with("version", actual),
            DomainError::Restricted {
                plan, restriction, ..
            } => p.with("rate_plan", plan).with("restriction", restriction),
            _ => p,
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(d) => d.into(),
            StoreError::Unavailable(why) => Problem::unavailable(why),
            other => {
                tracing::error!(error = %other, "store failure");
                Problem::unavailable("the database failed; nothing was written; retry shortly")
            }
        }
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, Problem>;

static SERVER_URLS: std::sync::OnceLock<std::collections::BTreeMap<String, String>> =
    std::sync::OnceLock::new();

/// Records where each server of the environment is reached, so `not_master` and `not_owner`
/// problems can say where to go. Set once at start.
pub fn set_server_urls(urls: std::collections::BTreeMap<String, String>) {
    let _ = SERVER_URLS.set(urls);
}

fn url_of(server: &str) -> Value {
    SERVER_URLS
        .get()
        .and_then(|m| m.get(server))
        .map_or(Value::Null, |u| Value::String(u.clone()))
}

//! Request extractors whose every rejection is a precise problem+json, never axum's plain text.

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A JSON body, parsed strictly; errors name the field path.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json_ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json_ct {
            return Err(Problem::invalid(
                "the request body must be JSON with Content-Type: application/json",
            ));
        }
        // JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset is refused, never
        // read as if it were UTF-8.
        if let Some(cs) = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(declared_charset)
        {
            if !cs.eq_ignore_ascii_case("utf-8") && !cs.eq_ignore_ascii_case("utf8") {
                return Err(Problem::invalid(format!(
                    "charset={cs}: JSON bodies are UTF-8; send charset=utf-8 or none"
                )));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
            } else {
                Problem::invalid(format!("the request body could not be read: {e}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid(
            "the request body is empty; a JSON object is expected",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        );
        if syntax || path == "." || path == "?" || path.is_empty() {
            Problem::invalid(format!("malformed JSON: {inner}"))
        } else {
            Problem::invalid(format!("{path}: {inner}"))
        }
    })?;
    // One document and nothing after it: `{...} xx` or the same object twice is refused.
    de.end()
        .map_err(|e| Problem::invalid(format!("malformed JSON: data after the document: {e}")))?;
    Ok(value)
}

/// The `charset` parameter of a Content-Type, if one is declared.
fn declared_charset(ct: &str) -> Option<&str> {
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// Query parameters, parsed strictly.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                Problem::invalid(format!("query parameter {path}: {}", e.into_inner()))
            })
    }
}

/// The optional `Idempotency-Key` header.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let s = v
            .to_str()
            .ok()
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= MAX_IDEMPOTENCY_KEY_LEN
                    && s.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                Problem::invalid(format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
                ))
            })?;
        Ok(Self(Some(s.to_string())))
    }
}

/// The optional `If-Match` header: a record version, bare or quoted like an ETag.
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let raw = v.to_str().unwrap_or("").trim();
        let unquoted = raw.trim_start_matches("W/").trim_matches('"');
        unquoted.parse::<u64>().map(|n| Self(Some(n))).map_err(|_| {
            Problem::invalid(format!(
                "If-Match must be a record version like \"3\"; got {raw:?}"
            ))
        })
    }
}

/// `?forward=true`: a write that belongs to another server is forwarded to it.
pub struct Forward(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Forward {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k == "forward" {
                return match v.as_ref() {
                    "true" | "1" => Ok(Self(true)),
                    "false" | "0" => Ok(Self(false)),
                    other => Err(Problem::invalid(format!(
                        "query parameter forward must be true or false; got {other:?}"
                    ))),
                };
            }
        }
        Ok(Self(false))
    }
}

/// Deserializes a `YYYY-MM-DD` date with a message a person can act on.
pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = String::deserialize(d)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a valid date (YYYY-MM-DD)")))
}

/// Like [`date`], for optional fields.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                serde::de::Error::custom(format!("{s:?} is not a valid date (YYYY-MM-DD)"))
            }),
    }
}

/// The `limit` of a list request, checked against the settings.
pub fn list_limit(state: &crate::state::AppState, limit: Option<usize>) -> Result<usize, Problem> {
    let max = state.settings.max_list_limit;
    match limit {
        None => Ok(state.settings.default_list_limit),
        Some(0) => Err(Problem::invalid("limit must be at least 1")),
        Some(n) if n > max => Err(Problem::invalid(format!(
            "limit must be at most {max}; got {n}"
        ))),
        Some(n) => Ok(n),
    }
}

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
    // chrono reads `2027-1-1` and `+10000-01-02` as dates; the API takes `YYYY-MM-DD` only.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        loose_dates(&v, "", false)?;
    }
    Ok(value)
}

/// Whether a field of this name holds a date (or dates).
fn date_field(name: &str) -> bool {
    const NAMES: [&str; 12] = [
        "arrival",
        "departure",
        "from",
        "to",
        "on",
        "night",
        "nights",
        "until",
        "since",
        "day",
        "date",
        "dates",
    ];
    NAMES.contains(&name) || name.ends_with("_date") || name.ends_with("_on")
}

/// Refuses a date field whose text is a date in a loose shape (`2027-1-1`), naming its path.
fn loose_dates(v: &serde_json::Value, path: &str, dated: bool) -> Result<(), Problem> {
    match v {
        serde_json::Value::String(s) if dated && innsync_core::dates::loose_date(s) => Err(
            Problem::invalid(format!("{path}: {s:?} is not a valid date (YYYY-MM-DD)")),
        ),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| loose_dates(x, &format!("{path}[{i}]"), dated)),
        serde_json::Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            loose_dates(x, &p, date_field(k))
        }),
        _ => Ok(()),
    }
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
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if date_field(&k) && innsync_core::dates::loose_date(&v) {
                return Err(Problem::invalid(format!(
                    "query parameter {k}: {v:?} is not a valid date (YYYY-MM-DD)"
                )));
            }
        }
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
    innsync_core::dates::parse_iso(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a valid date (YYYY-MM-DD)")))
}

/// Like [`date`], for optional fields.
pub fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => innsync_core::dates::parse_iso(&s).map(Some).ok_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Stay {
        arrival: chrono::NaiveDate,
        departure: chrono::NaiveDate,
        guest: serde_json::Value,
    }

    #[test]
    fn dates_in_a_loose_shape_are_refused_with_their_path() {
        let ok = br#"{"arrival":"2027-01-01","departure":"2027-01-03","guest":{"phone":"555-123-4567"}}"#;
        assert!(parse_json::<Stay>(ok).is_ok());
        for (body, path) in [
            (
                &br#"{"arrival":"2027-1-1","departure":"2027-01-03","guest":{}}"#[..],
                "arrival",
            ),
            (
                &br#"{"arrival":"2027-01-01","departure":"+10000-01-02","guest":{}}"#[..],
                "departure",
            ),
        ] {
            let p = parse_json::<Stay>(body).unwrap_err();
            assert_eq!(p.code, "invalid_input");
            assert!(p.detail.contains(path), "{}", p.detail);
        }
    }

    #[test]
    fn the_date_helpers_take_yyyy_mm_dd_only() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Q {
            #[serde(deserialize_with = "date")]
            on: chrono::NaiveDate,
        }
        assert!(serde_json::from_str::<Q>(r#"{"on":"2027-01-01"}"#).is_ok());
        assert!(serde_json::from_str::<Q>(r#"{"on":"2027-1-1"}"#).is_err());
    }
}

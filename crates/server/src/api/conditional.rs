//! Conditional reads: an answer's `ETag` is the change-log position it reflects, so a client
//! that sends it back in `If-None-Match` gets `304 Not Modified` for the cost of reading the
//! position (from memory while the read state is at the writer's last commit), until something
//! is written.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare by their value.
pub(crate) fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// `304` with the tag when the client already has the answer of the current position;
/// `None` (read on) when it has not or sent no `If-None-Match`.
pub(crate) async fn not_modified(
    state: &AppState,
    headers: &HeaderMap,
) -> ApiResult<Option<Response>> {
    if !headers.contains_key(header::IF_NONE_MATCH) {
        return Ok(None);
    }
    let position = match state.reads.position_now() {
        Some(p) => p,
        None => state.read(|r| r.position()).await?,
    };
    let etag = position.etag();
    Ok(matches(headers, &etag).then(|| with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag)))
}

/// Adds the `ETag` header to an answer.
pub(crate) fn with_etag(mut resp: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// The answer, or `304` when the client's tag is the answer's own (the position moved on
/// between the first look and the read, but not for what it reflects).
pub(crate) fn answer(headers: &HeaderMap, etag: &str, body: impl IntoResponse) -> Response {
    if matches(headers, etag) {
        return with_etag(StatusCode::NOT_MODIFIED.into_response(), etag);
    }
    with_etag(body.into_response(), etag)
}

/// The `format` of a read: `None`/`nights` (an object per night) or `compact` (arrays).
pub(crate) fn compact(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("") | Some("nights") => Ok(false),
        Some("compact") => Ok(true),
        Some(f) => Err(Problem::invalid(format!(
            "format: one of nights, compact; got {f:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        assert!(!matches(&h, "\"WB.1\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"WB.0\", W/\"WB.1\""),
        );
        assert!(matches(&h, "\"WB.1\""));
        assert!(!matches(&h, "\"WB.2\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches(&h, "\"WB.2\""));
    }
}

//! Who may make the server read a body: callers are authenticated from their headers before
//! any body is read or any pool slot is taken, so an unauthenticated client holding a
//! half-sent body cannot fill the pool that replication or the API needs (issue 16).
//!
//! - [`peer_gate`]: routes between servers (`/api/v1/replication/*`): the peer token and the
//!   environment's fingerprint (and, with `peer_mtls`, a client certificate from the
//!   environment's CA), else 401 before the body.
//! - [`api_gate`]: every other `/api/v1` request that carries a body (all but `login`): a
//!   valid bearer token, else 401 before the body.
//! - [`deadline_problem`]: the whole-request deadline's bare 503 as problem+json.

use crate::auth::Caller;
use crate::problem::Problem;
use crate::state::AppState;
use crate::tls::PeerCertificate;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The prefix of the routes between servers.
pub const PEER_PREFIX: &str = "/api/v1/replication/";

/// Paths under `/api/v1` that take a body from anyone (they authenticate with what the body
/// holds, and are throttled).
const OPEN_WITH_BODY: [&str; 1] = ["/api/v1/login"];

fn has_body(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Refuses a request between servers that does not prove its server before its body is read.
pub async fn peer_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(p) = crate::replication::endpoint::authenticate(&state, req.headers()) {
        return p.into_response();
    }
    if state.settings.peer_mtls && req.extensions().get::<PeerCertificate>().is_none() {
        return Problem::unauthorized(
            "this server requires a client certificate from the environment's CA on links between servers",
        )
        .into_response();
    }
    next.run(req).await
}

/// Refuses an API request with a body whose bearer token is missing or wrong, before the body.
pub async fn api_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let gated = path.starts_with("/api/v1/")
        && !path.starts_with(PEER_PREFIX)
        && !OPEN_WITH_BODY.contains(&path)
        && has_body(req.method());
    if !gated {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    if let Err(p) = Caller::from_request_parts(&mut parts, &state).await {
        // A cluster follower relays writes to its leader, which may know a token this node
        // has not applied yet: the leader decides.
        let follower = state.cluster.as_ref().is_some_and(|n| !n.is_leader());
        if !follower {
            return p.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Turns the bare answer of the whole-request deadline (`TimeoutLayer`) into problem+json.
pub async fn deadline_problem(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && !resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return Problem::unavailable(
            "the request took longer than this server's deadline (request_timeout); try again",
        )
        .into_response();
    }
    resp
}

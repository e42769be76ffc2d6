//! The one way a server calls a peer (or a partner environment) and sorts the answer:
//! success, retry later, or a final refusal.

use super::auth::{peer_token, FINGERPRINT_HEADER, SERVER_HEADER};
use crate::problem::Problem;
use crate::state::AppState;
use axum::http::StatusCode;
use innsync_core::ServerCode;
use serde::Serialize;

/// Why a relay did not complete.
#[derive(Debug)]
pub enum RelayError {
    /// No answer (unreachable, timed out, 5xx): try again later.
    Unreachable(String),
    /// The owner refused: its problem, final.
    Refused(Problem),
}

/// The problem code of a peer's answer, as one of ours (`unavailable` when unknown).
fn static_code(code: &str) -> &'static str {
    const CODES: [&str; 16] = [
        "invalid_input",
        "unauthorized",
        "forbidden",
        "not_found",
        "version_conflict",
        "no_availability",
        "not_master",
        "not_owner",
        "invalid_transition",
        "already_exists",
        "room_unavailable",
        "handover_in_progress",
        "payload_too_large",
        "method_not_allowed",
        "environment_mismatch",
        "unavailable",
    ];
    CODES
        .into_iter()
        .find(|c| *c == code)
        .unwrap_or("unavailable")
}

/// POSTs `body` to a peer's `path` as this server (peer token and file fingerprint), within
/// the peer timeouts; the answer, or why there was none (unreachable, timed out, 5xx: try
/// again later) or the peer's refusal (4xx: final).
pub async fn peer_post<B: Serialize>(
    state: &AppState,
    target: &ServerCode,
    path: &str,
    body: &B,
    timeout: std::time::Duration,
) -> Result<axum::body::Bytes, RelayError> {
    let Some(ctx) = &state.env else {
        return Err(RelayError::Refused(Problem::invalid(
            "not part of an environment",
        )));
    };
    let Some(base) = ctx.peer_urls.get(target) else {
        return Err(RelayError::Refused(Problem::invalid(format!(
            "{target} is not a peer"
        ))));
    };
    let client =
        crate::tls::peer_client_builder(state.peer_tls.as_deref(), state.settings.peer_h2c)
            .connect_timeout(state.settings.peer_connect_timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let resp = client
        .post(format!("{base}{path}"))
        .bearer_auth(peer_token(ctx.env.secret.expose(), ctx.me.code.as_str()))
        .header(SERVER_HEADER, ctx.me.code.as_str())
        .header(FINGERPRINT_HEADER, &ctx.fingerprint)
        .json(body)
        .send()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    answer(target.as_str(), resp).await
}

/// Sorts an HTTP answer into success (its body), a retryable failure or a final refusal.
pub async fn answer(who: &str, resp: reqwest::Response) -> Result<axum::body::Bytes, RelayError> {
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    if status.is_success() {
        return Ok(bytes);
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detail = v["detail"].as_str().unwrap_or("no detail").to_string();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(RelayError::Unreachable(format!(
            "{who} answered {status}: {detail}"
        )));
    }
    let code = static_code(v["code"].as_str().unwrap_or(""));
    Err(RelayError::Refused(Problem::new(
        status,
        code,
        format!("{who} refused: {detail}"),
    )))
}

/// A partner environment's URL and the token it gave us.
pub fn partner(state: &AppState, name: &str) -> Option<(String, String)> {
    let env = &state.env.as_ref()?.env;
    env.partners
        .iter()
        .find(|p| p.name == name)
        .map(|p| (p.url.to_string(), p.token.expose().to_string()))
}

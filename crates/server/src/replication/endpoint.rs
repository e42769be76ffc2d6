//! `POST /api/v1/replication/pull`: a peer asks for the changes beyond its cursor and waits
//! (long-poll) until there are some or its wait runs out.

use super::auth::{peer_token, same, FINGERPRINT_HEADER, SERVER_HEADER};
use super::{MAX_PULL_CHANGES, MAX_PULL_WAIT_MS};
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use innsync_core::ServerCode;
use innsync_store::Change;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A pull request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// How far the caller has each origin's log.
    pub cursor: BTreeMap<String, u64>,
    /// Most changes wanted.
    pub limit: usize,
    /// How long to wait for changes when there are none yet.
    pub wait_ms: u64,
}

/// A pull answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct PullAnswer {
    /// The answering server.
    pub server: String,
    /// Its environment fingerprint.
    pub fingerprint: String,
    /// How far it has each origin's log (so the caller can tell how far behind it is).
    pub holds: BTreeMap<String, u64>,
    /// Changes beyond the caller's cursor, each origin's in order.
    pub changes: Vec<Change>,
    /// For a caller that receives only part of the data: per origin, the last change looked
    /// at; those left out were not for it, and it may move its cursor past them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scanned: BTreeMap<String, u64>,
    /// How long the answering server held the pull before answering (long-poll), in ms: the
    /// caller takes it from the pull's time to know the link's round trip.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waited_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Checks that the caller is a server of this environment with the same file.
pub(crate) fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<ServerCode> {
    let Some(ctx) = &state.env else {
        return Err(Problem::not_found(
            "this server is not part of an environment",
        ));
    };
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
    let code = ServerCode::parse(header(SERVER_HEADER))
        .ok()
        .filter(|c| *c != ctx.me.code && ctx.env.server(c).is_some())
        .ok_or_else(|| Problem::unauthorized("unknown or missing peer server code"))?;
    let token = header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or("");
    // The secret, or during a rotation the other one the file names.
    let proves = std::iter::once(&ctx.env.secret)
        .chain(ctx.env.rotating_secret.as_ref())
        .any(|s| same(token, &peer_token(s.expose(), code.as_str())));
    if !proves {
        tracing::warn!(peer = %code, "pull refused: bad peer token (different secret?)");
        return Err(Problem::unauthorized(format!(
            "server {code} did not prove it knows the environment's secret"
        )));
    }
    let theirs = header(FINGERPRINT_HEADER);
    if theirs != ctx.fingerprint {
        tracing::warn!(peer = %code, theirs, ours = %ctx.fingerprint, "pull refused: environment files differ");
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "environment_mismatch",
            format!(
                "server {code}'s environment file differs from {}'s (fingerprint {theirs} vs {}); the servers refuse to sync until the files are identical",
                ctx.me.code, ctx.fingerprint
            ),
        )
        .with("fingerprint", ctx.fingerprint.clone()));
    }
    Ok(code)
}

/// The cursor a waiting caller's own origin is read from after the wait: beyond any seq.
/// `i64::MAX`, not `u64::MAX`: the store binds sequence numbers as SQLite integers.
const OWN_LOG_HELD: u64 = i64::MAX as u64;

/// Serves a pull.
pub async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<PullRequest>,
) -> ApiResult<Json<PullAnswer>> {
    let peer = authenticate(&state, &headers)?;
    if let Some(ctx) = &state.env {
        let cursor = req.cursor.clone();
        ctx.peer(&peer, |p| {
            p.cursor = cursor;
            p.last_pull = Some(std::time::Instant::now());
        });
    }
    if req.limit == 0 || req.limit > MAX_PULL_CHANGES {
        return Err(Problem::invalid(format!(
            "limit must be 1 to {MAX_PULL_CHANGES}"
        )));
    }
    let wait = Duration::from_millis(req.wait_ms.min(MAX_PULL_WAIT_MS));
    let received = tokio::time::Instant::now();
    let deadline = received + wait;
    let mut changed = state.writer.changes();
    let mut nudges = state.env.as_ref().map(|c| c.pull_nudges());
    let serve = super::serving::Serving::for_peer(&state, &peer);
    let mut cursor = req.cursor.clone();
    let mut nudged = false;
    loop {
        changed.borrow_and_update();
        let asked = cursor.clone();
        let limit = req.limit;
        let s = serve.clone();
        let (holds, changes, scanned) = state
            .read(move |r| {
                let (changes, scanned) = s.changes_after(r, &asked, limit)?;
                Ok((r.cursors()?, changes, scanned))
            })
            .await?;
        let moved = scanned
            .iter()
            .any(|(o, s)| *s > cursor.get(o).copied().unwrap_or(0));
        if !changes.is_empty() || moved || nudged || tokio::time::Instant::now() >= deadline {
            tracing::debug!(%peer, changes = changes.len(), "served a pull");
            let ctx = state
                .env
                .as_ref()
                .ok_or_else(|| Problem::unavailable("no environment"))?;
            return Ok(Json(PullAnswer {
                server: ctx.me.code.to_string(),
                fingerprint: ctx.fingerprint.clone(),
                holds,
                changes,
                scanned: if serve.partial() {
                    scanned
                } else {
                    BTreeMap::new()
                },
                waited_ms: u64::try_from(received.elapsed().as_millis()).unwrap_or(u64::MAX),
            }));
        }
        // Wait for the next commit, or the end of the caller's wait. What of the caller's own
        // log arrives while it waits is what it wrote since it asked (it has it): answering
        // with it would echo every change the caller makes back to it. A caller that lost
        // its own changes (a restore) gets them at once, from the cursor it sent, before any
        // wait; one relayed here during the wait comes with its next pull.
        // A handover's nudge ends the wait: the caller pulls again, showing its cursor.
        let nudge = async {
            match nudges.as_mut() {
                Some(n) => n.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::timeout_at(deadline, changed.changed()) => {}
            n = tokio::time::timeout_at(deadline, nudge) => nudged = n.unwrap_or(false),
        }
        cursor.insert(peer.to_string(), OWN_LOG_HELD);
    }
}

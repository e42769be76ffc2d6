//! The HTTP side of an HA cluster node (DESIGN.md §7).
//!
//! - [`relay_to_leader`]: a follower relays every write (any method but GET/HEAD/OPTIONS) and every
//!   `?consistent=true` read to the leader and answers with the leader's answer, so any node
//!   answers any request; the leader serves a consistent read after openraft's linearizable
//!   read (every write acknowledged before it is visible).
//! - [`router`]: `GET /api/v1/cluster` (this node's view), `POST /api/v1/cluster/add|remove|
//!   replace` (membership changes, admin only, run on the leader).
//! - [`lead`]: the server's own jobs that write (hold sweeper, pullers, timetable, pending
//!   operations, PMS links, the admin set-up) run on the leader only, started and stopped as
//!   leadership moves.

use crate::auth::{Caller, Permission};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use innsync_cluster::{ClusterNode, ClusterStatus};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// Header a node adds to a request it relays, so a relayed request is never relayed again.
pub const FORWARDED_HEADER: &str = "x-innsync-forwarded-by";

/// Headers that belong to one connection, not to the request or answer.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

/// The client a node relays with: TLS to the other nodes when configured.
fn client(state: &AppState) -> &reqwest::Client {
    &state.node_http
}

fn is_write(req: &Request) -> bool {
    !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        // A pull is a read that long-polls; any node serves it from its own copy of the log.
        && req.uri().path() != "/api/v1/replication/pull"
        && !req.uri().path().starts_with("/cluster/raft/")
}

/// Whether the query asks for a consistent read, and the query without that parameter.
fn consistent_query(query: Option<&str>) -> (bool, Option<String>) {
    let Some(q) = query else {
        return (false, None);
    };
    let mut consistent = false;
    let rest: Vec<&str> = q
        .split('&')
        .filter(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, "true"));
            if k == "consistent" {
                consistent = v == "true" || v == "1";
                false
            } else {
                true
            }
        })
        .collect();
    (consistent, (!rest.is_empty()).then(|| rest.join("&")))
}

/// The middleware: serve here, or relay to the leader.
pub async fn relay_to_leader(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(node) = state.cluster.clone() else {
        return next.run(req).await;
    };
    let (consistent, rest) = consistent_query(req.uri().query());
    if consistent {
        // The handlers know nothing of `consistent`: take it off the query.
        let path = req.uri().path().to_string();
        let pq = match &rest {
            Some(r) => format!("{path}?{r}"),
            None => path,
        };
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    if !is_write(&req) && !consistent {
        return next.run(req).await;
    }
    if node.is_leader() {
        if consistent {
            if let Err(why) = node.linearizable().await {
                return Problem::unavailable(format!("no consistent read now: {why}"))
                    .into_response();
            }
        }
        return next.run(req).await;
    }
    if req.headers().contains_key(FORWARDED_HEADER) {
        return Problem::unavailable(
            "this node was sent a relayed request but is not the leader (leadership moved); retry",
        )
        .into_response();
    }
    match node.leader() {
        Some((id, url)) if id != node.id => relay(&state, &node, req, &url).await,
        _ => Problem::unavailable(
            "the cluster has no leader right now (an election is running or a quorum of \
             nodes is unreachable); nothing was written, retry shortly",
        )
        .into_response(),
    }
}

async fn relay(state: &AppState, node: &ClusterNode, req: Request, base: &str) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the request body is larger than {} bytes",
                    state.settings.max_body_bytes
                ),
            )
            .into_response()
        }
    };
    let pq = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut rb = client(state)
        .request(parts.method.clone(), format!("{base}{pq}"))
        .timeout(state.settings.request_timeout);
    for (k, v) in parts.headers.iter() {
        if !hop_by_hop(k) {
            rb = rb.header(k, v);
        }
    }
    rb = rb.header(FORWARDED_HEADER, node.id.to_string());
    let answer = match rb.body(bytes).send().await {
        Ok(a) => a,
        Err(e) => {
            return Problem::unavailable(format!(
                "the cluster's leader at {base} could not be reached ({e}); the outcome is \
                 unknown if it was sent, retry with the same Idempotency-Key"
            ))
            .into_response()
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return Problem::unavailable(format!(
                "the leader's answer was cut off ({e}); the outcome is unknown, retry with the \
                 same Idempotency-Key"
            ))
            .into_response()
        }
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    for (k, v) in headers.iter() {
        if !hop_by_hop(k) {
            resp.headers_mut().append(k, v.clone());
        }
    }
    resp
}

/// The cluster routes of the API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/cluster", get(status))
        .route("/api/v1/cluster/add", post(add))
        .route("/api/v1/cluster/remove", post(remove))
        .route("/api/v1/cluster/replace", post(replace))
        .route("/cluster/peer-pulls/{code}", get(peer_pulls))
        .with_state(state)
}

/// What one node saw of a peer server's pulls: its cursor and how long ago it pulled.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PeerPulls {
    /// The peer's cursor at its last pull from this node.
    pub cursor: std::collections::BTreeMap<String, u64>,
    /// Milliseconds since that pull, if it pulled from this node at all.
    pub ms_since: Option<u64>,
}

/// `?nudge=true`: the pulls waiting on this node answer now (a handover wants the target's
/// current cursor, wherever it pulls).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PeerPullsQuery {
    #[serde(default)]
    nudge: bool,
}

/// `GET /cluster/peer-pulls/{code}`, for the other nodes (cluster token): a peer server may pull
/// from any node, and the leader's handover waits on what all of them saw.
async fn peer_pulls(
    State(state): State<AppState>,
    axum::extract::Path(code): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<PeerPullsQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let (Some(node), Some(ctx)) = (&state.cluster, &state.env) else {
        return Problem::not_found("no cluster environment here").into_response();
    };
    if !node.from_a_node(&headers) {
        return Problem::unauthorized("not a node of this cluster").into_response();
    }
    let Ok(code) = innsync_core::ServerCode::parse(&code) else {
        return Problem::invalid("not a server code").into_response();
    };
    if q.nudge {
        ctx.nudge_pulls();
    }
    let p = ctx.peer_snapshot(&code);
    Json(PeerPulls {
        cursor: p.cursor,
        ms_since: p.last_pull.map(|t| t.elapsed().as_millis() as u64),
    })
    .into_response()
}

/// A peer server's pulls as the whole cluster saw them: on a single node, this node's view; on
/// a cluster node, its own merged with every other node's (the furthest cursor, per origin, and
/// the latest pull), so a handover sees a target that pulls from a follower.
pub async fn peer_seen(
    state: &AppState,
    ctx: &crate::replication::EnvContext,
    code: &innsync_core::ServerCode,
    nudge: bool,
) -> crate::replication::PeerStatus {
    if nudge {
        ctx.nudge_pulls();
    }
    let mut seen = ctx.peer_snapshot(code);
    let Some(node) = &state.cluster else {
        return seen;
    };
    for (id, url) in &node.peers {
        if *id == node.id {
            continue;
        }
        let answer = client(state)
            .get(format!(
                "{url}/cluster/peer-pulls/{code}{}",
                if nudge { "?nudge=true" } else { "" }
            ))
            .header(innsync_cluster::auth::TOKEN_HEADER, node.node_token())
            .timeout(std::time::Duration::from_secs(1))
            .send()
            .await;
        let Ok(Ok(theirs)) = answer.map(|r| r.error_for_status()) else {
            continue;
        };
        let Ok(theirs) = theirs.json::<PeerPulls>().await else {
            continue;
        };
        for (origin, seq) in theirs.cursor {
            let mine = seen.cursor.entry(origin).or_insert(0);
            *mine = (*mine).max(seq);
        }
        if let Some(ms) = theirs.ms_since {
            let at = std::time::Instant::now().checked_sub(std::time::Duration::from_millis(ms));
            if at.is_some() && (seen.last_pull.is_none() || at > seen.last_pull) {
                seen.last_pull = at;
            }
        }
    }
    seen
}

fn node_of(state: &AppState) -> ApiResult<Arc<ClusterNode>> {
    state
        .cluster
        .clone()
        .ok_or_else(|| Problem::invalid("this server does not run as a cluster"))
}

async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ClusterStatus>> {
    caller.require(Permission::Read)?;
    Ok(Json(node_of(&state)?.status()))
}

/// A membership change.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    /// The node added, removed, or the new node of a replacement.
    pub node: u64,
    /// Its URL (add, replace).
    pub url: Option<String>,
    /// The node replaced (replace).
    pub old: Option<u64>,
}

fn membership_problem(e: innsync_cluster::ClusterError) -> Problem {
    match e {
        innsync_cluster::ClusterError::Config(why) => Problem::invalid(why),
        other => Problem::unavailable(format!("the membership change failed: {other}")),
    }
}

async fn add(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<MemberRequest>,
) -> ApiResult<Json<ClusterStatus>> {
    caller.require(Permission::Admin)?;
    let url = req
        .url
        .ok_or_else(|| Problem::invalid("url: the new node's URL is required"))?;
    let node = node_of(&state)?;
    node.add(req.node, &url)
        .await
        .map(Json)
        .map_err(membership_problem)
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<MemberRequest>,
) -> ApiResult<Json<ClusterStatus>> {
    caller.require(Permission::Admin)?;
    let node = node_of(&state)?;
    node.remove(req.node)
        .await
        .map(Json)
        .map_err(membership_problem)
}

async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<MemberRequest>,
) -> ApiResult<Json<ClusterStatus>> {
    caller.require(Permission::Admin)?;
    let url = req
        .url
        .ok_or_else(|| Problem::invalid("url: the new node's URL is required"))?;
    let old = req
        .old
        .ok_or_else(|| Problem::invalid("old: the node replaced is required"))?;
    let node = node_of(&state)?;
    node.replace(old, req.node, &url)
        .await
        .map(Json)
        .map_err(membership_problem)
}

/// `/readyz` on a cluster node: ready only where writes are taken now (the leader, with a
/// quorum heard recently), so a load balancer sends writes there; every node serves reads.
pub fn readiness(node: &ClusterNode) -> (StatusCode, serde_json::Value) {
    let s = node.status();
    let code = if s.writable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        serde_json::json!({
            "ready": s.writable,
            "cluster": s,
        }),
    )
}

/// Appends the node's cluster gauges to a Prometheus exposition (before its end marker).
pub fn metrics(node: &ClusterNode, mut body: String) -> String {
    let s = node.status();
    let mut extra = String::new();
    for (metric, help, v) in [
        (
            "innsync_cluster_leader",
            "Whether this node is the cluster's leader",
            u64::from(s.role == "leader"),
        ),
        (
            "innsync_cluster_writable",
            "Whether this node takes writes now (leader with a fresh quorum)",
            u64::from(s.writable),
        ),
        ("innsync_cluster_term", "The current Raft term", s.term),
        (
            "innsync_cluster_last_log_index",
            "The last Raft log index on this node",
            s.last_log_index.unwrap_or(0),
        ),
        (
            "innsync_cluster_last_applied",
            "The last Raft log index applied to the store",
            s.last_applied.unwrap_or(0),
        ),
        (
            "innsync_cluster_snapshot_index",
            "The last log index covered by a snapshot",
            s.snapshot.unwrap_or(0),
        ),
        (
            "innsync_cluster_voters",
            "Voting members of the cluster",
            s.voters.len() as u64,
        ),
    ] {
        extra.push_str(&format!(
            "# HELP {metric} {help}.\n# TYPE {metric} gauge\n{metric} {v}\n"
        ));
    }
    let end = body.rfind("# EOF").unwrap_or(body.len());
    body.insert_str(end, &extra);
    body
}

/// The admin token a node registers when it leads: given, saved earlier, or new (saved in
/// the data directory and returned so it is printed once).
pub fn admin_token(
    data_dir: &Path,
    given: Option<String>,
) -> Result<(String, bool), crate::ServeError> {
    if let Some(t) = given {
        return Ok((t, false));
    }
    let path = data_dir.join(crate::auth::ADMIN_TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok((t.trim().to_string(), false));
        }
    }
    let t = crate::auth::new_token();
    std::fs::write(&path, format!("{t}\n"))
        .map_err(|e| crate::ServeError::Bootstrap(e.to_string()))?;
    Ok((t, true))
}

/// Runs the server's writing jobs while this node leads, until `stop`.
pub async fn lead(
    state: AppState,
    node: Arc<ClusterNode>,
    data_dir: PathBuf,
    admin_token: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut leadership = node.leadership();
    loop {
        tokio::select! {
            r = leadership.wait_for(|l| *l) => if r.is_err() { return },
            _ = stop.wait_for(|s| *s) => return,
        }
        tracing::info!(
            node = node.id,
            "this node leads: starting the server's own jobs"
        );
        let (jobs_stop_tx, jobs_stop) = watch::channel(false);
        // A handover left frozen by a leader that died is over: env writes resume.
        if let Err(e) = crate::write::freeze(&state, false).await {
            tracing::warn!(error = %e, "could not thaw env writes on becoming leader");
        }
        if state.settings.archive_dir.is_some() || state.settings.offsite.url.is_some() {
            if let Err(e) = crate::write::track_commit_order(&state).await {
                tracing::warn!(error = %e, "could not turn on the commit order for the archive");
            }
        }
        let setup = tokio::spawn(set_up_admin(
            state.clone(),
            data_dir.clone(),
            admin_token.clone(),
            jobs_stop.clone(),
        ));
        crate::start_pms_links(&state).await;
        let jobs = crate::spawn_jobs(&state, jobs_stop);
        tokio::select! {
            _ = leadership.wait_for(|l| !*l) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        tracing::info!(
            node = node.id,
            "this node no longer leads: stopping the server's own jobs"
        );
        let _ = jobs_stop_tx.send(true);
        setup.abort();
        for j in jobs {
            j.abort();
        }
        state.pms.stop_all();
        if *stop.borrow() {
            return;
        }
    }
}

/// Creates the admin and registers its token (through the cluster), retrying until done.
async fn set_up_admin(
    state: AppState,
    data_dir: PathBuf,
    token: String,
    stop: watch::Receiver<bool>,
) {
    loop {
        match crate::bootstrap::bootstrap_admin(&state, &data_dir, Some(token.clone())).await {
            Ok(_) => return,
            Err(e) => tracing::warn!(error = %e, "admin set-up failed; retrying"),
        }
        if *stop.borrow() {
            return;
        }
        tokio::time::sleep(state.settings.cluster.heartbeat * 5).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consistent_is_taken_off_the_query() {
        assert_eq!(consistent_query(None), (false, None));
        assert_eq!(
            consistent_query(Some("property=KRL&consistent=true&from=2026-01-01")),
            (true, Some("property=KRL&from=2026-01-01".into()))
        );
        assert_eq!(consistent_query(Some("consistent=true")), (true, None));
        assert_eq!(
            consistent_query(Some("consistent=false&a=1")),
            (false, Some("a=1".into()))
        );
    }
}

//! The Raft RPC endpoints a node serves to its peers, under `/cluster/raft/`. Every call must
//! carry the cluster token; anything else is refused 401 before openraft sees it.

use crate::auth::{same, TOKEN_HEADER};
use crate::network::SnapshotHeader;
use crate::types::{SnapshotFile, TypeConfig};
use crate::ClusterNode;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::Snapshot;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Most Raft RPCs served at once: the nodes' own pool, apart from the public API's.
pub const MAX_CONCURRENT_RPCS: usize = 64;

/// The routes, with their own body limit (entries can be large; a snapshot is streamed) and
/// their own pool. The cluster token is checked from the headers before anything else: no
/// body is read, and no pool slot taken, for a caller that is not a node of the cluster.
pub fn router(node: Arc<ClusterNode>) -> Router {
    Router::new()
        .route("/cluster/raft/append", post(append))
        .route("/cluster/raft/vote", post(vote))
        .route("/cluster/raft/snapshot", post(snapshot))
        .route("/cluster/raft/state", get(state))
        .layer(DefaultBodyLimit::max(node.settings.max_rpc_bytes))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_CONCURRENT_RPCS,
        ))
        .route_layer(axum::middleware::from_fn_with_state(node.clone(), gate))
        .with_state(node)
}

/// An RFC 9457 problem, as the rest of the server answers.
fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        Json(serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or(""),
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        })),
    )
        .into_response()
}

/// Refuses a caller without the cluster token before its body is read.
async fn gate(
    State(node): State<Arc<ClusterNode>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorised(&node, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(r) => *r,
    }
}

fn authorised(node: &ClusterNode, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same(given, &node.token) {
        Ok(())
    } else {
        Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not a node of this cluster (wrong or missing cluster token)",
        )))
    }
}

/// A JSON body, refused as problem+json (never axum's 422 text) when it does not parse.
struct RpcJson<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for RpcJson<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(e) => Err(problem(e.status(), "invalid_input", &e.body_text())),
        }
    }
}

async fn append(
    State(node): State<Arc<ClusterNode>>,
    headers: HeaderMap,
    RpcJson(req): RpcJson<AppendEntriesRequest<TypeConfig>>,
) -> Response {
    if let Err(r) = authorised(&node, &headers) {
        return *r;
    }
    Json(node.raft.append_entries(req).await).into_response()
}

async fn vote(
    State(node): State<Arc<ClusterNode>>,
    headers: HeaderMap,
    RpcJson(req): RpcJson<VoteRequest<u64>>,
) -> Response {
    if let Err(r) = authorised(&node, &headers) {
        return *r;
    }
    Json(node.raft.vote(req).await).into_response()
}

async fn state(State(node): State<Arc<ClusterNode>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&node, &headers) {
        return *r;
    }
    let initialized = node.raft.is_initialized().await.unwrap_or(false);
    Json(serde_json::json!({ "node": node.id, "initialized": initialized })).into_response()
}

async fn snapshot(
    State(node): State<Arc<ClusterNode>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(r) = authorised(&node, &headers) {
        return *r;
    }
    let bad = |why: String| (StatusCode::BAD_REQUEST, why).into_response();
    let target = match node.raft.begin_receiving_snapshot().await {
        Ok(f) => *f,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let mut file = match tokio::fs::File::create(&target.path).await {
        Ok(f) => f,
        Err(e) => return (StatusCode::INSUFFICIENT_STORAGE, e.to_string()).into_response(),
    };
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut header: Option<SnapshotHeader> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return bad(format!("snapshot body: {e}")),
        };
        let mut data: &[u8] = &chunk;
        if header.is_none() {
            pending.extend_from_slice(data);
            if pending.len() < 4 {
                continue;
            }
            let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
            if len > node.settings.max_rpc_bytes {
                return bad("snapshot header too large".into());
            }
            if pending.len() < 4 + len {
                continue;
            }
            header = match serde_json::from_slice(&pending[4..4 + len]) {
                Ok(h) => Some(h),
                Err(e) => return bad(format!("snapshot header: {e}")),
            };
            let rest = pending.split_off(4 + len);
            pending = rest;
            data = &pending;
        }
        if let Err(e) = file.write_all(data).await {
            return (StatusCode::INSUFFICIENT_STORAGE, e.to_string()).into_response();
        }
        pending.clear();
    }
    let Some(header) = header else {
        return bad("empty snapshot body".into());
    };
    if let Err(e) = file.sync_all().await {
        return (StatusCode::INSUFFICIENT_STORAGE, e.to_string()).into_response();
    }
    drop(file);
    let snap = Snapshot {
        meta: header.meta,
        snapshot: Box::new(SnapshotFile { path: target.path }),
    };
    Json(node.raft.install_full_snapshot(header.vote, snap).await).into_response()
}

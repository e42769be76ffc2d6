//! Health, readiness, metrics, the OpenAPI document, the audit log and the environment view.

use crate::auth::Caller;
use crate::extract::list_limit;
use crate::extract::ApiQuery;
use crate::json_views::age_seconds;
use crate::problem::ApiResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The OpenAPI 3.1 description of this API, kept beside the handlers and checked by a test
/// against the router so it cannot drift.
pub const OPENAPI: &str = include_str!("openapi.json");

pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    if let Some(node) = &state.cluster {
        let (code, body) = crate::cluster_http::readiness(node);
        return (code, Json(body)).into_response();
    }
    // Writes failing (a full disk): not ready until one succeeds again.
    if state
        .writer
        .stats()
        .last_write_failed
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "server": state.writer.server(), "detail": "the last write failed (disk full or read-only?); see the server's log" })),
        )
            .into_response();
    }
    let probe = state.read(|r| r.master()).await;
    match probe {
        Ok((master, epoch)) => {
            let here = state.writer.server().clone();
            let body = json!({ "ready": true, "server": here, "master": master, "epoch": epoch, "accepts_env_writes": master == here });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(p) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "detail": p.detail })),
        )
            .into_response(),
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "the gauges appended to /metrics, one family after another"
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    crate::replication::link_served::observe(&state);
    let mut body = state.metrics.render(state.writer.stats());
    // Queue and conflict gauges, read now (appended before the exposition's end marker).
    let today = (state.clock)().date_naive();
    let me = state.writer.server().to_string();
    if let Ok(((conflicts, own_conflicts), queue, short)) = state
        .read(move |r| {
            Ok((
                (r.open_conflicts()?, r.own_open_conflicts(&me)?),
                r.pending_summary()?,
                r.shortfall_count(today)?,
            ))
        })
        .await
    {
        let now = (state.clock)();
        let age = queue
            .oldest_created_at
            .as_deref()
            .map_or(0, |t| age_seconds(now, t));
        let (depth, failed) = (queue.depth, queue.failed);
        let mut extra = String::new();
        for (metric, help, v) in [
            (
                "innsync_conflicts_open",
                "Replicated changes quarantined as conflicts, not yet settled",
                conflicts as i64,
            ),
            (
                "innsync_conflicts_own_writes_open",
                "Changes this server wrote and acknowledged that a fence quarantined, not yet settled",
                own_conflicts as i64,
            ),
            (
                "innsync_pending_depth",
                "Pending operations waiting for their owner",
                depth as i64,
            ),
            (
                "innsync_pending_oldest_age_seconds",
                "Age of the oldest pending operation",
                age,
            ),
            (
                "innsync_pending_failed",
                "Pending operations that failed and wait for an operator",
                failed as i64,
            ),
            (
                "innsync_allotment_shortfalls",
                "Holder-nights of the coming year sold beyond what the holder holds",
                short as i64,
            ),
        ] {
            extra.push_str(&format!(
                "# HELP {metric} {help}.\n# TYPE {metric} gauge\n{metric} {v}\n"
            ));
        }
        for (metric, help, rows) in [
            (
                "innsync_pending_pool_depth",
                "Pending operations with work to do, per pool",
                queue
                    .pools
                    .iter()
                    .map(|(p, n)| (format!("pool=\"{p}\""), *n as i64))
                    .collect::<Vec<_>>(),
            ),
            (
                "innsync_pending_last_success_age_seconds",
                "Seconds since each target last completed an operation",
                queue
                    .last_success
                    .iter()
                    .map(|(t, at)| (format!("target=\"{t}\""), age_seconds(now, at)))
                    .collect(),
            ),
        ] {
            extra.push_str(&format!("# HELP {metric} {help}.\n# TYPE {metric} gauge\n"));
            for (labels, v) in rows {
                extra.push_str(&format!("{metric}{{{labels}}} {v}\n"));
            }
        }
        let end = body.rfind("# EOF").unwrap_or(body.len());
        body.insert_str(end, &extra);
    }
    // The cluster node's view (issue 7), appended before the exposition's end marker.
    if let Some(node) = &state.cluster {
        body = crate::cluster_http::metrics(node, body);
    }
    // PMS link counters, per link (appended before the exposition's end marker).
    let links = state.pms.statuses();
    if !links.is_empty() {
        let end = body.rfind("# EOF").unwrap_or(body.len());
        let mut extra = String::new();
        for (metric, help) in [
            (
                "innsync_pms_delivered",
                "PMS messages acknowledged by the system",
            ),
            (
                "innsync_pms_failed",
                "PMS messages that failed every resend",
            ),
            (
                "innsync_pms_received",
                "PMS messages received from the system",
            ),
            ("innsync_pms_resets", "General Resets completed"),
            (
                "innsync_pms_skipped",
                "PMS records that could never be sent and were skipped",
            ),
            (
                "innsync_pms_postings",
                "Postings received from the system (answered not posted)",
            ),
            ("innsync_pms_link_up", "Whether the PMS link is up"),
        ] {
            extra.push_str(&format!("# HELP {metric} {help}.\n# TYPE {metric} gauge\n"));
            for l in &links {
                let v = match metric {
                    "innsync_pms_delivered" => l.delivered,
                    "innsync_pms_failed" => l.failed,
                    "innsync_pms_received" => l.received,
                    "innsync_pms_resets" => l.resets,
                    "innsync_pms_skipped" => l.skipped,
                    "innsync_pms_postings" => l.postings,
                    _ => u64::from(l.state == "up" || l.state == "resetting"),
                };
                extra.push_str(&format!("{metric}{{link=\"{}\"}} {v}\n", l.name));
            }
        }
        body.insert_str(end, &extra);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    record: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = list_limit(&state, q.limit)?;
    let rows = state
        .read(move |r| r.audit(q.record.as_deref(), limit))
        .await?;
    Ok(Json(json!({ "audit": rows })))
}

pub(crate) async fn digest(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(crate::auth::Permission::Admin)?;
    let (digest, counts) = state
        .read(|r| Ok((r.digest()?, r.record_counts()?)))
        .await?;
    let counts: serde_json::Map<String, serde_json::Value> =
        counts.into_iter().map(|(k, v)| (k, v.into())).collect();
    Ok(Json(json!({ "digest": digest, "records": counts })))
}

pub(crate) async fn environment(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let view = crate::replication::environment_view::EnvironmentView::read(&state).await?;
    Ok(Json(view.to_json()))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HandoverRequest {
    to: String,
    reason: Option<String>,
}

pub(crate) async fn handover(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<HandoverRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(crate::auth::Permission::Admin)?;
    let to = innsync_core::ServerCode::parse(&req.to).map_err(crate::problem::Problem::invalid)?;
    let reason = req
        .reason
        .unwrap_or_else(|| format!("handover requested by {}", caller.username));
    let g = crate::replication::handover::run(&state, to, &reason, &caller.username).await?;
    Ok(Json(
        json!({ "master": { "server": g.master, "epoch": g.epoch }, "frozen_ms": g.frozen_ms }),
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferRequest {
    with: String,
}

pub(crate) async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<TransferRequest>,
) -> ApiResult<Json<crate::replication::puller::Transfer>> {
    caller.require(crate::auth::Permission::Admin)?;
    let peer =
        innsync_core::ServerCode::parse(&req.with).map_err(crate::problem::Problem::invalid)?;
    Ok(Json(
        crate::replication::puller::transfer_now(&state, &peer).await?,
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConflictsQuery {
    limit: Option<usize>,
    /// Only the changes written by this server (`?origin=WB`).
    origin: Option<String>,
    /// Only the changes written by this user: what an agent checks after a takeover.
    user: Option<String>,
    /// `open`, `applied` or `discarded`.
    status: Option<String>,
}

pub(crate) async fn conflicts(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<ConflictsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = list_limit(&state, q.limit)?;
    if let Some(st) = &q.status {
        if !["open", "applied", "discarded"].contains(&st.as_str()) {
            return Err(crate::problem::Problem::invalid(
                "status: one of open, applied, discarded",
            ));
        }
    }
    let filter = innsync_store::ConflictFilter {
        origin: q.origin,
        actor: q.user,
        status: q.status,
        id: None,
    };
    let rows = state.read(move |r| r.conflicts(limit, &filter)).await?;
    Ok(Json(json!({ "conflicts": rows })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TakeoverRequest {
    force: bool,
    reason: String,
}

pub(crate) async fn takeover(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::ApiJson(req): crate::extract::ApiJson<TakeoverRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    use crate::problem::Problem;
    caller.require(crate::auth::Permission::Admin)?;
    if !req.force {
        return Err(Problem::invalid(
            "force: a takeover without the master is forced by definition; send force: true (or hand over from the master instead)",
        ));
    }
    let ctx = state
        .env
        .clone()
        .ok_or_else(|| Problem::invalid("this server is not part of an environment"))?;
    if !ctx.env.may_be_master(&ctx.me.code) {
        return Err(Problem::invalid(format!(
            "{} is a {} server; only web and reservation servers may be master",
            ctx.me.code, ctx.me.role
        )));
    }
    let (master, cursors) = state.read(|r| Ok((r.master()?.0, r.cursors()?))).await?;
    let seq = cursors.get(master.as_str()).copied().unwrap_or(0);
    let cmd = innsync_core::Command::TakeOver {
        reason: req.reason,
        old_master_seq: seq,
    };
    let out = crate::write::submit(&state, cmd, &caller.username, None).await?;
    let token = match crate::write::written(out.outcome())? {
        innsync_core::Record::MasterToken(t) => t.clone(),
        _ => return Err(Problem::unavailable("unexpected record written")),
    };
    tracing::warn!(old = %master, epoch = token.epoch, fenced_after = seq, by = %caller.username, "forced master takeover");
    Ok(Json(json!({
        "master": { "server": token.server, "epoch": token.epoch },
        "fenced": { "server": master, "epoch": token.epoch - 1, "after_seq": seq },
    })))
}

pub(crate) async fn settle_conflict(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path((id, action)): axum::extract::Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(crate::auth::Permission::Admin)?;
    let id: i64 = id
        .parse()
        .map_err(|_| crate::problem::Problem::not_found(format!("conflict {id:?} not found")))?;
    let status =
        crate::replication::conflicts::settle(&state, id, &action, &caller.username).await?;
    Ok(Json(json!({ "id": id, "status": status })))
}

//! The one door to the store's writer: every command and every write to this server's own
//! tables that the server's handlers and jobs make goes through here (submit), and the
//! answers a write gives are shaped here (written records, queued answers). It sits below
//! `api/`, `ui/`, `replication/` and the jobs, and imports none of them.
//!
//! (Only the PMS driver, `pms/`, still calls the writer directly; see ARCHITECTURE.md.)

use crate::problem::Problem;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::Json;
use innsync_core::{Command, Outcome, Record};
use innsync_store::{
    Change, LocalWrite, NewPending, PendingOp, PendingUpdate, ReplicationReport, Skipped,
    StoreError, WriteOutcome,
};

/// Runs a command; answers once it is durable (or refused, with nothing written).
pub async fn submit(
    state: &AppState,
    cmd: Command,
    actor: &str,
    idempotency_key: Option<String>,
) -> Result<WriteOutcome, StoreError> {
    let out = state.writer.submit(cmd, actor, idempotency_key).await?;
    // A user changed here (disabled, new password, new roles): no cached token of theirs
    // keeps its old rights.
    if let Outcome::Written {
        record: Record::User(u),
        ..
    } = out.outcome()
    {
        state.auth.forget_user(&u.username);
    }
    Ok(out)
}

/// Writes to this server's own tables (tokens, PMS links, the pending queue), durably.
pub async fn local(state: &AppState, w: LocalWrite) -> Result<(), StoreError> {
    state.writer.local(w).await
}

/// Stores an API token's hash for `username` (tokens are local to this server).
pub async fn add_token(
    state: &AppState,
    hash: String,
    username: String,
    label: String,
) -> Result<(), StoreError> {
    state.writer.add_token(hash, username, label).await
}

/// Queues a pending operation durably and returns its id.
pub async fn enqueue_pending(state: &AppState, op: NewPending) -> Result<i64, StoreError> {
    state.writer.enqueue_pending(op).await
}

/// Runs a pending operation's command and records its next state in the same transaction.
pub async fn run_pending_command(
    state: &AppState,
    cmd: Command,
    actor: &str,
    done: PendingUpdate,
) -> Result<WriteOutcome, StoreError> {
    state.writer.run_pending_command(cmd, actor, done).await
}

/// Freezes (or thaws) env writes for a handover.
pub async fn freeze(state: &AppState, on: bool) -> Result<(), StoreError> {
    state.writer.freeze(on).await
}

/// Applies changes pulled from a peer (and how far a partial pull looked).
pub async fn replicate_partial(
    state: &AppState,
    changes: Vec<Change>,
    skipped: Option<Skipped>,
) -> Result<ReplicationReport, StoreError> {
    let users: Vec<String> = changes
        .iter()
        .filter_map(|c| match &c.record {
            Record::User(u) => Some(u.username.clone()),
            _ => None,
        })
        .collect();
    let report = state.writer.replicate_partial(changes, skipped).await?;
    // A user changed on another server: their cached tokens here are looked up again.
    for u in &users {
        state.auth.forget_user(u);
    }
    Ok(report)
}

/// Applies this server's own changes recovered from a peer after a restore.
pub async fn recover_own(state: &AppState, changes: Vec<Change>) -> Result<(), StoreError> {
    state.writer.recover_own(changes).await
}

/// Numbers every change in local commit order from now on (idempotent).
pub async fn track_commit_order(state: &AppState) -> Result<(), StoreError> {
    state.writer.track_commit_order().await
}

/// Ends the recovery after a restore: commands are taken again.
pub async fn finish_recovery(state: &AppState) -> Result<(), StoreError> {
    state.writer.finish_recovery().await
}

/// What became of a write.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per request; the booking record grew with reservations and agents (issue 17)"
)]
pub enum Submitted {
    /// Done here or at the owner: the answer.
    Done(WriteOutcome),
    /// Queued for the owner, who could not be reached now.
    Queued(PendingOp),
}

/// The record a write produced.
pub fn written(o: &Outcome) -> Result<&Record, Problem> {
    match o {
        Outcome::Written { record, .. } => Ok(record),
        Outcome::Expired { .. } | Outcome::Granted { .. } => Err(Problem::from(
            StoreError::Corrupt("unexpected outcome".into()),
        )),
    }
}

/// The answer to a write queued for its owner: 202 with the pending operation.
pub fn queued_response(op: PendingOp) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "pending": op,
            "detail": format!("{} is not reachable now; the change is queued as pending operation {} and delivered when it is", op.target, op.id),
        })),
    )
        .into_response()
}

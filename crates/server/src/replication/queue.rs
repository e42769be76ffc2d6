//! The worker of the pending-operation queue: one task per pool (pools run in parallel, FIFO
//! within each), each taking its due operations oldest first — never one whose record has an
//! older operation unfinished — and carrying each a step further:
//!
//! - `relay`: a forwarded write, relayed to its owner (idempotent by the operation's id);
//! - `transfer`: a record's ownership to another server: the target is asked whether it takes
//!   it (`offer`), the transfer is written here with the operation's next step in one
//!   transaction, then the operation waits until the target has applied it (`await`);
//! - `copy` / `delete_copy`: a copy sent to (or taken back from) a partner environment's API, or
//!   to a server of this environment, idempotent by the operation's id;
//! - `delete`: a rule's deletion of a record owned here.
//!
//! An answer that never came is retried with exponential backoff up to a limit, then `failed`
//! with the reason; a refusal is `failed` at once; an operator retries or cancels either.

use super::owner_relay::relay;
use super::peer_client::{answer, partner, peer_post, RelayError};
use crate::problem::Problem;
use crate::state::AppState;
use innsync_core::record::RecordKind;
use innsync_core::{Authority, Command, CopyRequest, RecordId, ServerCode};
use innsync_store::{LocalWrite, PendingOp, PendingUpdate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::watch;

/// Most operations a pool's worker takes per round.
pub const POOL_BATCH: usize = 64;
/// Most pools worked at once (a pool beyond it waits for a free worker slot).
pub const MAX_POOLS: usize = 32;

/// What a `transfer` operation moves.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferOp {
    /// The kind.
    pub kind: RecordKind,
    /// Its natural key.
    pub key: String,
    /// Its new owner.
    pub to: Authority,
    /// Why (the rule).
    pub reason: String,
}

/// What a `copy` operation sends: the copy, mapped when it was queued.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CopyOp {
    /// The copy.
    pub copy: CopyRequest,
}

/// What a `delete_copy` operation takes back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteCopyOp {
    /// The copy's kind there.
    pub kind: RecordKind,
    /// This environment's name.
    pub from_environment: Option<String>,
    /// The source record's id here.
    pub from_id: RecordId,
}

/// What a `delete` operation deletes here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteOp {
    /// The kind.
    pub kind: RecordKind,
    /// Its natural key.
    pub key: String,
    /// Why.
    pub reason: String,
}

/// A target's answer to an offer of ownership.
#[derive(Debug, Serialize, Deserialize)]
pub struct OfferRequest {
    /// The record as it stands at its owner.
    pub record: innsync_core::Record,
    /// Its new owner.
    pub to: Authority,
}

/// Asks a target to wait until it holds a record at least at `version`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AwaitRequest {
    /// The kind.
    pub kind: RecordKind,
    /// Its natural key.
    pub key: String,
    /// The version to wait for.
    pub version: u64,
    /// How long to wait, in milliseconds (capped by the target).
    pub wait_ms: u64,
}

/// How one step of an operation ended.
enum Step {
    /// Finished, with the answer to keep.
    Done(Option<String>),
    /// Moved on to the named phase: take the next step at once.
    Next(String),
    /// The other side said no: final until an operator retries.
    Refused(String),
    /// No answer: try again later.
    Unreachable(String),
}

/// Loads an operation.
pub async fn load(state: &AppState, id: i64) -> Result<PendingOp, Problem> {
    state
        .read(move |r| r.pending_op(id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("pending operation {id} not found")))
}

fn key_of(state: &AppState, id: i64) -> String {
    format!("pending-{}-{id}", state.writer.server())
}

fn update(id: i64, state: &str) -> PendingUpdate {
    PendingUpdate {
        id,
        state: state.to_string(),
        phase: None,
        next_at: None,
        error: None,
        result: None,
        attempted: true,
    }
}

/// Carries operation `id` as far as it goes now; returns it as it stands afterwards, and the
/// refusal when the other side refused (a forwarded write answers its user with it).
pub async fn attempt(state: &AppState, id: i64) -> Result<(PendingOp, Option<Problem>), Problem> {
    let op = load(state, id).await?;
    if op.state == "pending" && op.attempts == 0 {
        // Marked before the first attempt: after a crash an operator sees it was under way.
        let mut u = update(id, "in_progress");
        u.attempted = false;
        crate::write::local(state, LocalWrite::PendingState(u)).await?;
    }
    let (outcome, refusal) = advance(state, op).await?;
    if let Some(w) = outcome {
        crate::write::local(state, LocalWrite::PendingState(w)).await?;
    }
    Ok((load(state, id).await?, refusal))
}

/// Takes operation `op` as far as it goes now. Intermediate steps are written as they happen
/// (a step that writes here commits with its next phase); the final state is returned for the
/// caller to write — at once for one operation, or with the rest of a worker's round.
async fn advance(
    state: &AppState,
    mut op: PendingOp,
) -> Result<(Option<PendingUpdate>, Option<Problem>), Problem> {
    let id = op.id;
    let mut refusal = None;
    // A multi-step operation takes its steps one after another while they succeed.
    for round in 0..4 {
        if round > 0 {
            op = load(state, id).await?;
        }
        if !op.is_open() {
            return Ok((None, refusal));
        }
        let step = match op.op.as_str() {
            "relay" => relay_step(state, &op, &mut refusal).await,
            "transfer" => transfer_step(state, &op).await,
            "copy" => copy_step(state, &op).await,
            "delete_copy" => delete_copy_step(state, &op).await,
            "delete" => delete_step(state, &op).await?,
            other => Step::Refused(format!("unknown operation {other:?}")),
        };
        let w = match step {
            Step::Next(phase) => {
                let mut u = update(id, "in_progress");
                u.phase = Some(phase);
                u.attempted = false;
                crate::write::local(state, LocalWrite::PendingState(u)).await?;
                continue;
            }
            Step::Done(result) => {
                if let (Some(ctx), Ok(target)) = (&state.env, ServerCode::parse(&op.target)) {
                    let now = (state.clock)();
                    ctx.peer(&target, |p| p.last_forward = Some(now));
                }
                PendingUpdate {
                    result,
                    ..update(id, "done")
                }
            }
            Step::Refused(why) => {
                if refusal.is_none() {
                    refusal = Some(Problem::new(
                        axum::http::StatusCode::CONFLICT,
                        "invalid_input",
                        why.clone(),
                    ));
                }
                PendingUpdate {
                    error: Some(why),
                    ..update(id, "failed")
                }
            }
            Step::Unreachable(why) => {
                let s = &state.settings;
                let attempts = op.attempts + 1;
                if attempts >= s.pending_max_attempts {
                    PendingUpdate {
                        error: Some(format!("gave up after {attempts} attempts: {why}")),
                        ..update(id, "failed")
                    }
                } else {
                    let backoff = s
                        .pending_retry_min
                        .saturating_mul(1 << attempts.min(16))
                        .min(s.pending_retry_max);
                    let next =
                        (state.clock)() + chrono::TimeDelta::from_std(backoff).unwrap_or_default();
                    PendingUpdate {
                        error: Some(why),
                        next_at: Some(innsync_store::time_text(next)),
                        ..update(id, "retry")
                    }
                }
            }
        };
        return Ok((Some(w), refusal));
    }
    Ok((None, refusal))
}

async fn relay_step(state: &AppState, op: &PendingOp, refusal: &mut Option<Problem>) -> Step {
    let Ok(target) = ServerCode::parse(&op.target) else {
        return Step::Refused(format!("{} is not a server", op.target));
    };
    let cmd: Command = match serde_json::from_str(&op.command) {
        Ok(c) => c,
        Err(e) => return Step::Refused(format!("unreadable command: {e}")),
    };
    match relay(state, &target, &cmd, &op.actor, &key_of(state, op.id)).await {
        Ok(out) => Step::Done(serde_json::to_string(&out).ok()),
        Err(RelayError::Refused(p)) => {
            let why = p.detail.clone();
            *refusal = Some(p);
            Step::Refused(why)
        }
        Err(RelayError::Unreachable(why)) => Step::Unreachable(why),
    }
}

fn sort(e: RelayError) -> Step {
    match e {
        RelayError::Refused(p) => Step::Refused(p.detail),
        RelayError::Unreachable(why) => Step::Unreachable(why),
    }
}

/// offer → write → await: the target consents before the record leaves, and the operation is
/// done only once the target holds it.
async fn transfer_step(state: &AppState, op: &PendingOp) -> Step {
    let t: TransferOp = match serde_json::from_str(&op.command) {
        Ok(t) => t,
        Err(e) => return Step::Refused(format!("unreadable transfer: {e}")),
    };
    let Ok(target) = ServerCode::parse(&op.target) else {
        return Step::Refused(format!("{} is not a server", op.target));
    };
    let kind = t.kind.as_str();
    let key = t.key.clone();
    let current = match state.read(move |r| r.record(kind, &key)).await {
        Ok(Some(r)) => r,
        Ok(None) => return Step::Refused(format!("{kind} {} is not here", t.key)),
        Err(p) => return Step::Unreachable(p.detail),
    };
    match op.phase.as_deref() {
        None | Some("offer") => {
            if current.meta().owner == t.to {
                // Written already (an operator retried after the wait timed out).
                return Step::Next("await".into());
            }
            let offer = OfferRequest {
                record: current,
                to: t.to.clone(),
            };
            match peer_post(
                state,
                &target,
                "/api/v1/replication/offer",
                &offer,
                state.settings.peer_request_timeout,
            )
            .await
            {
                Ok(_) => Step::Next("write".into()),
                Err(e) => sort(e),
            }
        }
        Some("write") => {
            if current.meta().owner == t.to {
                return Step::Next("await".into());
            }
            let cmd = Command::TransferOwnership {
                kind: t.kind,
                key: t.key.clone(),
                to: t.to.clone(),
                reason: t.reason.clone(),
            };
            let next = PendingUpdate {
                phase: Some("await".into()),
                attempted: false,
                ..update(op.id, "in_progress")
            };
            match crate::write::run_pending_command(state, cmd, &op.actor, next).await {
                Ok(_) => Step::Next("await".into()),
                // Refused: the writer has already marked the operation failed with the reason.
                Err(innsync_store::StoreError::Refused(e)) => Step::Refused(e.to_string()),
                Err(e) => Step::Unreachable(e.to_string()),
            }
        }
        _ => {
            let req = AwaitRequest {
                kind: t.kind,
                key: t.key.clone(),
                version: current.meta().version,
                wait_ms: state.settings.peer_request_timeout.as_millis() as u64 / 2,
            };
            match peer_post(
                state,
                &target,
                "/api/v1/replication/await",
                &req,
                state.settings.peer_request_timeout,
            )
            .await
            {
                Ok(_) => Step::Done(Some(
                    serde_json::json!({"owner": t.to, "version": current.meta().version})
                        .to_string(),
                )),
                Err(e) => sort(e),
            }
        }
    }
}

/// Sends a copy: to a partner environment's `POST /api/v1/copies` with the token it gave us,
/// or to a server of this environment as a relayed `ImportCopy`.
async fn copy_step(state: &AppState, op: &PendingOp) -> Step {
    let c: CopyOp = match serde_json::from_str(&op.command) {
        Ok(c) => c,
        Err(e) => return Step::Refused(format!("unreadable copy: {e}")),
    };
    let key = key_of(state, op.id);
    match op.target.strip_prefix("partner:") {
        Some(name) => match partner_post(state, name, "/api/v1/copies", &c.copy, &key).await {
            Ok(bytes) => Step::Done(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) => sort(e),
        },
        None => {
            let Ok(target) = ServerCode::parse(&op.target) else {
                return Step::Refused(format!("{} is not a server", op.target));
            };
            let cmd = Command::ImportCopy {
                copy: Box::new(c.copy),
            };
            match relay(state, &target, &cmd, &op.actor, &key).await {
                Ok(out) => Step::Done(serde_json::to_string(&out).ok()),
                Err(e) => sort(e),
            }
        }
    }
}

async fn delete_copy_step(state: &AppState, op: &PendingOp) -> Step {
    let d: DeleteCopyOp = match serde_json::from_str(&op.command) {
        Ok(d) => d,
        Err(e) => return Step::Refused(format!("unreadable deletion: {e}")),
    };
    let Some(name) = op.target.strip_prefix("partner:") else {
        return Step::Refused(format!("{}: copies are deleted at partners", op.target));
    };
    match partner_post(
        state,
        name,
        "/api/v1/copies/delete",
        &d,
        &key_of(state, op.id),
    )
    .await
    {
        Ok(_) => Step::Done(None),
        // Gone already: what the operation wanted.
        Err(RelayError::Refused(p)) if p.code == "not_found" => Step::Done(None),
        Err(e) => sort(e),
    }
}

async fn delete_step(state: &AppState, op: &PendingOp) -> Result<Step, Problem> {
    let d: DeleteOp = match serde_json::from_str(&op.command) {
        Ok(d) => d,
        Err(e) => return Ok(Step::Refused(format!("unreadable deletion: {e}"))),
    };
    let cmd = Command::DeleteRecord {
        kind: d.kind,
        key: d.key,
        reason: d.reason,
    };
    Ok(
        match crate::write::run_pending_command(state, cmd, &op.actor, update(op.id, "done")).await
        {
            Ok(_) => Step::Done(None),
            Err(innsync_store::StoreError::Refused(e)) => Step::Refused(e.to_string()),
            Err(e) => Step::Unreachable(e.to_string()),
        },
    )
}

/// POSTs to a partner environment's API as the user its token names.
async fn partner_post<B: Serialize>(
    state: &AppState,
    name: &str,
    path: &str,
    body: &B,
    idempotency_key: &str,
) -> Result<axum::body::Bytes, RelayError> {
    let Some((url, token)) = partner(state, name) else {
        return Err(RelayError::Refused(Problem::invalid(format!(
            "partner {name} is not in the environment file"
        ))));
    };
    // TLS as on links between servers: the environment's CA (a partner's certificate must
    // chain to it) and this server's certificate.
    let client =
        crate::tls::peer_client_builder(state.peer_tls.as_deref(), state.settings.peer_h2c)
            .connect_timeout(state.settings.peer_connect_timeout)
            .timeout(state.settings.peer_request_timeout)
            .build()
            .map_err(|e| RelayError::Unreachable(e.to_string()))?;
    let resp = client
        .post(format!("{}{path}", url.trim_end_matches('/')))
        .bearer_auth(token)
        .header("Idempotency-Key", idempotency_key)
        .json(body)
        .send()
        .await
        .map_err(|e| RelayError::Unreachable(format!("partner {name}: {e}")))?;
    answer(&format!("partner {name}"), resp).await
}

/// Works every pool's due operations until stopped: a task per pool, each in id order, a
/// target that did not answer holding back the rest of its operations in that pool this round.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings.pending_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {
                for (_, t) in running {
                    t.abort();
                }
                return;
            }
        }
        running.retain(|_, t| !t.is_finished());
        let Ok(pools) = state.read(|r| r.open_pools()).await else {
            continue;
        };
        for pool in pools {
            if running.contains_key(&pool) || running.len() >= MAX_POOLS {
                continue;
            }
            let st = state.clone();
            let name = pool.clone();
            running.insert(
                pool,
                tokio::spawn(async move { work_pool(&st, &name).await }),
            );
        }
    }
}

/// One round of a pool: its due operations in order. They are marked `in_progress` together
/// before the first is tried, and their outcomes written together at the end: a crash in between
/// runs them again, which their idempotency keys make harmless.
async fn work_pool(state: &AppState, pool: &str) {
    let at = (state.clock)();
    let now = innsync_store::time_text(at);
    let latest = innsync_store::time_text(
        at + chrono::TimeDelta::from_std(state.settings.pending_retry_max).unwrap_or_default()
            + chrono::TimeDelta::seconds(1),
    );
    let p = pool.to_string();
    let Ok(due) = state
        .read(move |r| r.due_pending(&p, &now, &latest, POOL_BATCH))
        .await
    else {
        return;
    };
    let starting: Vec<PendingUpdate> = due
        .iter()
        .filter(|o| o.state == "pending" && o.attempts == 0)
        .map(|o| PendingUpdate {
            attempted: false,
            ..update(o.id, "in_progress")
        })
        .collect();
    if !starting.is_empty()
        && crate::write::local(state, LocalWrite::PendingStates(starting))
            .await
            .is_err()
    {
        return;
    }
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut outcomes = vec![];
    for op in due {
        if blocked.contains(&op.target) {
            continue;
        }
        let target = op.target.clone();
        match advance(state, op).await {
            Ok((Some(w), _)) => {
                if w.state != "done" && w.state != "failed" {
                    blocked.insert(target);
                }
                outcomes.push(w);
            }
            Ok((None, _)) => {}
            Err(_) => {
                blocked.insert(target);
            }
        }
    }
    if !outcomes.is_empty() {
        if let Err(e) = crate::write::local(state, LocalWrite::PendingStates(outcomes)).await {
            tracing::warn!(pool, error = %e, "could not record a round of the queue; it runs again");
        }
    }
}

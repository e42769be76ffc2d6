//! A write the user allows to be relayed (`?forward=true`): run here through [`crate::write`];
//! when it is refused because it belongs elsewhere, queue it durably as a pending operation
//! for its owner and relay it at once when the owner is reachable ([`super::owner_relay`]).

use super::owner_relay::OWNER_RELAY_POOL;
use crate::auth::Caller;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use innsync_core::{Authority, Command, DomainError};
use innsync_store::{LocalWrite, NewPending, PendingUpdate, StoreError, WriteOutcome};

/// Runs `cmd` here; if it belongs elsewhere and `forward` is set, queues it for its owner and
/// relays it at once when the owner is reachable.
pub async fn submit(
    state: &AppState,
    cmd: Command,
    caller: &Caller,
    key: Option<String>,
    forward: bool,
) -> Result<Submitted, Problem> {
    let err = match crate::write::submit(state, cmd.clone(), &caller.username, key).await {
        Ok(out) => return Ok(Submitted::Done(out)),
        Err(e) => e,
    };
    let target = match (&err, forward) {
        (StoreError::Refused(DomainError::NotMaster { master: Some(m) }), true) => m.clone(),
        (
            StoreError::Refused(DomainError::NotOwner {
                owner: Authority::Server(s),
            }),
            true,
        ) => s.clone(),
        _ => return Err(err.into()),
    };
    let summary = format!("{} for {} at {target}", cmd.name(), caller.username);
    let command = serde_json::to_string(&cmd).map_err(|e| Problem::invalid(e.to_string()))?;
    let id = crate::write::enqueue_pending(
        state,
        NewPending {
            target: target.to_string(),
            op: "relay".into(),
            command,
            actor: caller.username.clone(),
            summary,
            pool: OWNER_RELAY_POOL.into(),
            record_id: None,
            rule: None,
            not_before: None,
            coalesce: false,
        },
    )
    .await?;
    let (op, refusal) = super::queue::attempt(state, id).await?;
    if let Some(p) = refusal {
        // The owner said no and the user gets its answer now: nothing is left for an operator
        // to do, so the operation is closed as canceled (its reason kept).
        crate::write::local(
            state,
            LocalWrite::PendingState(PendingUpdate {
                id,
                state: "canceled".into(),
                phase: None,
                next_at: None,
                error: None,
                result: None,
                attempted: false,
            }),
        )
        .await?;
        return Err(p);
    }
    match op.state.as_str() {
        "done" => {
            let out: WriteOutcome = serde_json::from_str(op.result.as_deref().unwrap_or("null"))
                .map_err(|e| Problem::unavailable(e.to_string()))?;
            Ok(Submitted::Done(out))
        }
        _ => Ok(Submitted::Queued(op)),
    }
}

//! Settling a conflict: an operator applies the quarantined state (a new version, checked like
//! any write, on the record's authority) or discards it. Used by the API and the UI alike.

use crate::problem::Problem;
use crate::state::AppState;
use axum::http::StatusCode;

/// Applies (`apply`) or discards (`discard`) open conflict `id`; returns its new status.
pub async fn settle(
    state: &AppState,
    id: i64,
    action: &str,
    actor: &str,
) -> Result<&'static str, Problem> {
    let conflict = state
        .read(move |r| {
            let one = innsync_store::ConflictFilter {
                id: Some(id),
                ..Default::default()
            };
            Ok(r.conflicts(1, &one)?.into_iter().next())
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("conflict {id} not found")))?;
    if conflict["status"] != "open" {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "invalid_transition",
            format!(
                "conflict {id} is {}; only open conflicts are settled",
                conflict["status"]
            ),
        ));
    }
    let status = match action {
        "discard" => "discarded",
        "apply" => {
            let record: innsync_core::Record = serde_json::from_value(conflict["theirs"].clone())
                .map_err(|e| {
                Problem::unavailable(format!("conflict {id} is unreadable: {e}"))
            })?;
            let cmd = innsync_core::Command::RestoreRecord {
                record: Box::new(record),
            };
            crate::write::submit(state, cmd, actor, None).await?;
            "applied"
        }
        other => {
            return Err(Problem::not_found(format!(
                "no action {other:?}; apply or discard"
            )))
        }
    };
    crate::write::local(
        state,
        innsync_store::LocalWrite::ConflictStatus {
            id,
            status: status.into(),
        },
    )
    .await?;
    Ok(status)
}

//! POST `/ui/bookings/{reference}/act`: a booking's state changes from its page (confirm,
//! cancel, check in, assign or move a room, check out, no-show), done here or sent to the owner.
//! A refusal shows the booking's page again (`booking_page.rs`), so this lives apart from the
//! buttons (`booking_actions.rs`) that the page renders.

use super::booking_loaded::load;
use super::error::{UiError, UiResult};
use super::format::query;
use super::layout;
use super::session::Posted;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::{Command, RecordId};
use serde::Deserialize;

/// The fields of an action form.
#[derive(Deserialize)]
pub struct ActionForm {
    room: Option<String>,
    reason: Option<String>,
    version: Option<u64>,
    /// Set by the "send to …" buttons: forward the command to the booking's owner.
    #[serde(default)]
    forward: String,
}

/// POST `/ui/bookings/{reference}/{action}`: runs the command; on success back to the page
/// with a confirmation, on refusal the page again with the reason.
pub async fn act(
    State(state): State<AppState>,
    Path((reference, action)): Path<(String, String)>,
    Posted { user, form }: Posted<ActionForm>,
) -> UiResult<Response> {
    let id = RecordId::parse(&reference)
        .map_err(|_| UiError::not_found(format!("booking {reference} does not exist")))?;
    let forward = form.forward == "1";
    // A forwarded command reaches the owner later, when the version may have moved on.
    let if_match = if forward { None } else { form.version };
    let room = form.room.filter(|r| !r.trim().is_empty());
    let need_room = |room: Option<String>| room.ok_or_else(|| Problem::invalid("choose a room"));
    let built = match action.as_str() {
        "confirm" => Ok((Command::ConfirmBooking { id, if_match }, Permission::Book)),
        "cancel" => Ok((
            Command::CancelBooking {
                id,
                reason: form.reason.filter(|r| !r.trim().is_empty()),
                if_match,
            },
            Permission::Book,
        )),
        "no-show" => Ok((Command::NoShow { id, if_match }, Permission::Book)),
        "check-in" => Ok((
            Command::CheckIn { id, room, if_match },
            Permission::FrontDesk,
        )),
        "check-out" => Ok((Command::CheckOut { id, if_match }, Permission::FrontDesk)),
        "assign-room" => need_room(room).map(|room| {
            (
                Command::AssignRoom { id, room, if_match },
                Permission::FrontDesk,
            )
        }),
        "move-room" => need_room(room).map(|room| {
            (
                Command::MoveRoom { id, room, if_match },
                Permission::FrontDesk,
            )
        }),
        other => {
            return Err(UiError::not_found(format!(
                "there is no booking action {other:?}"
            )))
        }
    };
    let result = match built {
        Ok((cmd, perm)) => {
            user.require(perm)?;
            crate::replication::relay_refused::submit(&state, cmd, &user.caller(), None, forward)
                .await
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(done) => {
            state.pms.wake.notify_waiters();
            let what = match done {
                Submitted::Done(_) => action.as_str(),
                Submitted::Queued(_) => "forwarded",
            };
            Ok(Redirect::to(&format!(
                "/ui/bookings/{reference}?{}",
                query(&[("done", what)])
            ))
            .into_response())
        }
        Err(p) => {
            let l = load(&state, &reference).await?;
            let status = if p.status.is_success() {
                StatusCode::CONFLICT
            } else {
                p.status
            };
            Ok((
                status,
                super::booking_page::detail_page(
                    &state,
                    &user,
                    &l,
                    Some(layout::problem_box(&Problem {
                        detail: l.names.plain(&p.detail),
                        ..p
                    })),
                ),
            )
                .into_response())
        }
    }
}

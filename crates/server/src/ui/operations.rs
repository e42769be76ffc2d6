//! The dashboard's operator work: pending operations (retry, cancel), conflicts (apply,
//! discard, with both versions shown) and "transfer now" with a peer. The actions call the same
//! functions as the JSON API (`replication::pending_ops::steer_op`, `replication::conflicts::settle`,
//! `replication::puller::transfer_now`).

use super::error::{UiError, UiResult};
use super::format::query;
use super::layout;
use super::session::{NoFields, Posted, UiUser};
use crate::auth::Permission;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use innsync_store::PendingOp;
use maud::{html, Markup};
use serde::Deserialize;

/// Most pending operations and conflicts the dashboard lists.
pub const SHOWN: usize = 50;

/// What is waiting for an operator.
pub struct Queues {
    /// Pending operations, newest first.
    pub pending: Vec<PendingOp>,
    /// Conflicts, newest first.
    pub conflicts: Vec<serde_json::Value>,
}

impl Queues {
    /// Reads both lists.
    pub async fn read(state: &AppState) -> UiResult<Self> {
        let (pending, conflicts) = state
            .read(|r| {
                Ok((
                    r.pending(None, None, SHOWN)?,
                    r.conflicts(SHOWN, &Default::default())?,
                ))
            })
            .await?;
        Ok(Self { pending, conflicts })
    }
}

/// The pending operations section.
pub fn pending_section(user: &UiUser, ops: &[PendingOp]) -> Markup {
    html! {
        section.card data-testid="pending-ops" {
            h2 { "Pending operations" }
            p.muted { "Work for another server or a partner environment — changes forwarded to a record's owner, and what the distribution rules move and copy — carried out when the other side is reachable; each pool in order." }
            @if ops.is_empty() {
                p.muted { "Nothing queued yet." }
            } @else {
                div.scroll { table.list {
                    thead { tr { th { "#" } th { "To" } th { "Pool" } th { "What" } th { "State" } th { "Attempts" } th { "Last error" } th {} } }
                    tbody { @for op in ops {
                        tr data-pending=(op.id) {
                            td { (op.id) }
                            td { strong { (op.target) } }
                            td { (op.pool) }
                            td { (op.summary) @if let Some(r) = &op.rule { br; span.muted { "rule " (r) } } }
                            td { span class={ "badge " (match op.state.as_str() { "done" => "ok", "failed" => "down", "canceled" => "idle", _ => "st-provisional" }) } { (op.state) } }
                            td { (op.attempts) }
                            td { @if let Some(e) = &op.last_error { span.muted { (e) } } }
                            td { @if user.may(Permission::Admin) && matches!(op.state.as_str(), "pending" | "retry" | "failed" | "in_progress") {
                                div.row {
                                    form method="post" action={ "/ui/pending/" (op.id) "/retry" } { (layout::csrf(user)) button.secondary type="submit" data-action="retry" { "Retry now" } }
                                    form method="post" action={ "/ui/pending/" (op.id) "/cancel" } data-confirm="Cancel this operation? The change will not reach its owner." {
                                        (layout::csrf(user)) button.danger type="submit" data-action="cancel" { "Cancel" } }
                                }
                            } }
                        }
                    } }
                } }
            }
        }
    }
}

fn summary(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "— (does not exist here)".into(),
        v => {
            let kind = v["kind"].as_str().unwrap_or("record");
            let key = ["number", "code", "username", "status", "name"]
                .iter()
                .filter_map(|k| v[*k].as_str().map(|s| format!("{k} {s}")))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{kind} v{} {key}", v["version"])
        }
    }
}

/// The conflicts section: both versions side by side.
pub fn conflicts_section(user: &UiUser, conflicts: &[serde_json::Value]) -> Markup {
    html! {
        section.card data-testid="conflicts-list" {
            h2 { "Conflicts" }
            p.muted { "Changes that could not be applied here (a fenced old master's writes, or a change that would break a rule). None is applied silently: apply or discard each." }
            @if conflicts.is_empty() {
                p.muted { "No conflicts." }
            } @else {
                div.scroll { table.list {
                    thead { tr { th { "#" } th { "Written by" } th { "Record" } th { "Theirs" } th { "Ours (now here)" } th { "Why" } th { "Status" } th {} } }
                    tbody { @for c in conflicts {
                        @let id = c["id"].as_i64().unwrap_or(0);
                        tr data-conflict=(id) {
                            td { (id) }
                            td {
                                (c["written_by"]["user"].as_str().unwrap_or("?")) " on "
                                (c["origin"].as_str().unwrap_or("?"))
                                @if let Some(at) = c["written_by"]["at"].as_str() { br; span.muted { (at) } }
                            }
                            td {
                                @if let Some(link) = c["link"].as_str() {
                                    a href=(link) { (c["record"].as_str().unwrap_or("?")) }
                                } @else {
                                    (c["record"].as_str().unwrap_or("?"))
                                }
                                br; span.muted.mono { (c["record_id"].as_str().unwrap_or("?")) " · change " (c["seq"]) }
                            }
                            td { (summary(&c["theirs"])) }
                            td { @if c["ours"].is_null() { span.muted { "nothing: the record does not exist here" } } @else { (summary(&c["ours"])) } }
                            td { span.muted { (c["reason"].as_str().unwrap_or("")) } }
                            td { (c["status"].as_str().unwrap_or("")) }
                            td { @if user.may(Permission::Admin) && c["status"] == "open" {
                                div.row {
                                    form method="post" action={ "/ui/conflicts/" (id) "/apply" } data-confirm="Apply their version as a new change (checked like any write)?" {
                                        (layout::csrf(user)) button.secondary type="submit" data-action="apply" { "Apply" } }
                                    form method="post" action={ "/ui/conflicts/" (id) "/discard" } data-confirm="Discard their version for good?" {
                                        (layout::csrf(user)) button.danger type="submit" data-action="discard" { "Discard" } }
                                }
                            } }
                        }
                    } }
                } }
            }
        }
    }
}

/// The "Transfer now" button of a peer's row.
pub fn transfer_button(user: &UiUser, peer: &str) -> Markup {
    html! {
        @if user.may(Permission::Admin) {
            form method="post" action="/ui/environment/transfer" {
                (layout::csrf(user))
                input type="hidden" name="with" value=(peer);
                button.secondary type="submit" data-action="transfer" { "Transfer now" }
            }
        }
    }
}

fn back(notice: &str) -> Response {
    Redirect::to(&format!("/ui/environment?{}", query(&[("done", notice)]))).into_response()
}

/// POST `/ui/pending/{id}/{action}`.
pub async fn steer(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    posted: Posted<NoFields>,
) -> UiResult<Response> {
    posted.user.require(Permission::Admin)?;
    let op = crate::replication::pending_ops::steer_op(&state, id, &action)
        .await
        .map_err(UiError::from)?;
    Ok(back(&format!(
        "Pending operation {id} is now {}.",
        op.state
    )))
}

/// POST `/ui/conflicts/{id}/{action}`.
pub async fn settle(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    posted: Posted<NoFields>,
) -> UiResult<Response> {
    posted.user.require(Permission::Admin)?;
    let status = crate::replication::conflicts::settle(&state, id, &action, &posted.user.username)
        .await
        .map_err(UiError::from)?;
    Ok(back(&format!("Conflict {id} {status}.")))
}

/// The fields of the transfer form.
#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    with: String,
}

/// POST `/ui/environment/transfer`.
pub async fn transfer(
    State(state): State<AppState>,
    Posted { user, form }: Posted<TransferForm>,
) -> UiResult<Response> {
    user.require(Permission::Admin)?;
    let peer = innsync_core::ServerCode::parse(&form.with)
        .map_err(|e| UiError::from(crate::problem::Problem::invalid(e)))?;
    let t = crate::replication::puller::transfer_now(&state, &peer)
        .await
        .map_err(UiError::from)?;
    Ok(back(&format!(
        "Transfer with {}: {} changes received, {} already here; {} of ours it has not pulled yet.",
        t.with, t.received, t.duplicates, t.peer_behind
    )))
}

//! Rooms of a property for the front desk and administrators (API-only before): each room
//! with its type, housekeeping state and out-of-order periods, a form to take a room out of
//! order and a button to put a period back in service. Both run the API's commands with the
//! API's permission (front desk); where the property's records are written elsewhere, the
//! change is sent to that server (a forwarded pending operation), as the API's `?forward=true`.

use super::error::{UiError, UiResult};
use super::format::query;
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::{Command, Property, Room, RoomType};
use maud::{html, Markup};
use serde::Deserialize;

/// Longest reason accepted for taking a room out of order.
pub const MAX_REASON_LEN: usize = 500;

/// Query of the page.
#[derive(Deserialize, Default)]
pub struct RoomsQuery {
    #[serde(default)]
    property: String,
    #[serde(default)]
    done: String,
}

/// GET `/ui/rooms`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<RoomsQuery>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let names = Names::read(&state).await?;
    let wanted = q.property.clone();
    type Loaded = (Vec<Property>, Option<(Property, Vec<RoomType>, Vec<Room>)>);
    let (properties, found): Loaded = state
        .read(move |r| {
            let properties = r.properties()?;
            let p = if wanted.is_empty() {
                properties.first().cloned()
            } else {
                properties.iter().find(|p| p.code == wanted).cloned()
            };
            let found = match p {
                Some(p) => Some((p.clone(), r.room_types(&p.code)?, r.rooms(&p.code)?)),
                None => None,
            };
            Ok((properties, found))
        })
        .await?;
    let Some((p, types, rooms)) = found else {
        if properties.is_empty() {
            let body = html! { h1 { "Rooms" } div.notice.info { "There are no properties yet." } };
            return Ok(layout::page(&user, &server, Nav::Rooms, "Rooms", body));
        }
        return Err(UiError::not_found("that property does not exist"));
    };
    let may = user.may(Permission::FrontDesk);
    let elsewhere = !names.writable_here(&p.meta.owner);
    let type_name = |code: &str| {
        types
            .iter()
            .find(|t| t.code == code)
            .map_or_else(|| code.to_string(), |t| t.name.clone())
    };
    let body = html! {
        div.pagehead {
            h1 { "Rooms at " (p.name) }
            span.spacer {}
            @if properties.len() > 1 {
                form.row method="get" action="/ui/rooms" {
                    label { "Property" select name="property" {
                        @for x in &properties { option value=(x.code) selected[x.code == p.code] { (x.name) } }
                    } }
                    button.secondary type="submit" { "Show" }
                }
            }
        }
        @if !q.done.is_empty() { (layout::done_box(&q.done)) }
        @if elsewhere {
            p.notice.info { "Rooms of " (p.name) " are managed by " strong { (names.authority(&p.meta.owner)) } ". Changes made here are sent there." }
        }
        @if may {
            section.card data-testid="out-of-order-form" {
                h2 { "Take a room out of order" }
                form.row method="post" action="/ui/rooms/out-of-order" {
                    (layout::csrf(&user))
                    input type="hidden" name="property" value=(p.code);
                    label { "Room" select name="number" required {
                        option value="" disabled selected { "Choose a room…" }
                        @for r in &rooms { option value=(r.number) { (r.number) " · " (type_name(&r.room_type)) } }
                    } }
                    (layout::date_field(&user, "First night", "from", "", true))
                    (layout::date_field(&user, "Back in service on", "to", "", true))
                    label { "Reason" input name="reason" required maxlength=(MAX_REASON_LEN) placeholder="e.g. leaking tap"; }
                    button.danger type="submit" data-action="out-of-order" { @if elsewhere { "Send to " (names.authority(&p.meta.owner)) } @else { "Take out of order" } }
                }
            }
        }
        section.card {
            h2 { "Rooms" }
            table.list data-testid="rooms-admin" {
                thead { tr { th scope="col" { "Room" } th scope="col" { "Type" } th scope="col" { "Housekeeping" } th scope="col" { "Out of order" } } }
                tbody { @for r in &rooms {
                    tr data-room=(r.number) {
                        th scope="row" { (r.number) }
                        td { (type_name(&r.room_type)) " " span.muted.code { (r.room_type) } }
                        td { (r.housekeeping.clone().unwrap_or_else(|| "—".into())) }
                        td {
                            @if r.out_of_order.is_empty() { span.muted { "in service" } }
                            @for o in &r.out_of_order {
                                div.row {
                                    span { (user.dates.show(o.from)) " to " (user.dates.show(o.to)) " · " (o.reason) }
                                    @if may {
                                        form method="post" action="/ui/rooms/back-in-service" {
                                            (layout::csrf(&user))
                                            input type="hidden" name="property" value=(p.code);
                                            input type="hidden" name="number" value=(r.number);
                                            input type="hidden" name="from" value=(o.from);
                                            input type="hidden" name="to" value=(o.to);
                                            input type="hidden" name="reason" value="";
                                            button.secondary type="submit" data-action="back-in-service" { "Back in service" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    };
    Ok(layout::page(&user, &server, Nav::Rooms, "Rooms", body))
}

/// The fields of both forms.
#[derive(Deserialize)]
pub struct RoomForm {
    property: String,
    number: String,
    from: String,
    to: String,
    #[serde(default)]
    reason: String,
}

async fn run(state: &AppState, user: &UiUser, cmd: Command, property: &str) -> UiResult<Response> {
    user.require(Permission::FrontDesk)?;
    let names = Names::read(state).await?;
    let done = match crate::replication::relay_refused::submit(
        state,
        cmd,
        &user.caller(),
        None,
        true,
    )
    .await
    {
        Ok(Submitted::Done(_)) => "Done.".to_string(),
        Ok(Submitted::Queued(op)) => format!(
            "{} is not reachable now; the change waits as pending operation {} and is sent when it is.",
            names.server(&op.target),
            op.id
        ),
        Err(p) => {
            return Err(UiError::from(Problem {
                detail: names.plain(&p.detail),
                ..p
            }))
        }
    };
    Ok(Redirect::to(&format!(
        "/ui/rooms?{}",
        query(&[("property", property), ("done", &done)])
    ))
    .into_response())
}

fn dates(user: &UiUser, f: &RoomForm) -> Result<(chrono::NaiveDate, chrono::NaiveDate), UiError> {
    let d = |name: &str, v: &str| {
        user.dates
            .opt(name, Some(v))
            .and_then(|d| d.ok_or_else(|| format!("{name}: choose a date")))
            .map_err(|e| UiError::from(Problem::invalid(e)))
    };
    Ok((d("from", &f.from)?, d("to", &f.to)?))
}

/// POST `/ui/rooms/out-of-order`.
pub async fn out_of_order(
    State(state): State<AppState>,
    Posted { user, form }: Posted<RoomForm>,
) -> UiResult<Response> {
    let (from, to) = dates(&user, &form)?;
    let reason = form.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_LEN {
        return Err(UiError::from(Problem::invalid(
            "reason: a reason (up to 500 characters) is required to take a room out of order",
        )));
    }
    let cmd = Command::SetOutOfOrder {
        property: form.property.clone(),
        number: form.number,
        from,
        to,
        reason,
    };
    run(&state, &user, cmd, &form.property).await
}

/// POST `/ui/rooms/back-in-service`.
pub async fn back_in_service(
    State(state): State<AppState>,
    Posted { user, form }: Posted<RoomForm>,
) -> UiResult<Response> {
    let (from, to) = dates(&user, &form)?;
    let cmd = Command::ClearOutOfOrder {
        property: form.property.clone(),
        number: form.number,
        from,
        to,
    };
    run(&state, &user, cmd, &form.property).await
}

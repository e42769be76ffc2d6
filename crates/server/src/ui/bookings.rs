//! Booking search and list, a booking's page (details, hold time left, history from the audit
//! log) and its actions: confirm, cancel, check in into a room, assign or move a room, check
//! out, no-show. Actions are the API's commands with the API's permissions; the buttons shown
//! depend on the booking's status and the user's roles, and the domain still decides.

use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::{Booking, BookingStatus, Command, Record, RecordId};
use innsync_store::{AuditRow, BookingFilter};
use maud::{html, Markup};
use serde::Deserialize;

/// Bookings per page of the list.
pub const PAGE_SIZE: usize = 50;
/// Most history lines shown on a booking's page.
pub const MAX_HISTORY: usize = 500;

/// The list's filters, all optional, as typed into the search form.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    property: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    guest: String,
    #[serde(default)]
    after: String,
}

fn filter_of(q: &ListQuery) -> Result<BookingFilter, String> {
    let from = format::opt_date("from", Some(&q.from))?;
    let to = format::opt_date("to", Some(&q.to))?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(format!("'to' ({t}) must be after 'from' ({f})"));
        }
    }
    let status = match q.status.as_str() {
        "" => None,
        s => Some(BookingStatus::parse(s).ok_or_else(|| format!("unknown status {s:?}"))?),
    };
    let nonempty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(BookingFilter {
        property: nonempty(&q.property),
        from,
        to,
        status,
        guest: nonempty(&q.guest),
        after: nonempty(&q.after),
        limit: PAGE_SIZE,
        ..BookingFilter::default()
    })
}

/// GET `/ui/bookings`: the search form and the matching bookings, newest reference last.
pub async fn list(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let filter = filter_of(&q);
    let f = filter.clone().ok();
    let (properties, rows) = state
        .read(move |r| {
            let rows = match f {
                Some(f) => r.bookings(&f)?,
                None => vec![],
            };
            Ok((r.properties()?, rows))
        })
        .await?;
    let now = (state.clock)();
    let next = (rows.len() == PAGE_SIZE)
        .then(|| rows.last().map(|b| b.meta.id.to_string()))
        .flatten();
    let body = html! {
        div.pagehead {
            h1 { "Bookings" }
            span.spacer {}
            @if user.may(Permission::Book) { a.button href="/ui/bookings/new" { "New booking" } }
        }
        form.card.row method="get" action="/ui/bookings" data-testid="search" {
            label { "Property"
                select name="property" {
                    option value="" { "All" }
                    @for p in &properties { option value=(p.code) selected[p.code == q.property] { (p.code) } }
                }
            }
            label { "Staying from" input type="date" name="from" value=(q.from); }
            label { "to" input type="date" name="to" value=(q.to); }
            label { "Status"
                select name="status" {
                    option value="" { "Any" }
                    @for s in BookingStatus::ALL {
                        option value=(s.as_str()) selected[s.as_str() == q.status] { (format::status_label(s)) }
                    }
                }
            }
            label { "Guest name" input name="guest" value=(q.guest) placeholder="part of the name"; }
            button type="submit" { "Search" }
        }
        @if let Err(e) = &filter {
            div.notice.bad role="alert" data-testid="problem" { (e) }
        }
        section.card {
            @if rows.is_empty() {
                p.muted { "No booking matches." }
            } @else {
                div.scroll {
                    table.list data-testid="bookings" {
                        thead { tr {
                            th { "Reference" } th { "Guest" } th { "Property" } th { "Type" }
                            th { "Arrival" } th { "Departure" } th.opt { "Nights" } th.opt { "Units" }
                            th { "Status" } th { "Room" } th.opt { "Hold" }
                        } }
                        tbody {
                            @for b in &rows {
                                tr data-booking=(b.meta.id) {
                                    td { a href={ "/ui/bookings/" (b.meta.id) } { (b.meta.id) } }
                                    td { (b.guest_name) } td { (b.property) } td { (b.room_type) }
                                    td { (b.arrival) } td { (b.departure) } td.opt { (b.nights().len()) } td.opt { (b.units) }
                                    td { (layout::status_badge(b.status)) }
                                    td { @if let Some(s) = b.stays.last() { (s.room) } }
                                    td.opt { @if let (BookingStatus::Provisional, Some(h)) = (b.status, b.hold_until) { (format::time_left(h, now)) } }
                                }
                            }
                        }
                    }
                }
                @if let Some(after) = next {
                    p { a.button href={ "/ui/bookings?" (query(&[("property", &q.property), ("from", &q.from), ("to", &q.to), ("status", &q.status), ("guest", &q.guest), ("after", &after)])) } { "Next page →" } }
                }
            }
        }
    };
    Ok(layout::page(
        &user,
        &server,
        Nav::Bookings,
        "Bookings",
        body,
    ))
}

/// Query of a booking's page: which action just succeeded, if any.
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
}

/// A booking with what its page needs beside it.
struct Loaded {
    booking: Booking,
    email: Option<String>,
    phone: Option<String>,
    history: Vec<AuditRow>,
    /// Rooms of the booking's type free for the rest of its stay (for check-in, assign, move).
    free_rooms: Vec<String>,
    today: NaiveDate,
}

async fn load(state: &AppState, reference: &str) -> UiResult<Loaded> {
    let r = reference.to_string();
    let now = (state.clock)();
    let loaded = state
        .read(move |p| {
            let Some(booking) = p.booking(&r)? else {
                return Ok(None);
            };
            let (email, phone) = match p.record("guest", &booking.guest_id.to_string())? {
                Some(Record::Guest(g)) => (g.email, g.phone),
                _ => (None, None),
            };
            let history = p.audit(Some(&r), MAX_HISTORY)?;
            let today = p
                .property(&booking.property)?
                .and_then(|prop| parse_tz(&prop.timezone).ok())
                .map_or_else(|| now.date_naive(), |tz| local_date(now, tz));
            let mut free_rooms = vec![];
            let from = booking.arrival.max(today);
            if booking.status.holds_stock() && from < booking.departure {
                let nights = Nights {
                    from,
                    to: booking.departure,
                };
                let occ = p.room_occupancy(&booking.property, nights)?;
                let id = booking.meta.id.to_string();
                for room in p.rooms(&booking.property)? {
                    let taken = occ.iter().any(|(n, _, b)| *n == room.number && *b != id);
                    let in_service = nights.iter().all(|d| room.in_service_on(d));
                    let current = booking.stays.last().is_some_and(|s| s.room == room.number);
                    if room.room_type == booking.room_type && !taken && in_service && !current {
                        free_rooms.push(room.number);
                    }
                }
            }
            Ok(Some(Loaded {
                booking,
                email,
                phone,
                history,
                free_rooms,
                today,
            }))
        })
        .await?;
    loaded.ok_or_else(|| UiError::not_found(format!("booking {reference} does not exist")))
}

fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "Booking created.",
        "confirm" => "Booking confirmed.",
        "cancel" => "Booking cancelled.",
        "check-in" => "Guest checked in.",
        "check-out" => "Guest checked out.",
        "no-show" => "Booking marked as no-show.",
        "assign-room" => "Room assigned.",
        "move-room" => "Guest moved to the new room.",
        _ => return None,
    })
}

/// GET `/ui/bookings/{reference}`.
pub async fn detail(
    user: UiUser,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(q): Query<DetailQuery>,
) -> UiResult<Markup> {
    let l = load(&state, &reference).await?;
    let notice = done_text(&q.done).map(layout::done_box);
    Ok(detail_page(&state, &user, &l, notice))
}

fn detail_page(state: &AppState, user: &UiUser, l: &Loaded, notice: Option<Markup>) -> Markup {
    let b = &l.booking;
    let now = (state.clock)();
    let server = state.writer.server().to_string();
    let title = format!("Booking {}", b.meta.id);
    let body = html! {
        div.pagehead {
            h1 data-testid="reference" { "Booking " (b.meta.id) }
            span data-testid="status" { (layout::status_badge(b.status)) }
            span.spacer {}
            a.button href={ "/ui/grid?" (query(&[("property", &b.property), ("from", &b.arrival.to_string())])) } { "On the tape chart" }
            a.button href={ "/ui/bookings/" (b.meta.id) "/folio" } data-testid="folio-link" { "Folio" }
        }
        @if let Some(n) = notice { (n) }
        div.cols {
            div {
                section.card {
                    h2 { "Stay" }
                    dl.facts {
                        dt { "Guest" } dd data-testid="guest" { a href={ "/ui/guests/" (b.guest_id) } { (b.guest_name) } }
                        @if let Some(e) = &l.email { dt { "E-mail" } dd { (e) } }
                        @if let Some(p) = &l.phone { dt { "Phone" } dd { (p) } }
                        dt { "Property" } dd { (b.property) }
                        dt { "Room type" } dd { (b.room_type) }
                        dt { "Arrival" } dd { (b.arrival) }
                        dt { "Departure" } dd { (b.departure) " (" (b.nights().len()) " nights)" }
                        dt { "Units" } dd { (b.units) }
                        dt { "Room" } dd data-testid="room" {
                            @if b.stays.is_empty() { span.muted { "not assigned" } }
                            @for (i, s) in b.stays.iter().enumerate() {
                                @if i > 0 { ", then " }
                                strong { (s.room) } " (" (s.from) " to " (s.to) ")"
                            }
                        }
                        @if let Some(p) = &b.price { dt { "Price" } dd { (format::money(p)) } }
                        @if let Some(h) = b.hold_until {
                            @if b.status == BookingStatus::Provisional {
                                dt { "Hold until" }
                                dd data-testid="hold" { (format::instant(h)) " · " strong { (format::time_left(h, now)) } }
                            }
                        }
                        @if let Some(r) = &b.cancel_reason { dt { "Cancelled because" } dd { (r) } }
                        @if let Some(n) = &b.notes { dt { "Notes" } dd { (n) } }
                        @if let Some(n) = b.reservation_number { dt { "Reservation number" } dd data-testid="reservation-number" { (n) } }
                        dt { "Owner" } dd { (b.meta.owner) " · version " (b.meta.version) }
                        dt { "Created" } dd { (format::instant(b.created_at)) " on " (b.created_on) }
                    }
                }
                section.card {
                    h2 { "History" }
                    div.scroll {
                        table.list data-testid="history" {
                            thead { tr { th { "When" } th { "Server" } th { "Who" } th { "What" } th { "Detail" } } }
                            tbody {
                                @for h in &l.history {
                                    tr { td { (format::audit_time(&h.at)) } td { (h.server) } td { (h.actor) } td { (h.action) } td { (h.detail) } }
                                }
                            }
                        }
                    }
                }
            }
            section.card data-testid="actions" {
                h2 { "Actions" }
                (actions(user, l))
            }
        }
    };
    layout::page(user, &server, Nav::Bookings, &title, body)
}

fn room_select(name: &str, rooms: &[String]) -> Markup {
    html! {
        label { "Room"
            select name=(name) required {
                @for r in rooms { option value=(r) { (r) } }
            }
        }
    }
}

fn actions(user: &UiUser, l: &Loaded) -> Markup {
    let b = &l.booking;
    let book = user.may(Permission::Book);
    let desk = user.may(Permission::FrontDesk);
    let s = b.status;
    let act = |a: &str| format!("/ui/bookings/{}/{a}", b.meta.id);
    let single = b.units == 1;
    let in_stay = b.arrival <= l.today && l.today < b.departure;
    let hidden = html! {
        (layout::csrf(user))
        input type="hidden" name="version" value=(b.meta.version);
    };
    let any = (book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed))
        || (desk && matches!(s, BookingStatus::Confirmed | BookingStatus::CheckedIn));
    let out = html! {
        @if book && s == BookingStatus::Provisional {
            form method="post" action=(act("confirm")) { (hidden) button type="submit" data-action="confirm" { "Confirm" } }
        }
        @if desk && s == BookingStatus::Confirmed {
            @if !in_stay {
                p.muted { "Check-in opens on the arrival day (" (b.arrival) ")." }
            } @else if !single || !b.stays.is_empty() {
                form method="post" action=(act("check-in")) { (hidden) button type="submit" data-action="check-in" { "Check in" } }
            } @else if l.free_rooms.is_empty() {
                div.notice.warn { "No free " (b.room_type) " room for this stay; move another booking or free a room first." }
            } @else {
                form method="post" action=(act("check-in")) { (hidden) (room_select("room", &l.free_rooms)) button type="submit" data-action="check-in" { "Check in" } }
            }
            @if single && !l.free_rooms.is_empty() {
                form method="post" action=(act("assign-room")) {
                    (hidden) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="assign-room" { @if b.stays.is_empty() { "Assign room" } @else { "Change room" } }
                }
            }
        }
        @if desk && s == BookingStatus::CheckedIn {
            @if single && !l.free_rooms.is_empty() {
                form method="post" action=(act("move-room")) {
                    (hidden) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="move-room" { "Move room" }
                }
            }
            form method="post" action=(act("check-out")) data-confirm={ "Check out " (b.guest_name) "? Nights not yet stayed are released." } {
                (hidden) button type="submit" data-action="check-out" { "Check out" }
            }
        }
        @if book && s == BookingStatus::Confirmed && b.arrival <= l.today {
            form method="post" action=(act("no-show")) data-confirm={ "Mark " (b.meta.id) " as a no-show? Its rooms are released." } {
                (hidden) button.danger type="submit" data-action="no-show" { "No-show" }
            }
        }
        @if book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed) {
            form method="post" action=(act("cancel")) data-confirm={ "Cancel booking " (b.meta.id) "? This cannot be undone." } {
                (hidden)
                label { "Reason" input name="reason" maxlength="500" placeholder="why (optional)"; }
                button.danger type="submit" data-action="cancel" { "Cancel booking" }
            }
        }
    };
    html! {
        div.actions { (out) }
        @if !any {
            p.muted data-testid="no-actions" {
                @if !book && !desk { "Your role (" (user.roles_text()) ") may look at bookings but not change them." }
                @else { "Nothing can be done with a booking that is " (format::status_label(s).to_lowercase()) "." }
            }
        }
    }
}

/// The fields of an action form.
#[derive(Deserialize)]
pub struct ActionForm {
    room: Option<String>,
    reason: Option<String>,
    version: Option<u64>,
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
    let if_match = form.version;
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
            crate::write::submit(&state, cmd, &user.username, None)
                .await
                .map_err(Problem::from)
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(_) => {
            state.pms.wake.notify_waiters();
            Ok(Redirect::to(&format!(
                "/ui/bookings/{reference}?{}",
                query(&[("done", &action)])
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
                detail_page(&state, &user, &l, Some(layout::problem_box(&p))),
            )
                .into_response())
        }
    }
}

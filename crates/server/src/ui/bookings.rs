//! Booking search and list, a booking's page (details, hold time left, history from the audit
//! log) and its actions: confirm, cancel, check in into a room, assign or move a room, check
//! out, no-show. Actions are the API's commands with the API's permissions; the buttons shown
//! depend on the booking's status, the user's roles and where the booking is written: a
//! button is shown only when it can succeed on this server; a booking written elsewhere offers
//! "send to …" instead, which forwards the command to its owner as a pending operation whose
//! progress the page shows. The domain still decides.

use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::{self, Names};
use crate::auth::Permission;
use crate::problem::Problem;
use crate::replication::owner_relay::OWNER_RELAY_POOL;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::Property;
use innsync_core::{Booking, BookingStatus, Command, Record, RecordId};
use innsync_store::PendingOp;
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

fn filter_of(dates: format::DateStyle, q: &ListQuery) -> Result<BookingFilter, String> {
    let from = dates.opt("from", Some(&q.from))?;
    let to = dates.opt("to", Some(&q.to))?;
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
    let filter = filter_of(user.dates, &q);
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
                    @for p in &properties { option value=(p.code) selected[p.code == q.property] { (p.name) } }
                }
            }
            (layout::date_field(&user, "Staying from", "from", &q.from, false))
            (layout::date_field(&user, "to", "to", &q.to, false))
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
                                    td { (user.dates.show(b.arrival)) } td { (user.dates.show(b.departure)) } td.opt { (b.nights().len()) } td.opt { (b.units) }
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
    /// The booking's property (its name and timezone).
    property: Option<Property>,
    /// Its room type's name.
    room_type_name: Option<String>,
    /// Changes of this booking forwarded to its owner from this server, newest first.
    forwarded: Vec<PendingOp>,
    /// Servers in words; who writes what.
    names: Names,
}

/// Most forwarded operations looked through for a booking's.
pub const MAX_FORWARDED_SCAN: usize = 500;

/// Whether a forwarded operation is about booking `id` (its command names the id).
fn concerns(op: &PendingOp, id: &str) -> bool {
    op.op == "relay" && op.command.contains(&format!("\"{id}\""))
}

async fn load(state: &AppState, reference: &str) -> UiResult<Loaded> {
    let r = reference.to_string();
    let now = (state.clock)();
    let names = Names::read(state).await?;
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
            let property = p.property(&booking.property)?;
            let today = property
                .as_ref()
                .and_then(|prop| parse_tz(&prop.timezone).ok())
                .map_or_else(|| now.date_naive(), |tz| local_date(now, tz));
            let room_type_name = p
                .room_types(&booking.property)?
                .into_iter()
                .find(|t| t.code == booking.room_type)
                .map(|t| t.name);
            let id = booking.meta.id.to_string();
            let forwarded: Vec<PendingOp> = p
                .pending(None, Some(OWNER_RELAY_POOL), MAX_FORWARDED_SCAN)?
                .into_iter()
                .filter(|op| concerns(op, &id))
                .collect();
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
                property,
                room_type_name,
                forwarded,
                names: Names::from_parts(vec![], "", ""),
            }))
        })
        .await?;
    let mut l =
        loaded.ok_or_else(|| UiError::not_found(format!("booking {reference} does not exist")))?;
    l.names = names;
    Ok(l)
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
        "forwarded" => "Sent to the booking's owner. Its progress is shown below.",
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
    let tz = l.property.as_ref().map_or("UTC", |p| p.timezone.as_str());
    let d = user.dates;
    let property_name = l
        .property
        .as_ref()
        .map_or(b.property.as_str(), |p| p.name.as_str());
    let body = html! {
        div.pagehead {
            h1 data-testid="reference" { "Booking " (b.meta.id) }
            span data-testid="status" { (layout::status_badge(b.status)) }
            span.spacer {}
            a.button href={ "/ui/grid?" (query(&[("property", &b.property), ("from", &b.arrival.to_string())])) } { "On the tape chart" }
            a.button href={ "/ui/bookings/" (b.meta.id) "/folio" } data-testid="folio-link" { "Folio" }
        }
        @if let Some(n) = notice { (n) }
        @if !l.forwarded.is_empty() { (forwarded_section(l, tz)) }
        div.cols {
            div {
                section.card {
                    h2 { "Stay" }
                    dl.facts {
                        dt { "Guest" } dd data-testid="guest" { a href={ "/ui/guests/" (b.guest_id) } { (b.guest_name) } }
                        @if let Some(e) = &l.email { dt { "E-mail" } dd { (e) } }
                        @if let Some(p) = &l.phone { dt { "Phone" } dd { (p) } }
                        dt { "Property" } dd { (property_name) " " span.muted.code { (b.property) } }
                        dt { "Room type" } dd { (l.room_type_name.as_deref().unwrap_or(&b.room_type)) " " span.muted.code { (b.room_type) } }
                        dt { "Arrival" } dd { (d.show(b.arrival)) }
                        dt { "Departure" } dd { (d.show(b.departure)) " (" (b.nights().len()) " nights)" }
                        dt { "Rooms" } dd { (b.units) }
                        dt { "Room" } dd data-testid="room" {
                            @if b.stays.is_empty() { span.muted { "not assigned" } }
                            @for (i, s) in b.stays.iter().enumerate() {
                                @if i > 0 { ", then " }
                                strong { (s.room) } " (" (d.show(s.from)) " to " (d.show(s.to)) ")"
                            }
                        }
                        @if let Some(p) = &b.price { dt { "Price" } dd { (format::money(p)) } }
                        @if let Some(h) = b.hold_until {
                            @if b.status == BookingStatus::Provisional {
                                dt { "Hold until" }
                                dd data-testid="hold" { (words::local_time(h, tz, d)) " · " strong { (format::time_left(h, now)) } }
                            }
                        }
                        @if let Some(r) = &b.cancel_reason { dt { "Cancelled because" } dd { (r) } }
                        @if let Some(n) = &b.notes { dt { "Notes" } dd { (n) } }
                        @if let Some(n) = b.reservation_number { dt { "Reservation number" } dd data-testid="reservation-number" { (n) } }
                        dt { "Managed by" } dd data-testid="owner" { (l.names.authority(&b.meta.owner))
                            @if l.names.writable_here(&b.meta.owner) { " (this server)" } }
                        dt { "Booked" } dd { (words::local_time(b.created_at, tz, d)) " on " (l.names.server(&b.created_on.to_string())) }
                    }
                }
                section.card {
                    h2 { "History" }
                    p.muted { "Times are " (property_name) "'s local time (" (tz) ")." }
                    div.scroll {
                        table.list data-testid="history" {
                            thead { tr { th { "When" } th { "What" } th { "Who" } th { "Where" } th { "Detail" } } }
                            tbody {
                                @for h in &l.history {
                                    tr {
                                        td { (words::local_audit_time(&h.at, tz, d)) }
                                        td { (words::action(&h.action)) }
                                        td { (h.actor) }
                                        td { (l.names.server(&h.server)) }
                                        td { (words::detail(&h.detail)) }
                                    }
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

/// A forwarded operation's state in words.
pub fn op_state_words(op: &PendingOp) -> String {
    match op.state.as_str() {
        "pending" => "waiting to be sent".into(),
        "in_progress" => "being sent".into(),
        "retry" => format!(
            "not delivered yet, tried {} time(s); will try again",
            op.attempts
        ),
        "done" => "done".into(),
        "failed" => "failed; an administrator can retry it on the Environment page".into(),
        "canceled" => "cancelled".into(),
        other => other.replace('_', " "),
    }
}

fn forwarded_section(l: &Loaded, tz: &str) -> Markup {
    html! {
        section.card data-testid="forwarded" {
            h2 { "Sent to " (l.names.authority(&l.booking.meta.owner)) }
            ul.plain {
                @for op in &l.forwarded {
                    li data-pending=(op.id) data-state=(op.state) {
                        strong { (op_words(&op.summary)) } " · "
                        span class={ "badge " (match op.state.as_str() { "done" => "ok", "failed" => "down", "canceled" => "idle", _ => "st-provisional" }) } { (op_state_words(op)) }
                        " · asked by " (op.actor) " at " (words::local_audit_time(&op.created_at, tz, format::DateStyle::Iso))
                        @if let Some(e) = &op.last_error { br; span.muted { "Last attempt: " (e) } }
                    }
                }
            }
        }
    }
}

/// A forwarded command's summary (`booking.cancel for ann at PA`) as its action in words.
fn op_words(summary: &str) -> String {
    let action = summary.split_whitespace().next().unwrap_or("");
    let w = words::action(action);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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

/// Where an action on this booking can be carried out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// On this server.
    Here,
    /// Only by forwarding it to the server that writes it.
    Forward,
    /// Nowhere from here (the booking and its property are written on different servers).
    Nowhere,
}

fn actions(user: &UiUser, l: &Loaded) -> Markup {
    let b = &l.booking;
    let book = user.may(Permission::Book);
    let desk = user.may(Permission::FrontDesk);
    let s = b.status;
    let act = |a: &str| format!("/ui/bookings/{}/{a}", b.meta.id);
    let single = b.units == 1;
    let in_stay = b.arrival <= l.today && l.today < b.departure;
    let n = &l.names;
    let booking_writer = n.writer_of(&b.meta.owner);
    let prop_owner = l.property.as_ref().map(|p| p.meta.owner.clone());
    let rooms_writer = prop_owner.as_ref().map(|o| n.writer_of(o));
    // Booking changes: here when this server writes the booking, else forwarded to it.
    let edit = if booking_writer == n.me {
        Place::Here
    } else {
        Place::Forward
    };
    // Room changes need both the booking's and the property's writer.
    let rooms = match rooms_writer.as_deref() {
        Some(w) if w == booking_writer && w == n.me => Place::Here,
        Some(w) if w == booking_writer => Place::Forward,
        _ => Place::Nowhere,
    };
    let owner_name = n.authority(&b.meta.owner);
    let hidden = |place: Place| {
        html! {
            (layout::csrf(user))
            input type="hidden" name="version" value=(b.meta.version);
            @if place == Place::Forward { input type="hidden" name="forward" value="1"; }
        }
    };
    let label = |place: Place, what: &str| -> String {
        match place {
            Place::Forward => format!("{what}: send to {owner_name}"),
            _ => what.to_string(),
        }
    };
    let any = (book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed))
        || (desk && matches!(s, BookingStatus::Confirmed | BookingStatus::CheckedIn));
    let out = html! {
        @if edit == Place::Forward && any {
            p.notice.info data-testid="elsewhere" {
                "This booking is managed by " strong { (owner_name) } ". Changes made here are sent there and done when it receives them."
            }
        }
        @if book && s == BookingStatus::Provisional {
            form method="post" action=(act("confirm")) { (hidden(edit)) button type="submit" data-action="confirm" { (label(edit, "Confirm")) } }
        }
        @if desk && s == BookingStatus::Confirmed {
            @if rooms == Place::Nowhere {
                p.muted data-testid="rooms-elsewhere" {
                    "Rooms at " (l.property.as_ref().map_or(b.property.as_str(), |p| p.name.as_str())) " are assigned on "
                    (prop_owner.as_ref().map_or_else(String::new, |o| n.authority(o))) "; check the guest in there."
                }
            } @else if !in_stay {
                p.muted { "Check-in opens on the arrival day (" (user.dates.show(b.arrival)) ")." }
            } @else if !single || !b.stays.is_empty() {
                form method="post" action=(act("check-in")) { (hidden(rooms)) button type="submit" data-action="check-in" { (label(rooms, "Check in")) } }
            } @else if l.free_rooms.is_empty() {
                div.notice.warn { "No free " (l.room_type_name.as_deref().unwrap_or(&b.room_type)) " room for this stay; move another booking or free a room first." }
            } @else {
                form method="post" action=(act("check-in")) { (hidden(rooms)) (room_select("room", &l.free_rooms)) button type="submit" data-action="check-in" { (label(rooms, "Check in")) } }
            }
            @if single && !l.free_rooms.is_empty() && rooms != Place::Nowhere {
                form method="post" action=(act("assign-room")) {
                    (hidden(rooms)) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="assign-room" { (label(rooms, if b.stays.is_empty() { "Assign room" } else { "Change room" })) }
                }
            }
        }
        @if desk && s == BookingStatus::CheckedIn {
            @if single && !l.free_rooms.is_empty() && rooms != Place::Nowhere {
                form method="post" action=(act("move-room")) {
                    (hidden(rooms)) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="move-room" { (label(rooms, "Move room")) }
                }
            }
            form method="post" action=(act("check-out")) data-confirm={ "Check out " (b.guest_name) "? Nights not yet stayed are released." } {
                (hidden(edit)) button type="submit" data-action="check-out" { (label(edit, "Check out")) }
            }
        }
        @if book && s == BookingStatus::Confirmed && b.arrival <= l.today {
            form method="post" action=(act("no-show")) data-confirm={ "Mark " (b.meta.id) " as a no-show? Its rooms are released." } {
                (hidden(edit)) button.danger type="submit" data-action="no-show" { (label(edit, "No-show")) }
            }
        }
        @if book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed) {
            form method="post" action=(act("cancel")) data-confirm={ "Cancel booking " (b.meta.id) "? This cannot be undone." } {
                (hidden(edit))
                label { "Reason" input name="reason" maxlength="500" placeholder="why (optional)"; }
                button.danger type="submit" data-action="cancel" { (label(edit, "Cancel booking")) }
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
                detail_page(
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

//! A booking's page: details, hold time left, history from the audit log, the changes sent to
//! its owner from here (a forwarded pending operation, its progress shown), the reservation's
//! lines (`booking_lines.rs`) and the actions (`booking_actions.rs`).

use super::booking_loaded::{load, Loaded};
use super::error::UiResult;
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::UiUser;
use super::words;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use innsync_core::BookingStatus;
use innsync_store::PendingOp;
use maud::{html, Markup};
use serde::Deserialize;

/// Query of a booking's page: which action just succeeded, if any.
#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    done: String,
    /// After an edit: the price before it.
    #[serde(default)]
    was: String,
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
        "edited" => "Booking changed; the change is in the history below.",
        "line-added" => "Line added to the reservation.",
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
    let notice = done_text(&q.done).map(|t| match (&l.booking.price, q.was.is_empty()) {
        (Some(now), false) if q.done == "edited" => layout::done_box(&format!(
            "{t} Price was {}, now {}.",
            q.was,
            format::money(now)
        )),
        _ => layout::done_box(t),
    });
    Ok(detail_page(&state, &user, &l, notice))
}

pub(super) fn detail_page(
    state: &AppState,
    user: &UiUser,
    l: &Loaded,
    notice: Option<Markup>,
) -> Markup {
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
        (super::booking_lines::section(user, l))
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
                        @if let Some(p) = &b.price { dt { "Price" } dd data-testid="price" { (format::money(p)) } }
                        @if let Some(a) = &b.agent {
                            dt { "Agent" }
                            dd data-testid="agent" {
                                (l.agent_name.as_deref().unwrap_or(&a.code)) " " span.muted.code { (a.code) }
                                " · commission " (super::booking_agent::percent(a.commission_bp))
                                @if let (Some(c), Some(p)) = (a.commission, &b.price) {
                                    " = " (format::money(&innsync_core::Money { amount: c, currency: p.currency.clone() }))
                                }
                            }
                        }
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
                (super::booking_actions::actions(user, l))
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

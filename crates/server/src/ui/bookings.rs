//! Booking search and list. A booking's page is `booking_page.rs`, its actions
//! `booking_actions.rs`, its reservation's lines and edits `booking_lines.rs`; their handlers
//! are re-exported here so the route table names one module for the booking pages.

use super::error::UiResult;
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::UiUser;
use super::words::Names;
use crate::auth::Permission;
use crate::state::AppState;
use axum::extract::{Query, State};
use innsync_core::BookingStatus;
use innsync_store::BookingFilter;
use maud::{html, Markup};
use serde::Deserialize;

pub use super::booking_act::act;
pub use super::booking_page::{detail, op_state_words};

/// Bookings per page of the list.
pub const PAGE_SIZE: usize = 50;

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
    /// The server a new booking was just sent to (a booking for an agent held elsewhere).
    #[serde(default)]
    sent: String,
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
    let names = Names::read(&state).await?;
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
        @if !q.sent.is_empty() {
            div.notice.info role="status" data-testid="done" {
                "Sent to " (names.server(&q.sent)) ": the booking is made there when it receives it, and then shows in this list."
            }
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

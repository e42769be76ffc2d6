//! The tape chart of a property: room types × nights (booked, available, total), who holds
//! which units (every allotment holder's sold / held, shortfalls marked), then rooms × nights
//! with the booking occupying each room-night and out-of-order nights, over a 14-night window
//! with previous/next. Every booking links to its page; a free cell links to the create
//! form for that night (for users who may book).

use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::UiUser;
use super::words::Names;
use crate::state::AppState;
use axum::extract::{Query, State};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::{Booking, Property, Room};
use innsync_store::who_sells::WhoSells;
use innsync_store::{Availability, BookingFilter, Holdings};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Nights the chart shows at once.
pub const WINDOW_NIGHTS: u64 = 14;
/// Most bookings read to label the chart's room-nights (far above a 14-night window's count).
pub const MAX_CHART_BOOKINGS: usize = 5_000;

/// Query of the chart.
#[derive(Deserialize)]
pub struct GridQuery {
    property: Option<String>,
    from: Option<String>,
    /// What a form on the page just did.
    #[serde(default)]
    done: String,
}

/// What one room shows on one night.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomNight {
    /// Nobody, in service.
    Free,
    /// Occupied by this booking.
    Booked(String),
    /// Out of order, with the reason.
    OutOfOrder(String),
}

/// Merges consecutive equal nights into runs (cell, nights), so a stay is one bar.
pub fn runs(cells: Vec<RoomNight>) -> Vec<(RoomNight, usize)> {
    let mut out: Vec<(RoomNight, usize)> = Vec::new();
    for c in cells {
        match out.last_mut() {
            Some((last, n)) if *last == c && c != RoomNight::Free => *n += 1,
            _ => out.push((c, 1)),
        }
    }
    out
}

/// Everything the chart shows, read in one go.
struct Chart {
    properties: Vec<Property>,
    property: Property,
    nights: Nights,
    today: NaiveDate,
    availability: Availability,
    who: Option<WhoSells>,
    holdings: Option<Holdings>,
    rooms: Vec<Room>,
    occupancy: Vec<(String, NaiveDate, String)>,
    bookings: Vec<Booking>,
}

/// GET `/ui/grid`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<GridQuery>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let from = user
        .dates
        .opt("from", q.from.as_deref())
        .map_err(UiError::bad_request)?;
    let names = Names::read(&state).await?;
    let done = q.done.clone();
    let wanted = q.property.filter(|p| !p.is_empty());
    let now = (state.clock)();
    let chart = state
        .read(move |r| {
            let properties = r.properties()?;
            let property = match &wanted {
                Some(code) => properties.iter().find(|p| &p.code == code).cloned(),
                None => properties.first().cloned(),
            };
            let Some(property) = property else {
                return Ok(Err(properties));
            };
            let today = parse_tz(&property.timezone)
                .map(|tz| local_date(now, tz))
                .unwrap_or_else(|_| now.date_naive());
            let start = from.unwrap_or(today);
            let nights = Nights {
                from: start,
                to: start + Days::new(WINDOW_NIGHTS),
            };
            let code = property.code.clone();
            Ok(Ok(Chart {
                availability: r.availability(&code, nights)?,
                who: r.who_sells(&code, nights)?,
                holdings: r.holdings(&code, nights)?,
                rooms: r.rooms(&code)?,
                occupancy: r.room_occupancy(&code, nights)?,
                bookings: r.bookings(&BookingFilter {
                    property: Some(code.clone()),
                    from: Some(nights.from),
                    to: Some(nights.to),
                    limit: MAX_CHART_BOOKINGS,
                    ..BookingFilter::default()
                })?,
                properties,
                property,
                nights,
                today,
            }))
        })
        .await?;
    let body = match chart {
        Ok(c) => html! {
            @if !done.is_empty() { (layout::done_box(&done)) }
            (render(&user, &names, &c))
        },
        Err(properties) if properties.is_empty() => html! {
            h1 { "Tape chart" }
            div.notice.info { "There are no properties yet. An administrator adds them through the API." }
        },
        Err(_) => {
            return Err(UiError::not_found("that property does not exist"));
        }
    };
    Ok(layout::page(&user, &server, Nav::Grid, "Tape chart", body))
}

fn header_row(c: &Chart, first: &str) -> Markup {
    html! {
        tr {
            th.rowhead { (first) }
            @for d in c.nights.iter() {
                @let (dow, dm) = format::night_header(d);
                @let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
                th class={ @if d == c.today { "today" } @else if weekend { "weekend" } } {
                    span.dow { (dow) } (dm)
                }
            }
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one maud template: the tape chart's markup reads best whole"
)]
fn render(user: &UiUser, names: &Names, c: &Chart) -> Markup {
    let code = &c.property.code;
    let shift = |days: i64| {
        let d = if days < 0 {
            c.nights.from - Days::new(days.unsigned_abs())
        } else {
            c.nights.from + Days::new(days as u64)
        };
        format!(
            "/ui/grid?{}",
            query(&[("property", code), ("from", &d.to_string())])
        )
    };
    let by_id: HashMap<String, &Booking> = c
        .bookings
        .iter()
        .map(|b| (b.meta.id.to_string(), b))
        .collect();
    let unassigned: Vec<&Booking> = c
        .bookings
        .iter()
        .filter(|b| b.status.holds_stock() && b.stays.is_empty())
        .collect();
    html! {
        div.pagehead {
            h1 { "Tape chart" }
            span.muted { (c.property.name) " · " (user.dates.show(c.nights.from)) " to " (user.dates.show(c.nights.to)) " (" (WINDOW_NIGHTS) " nights)" }
            span.spacer {}
            span.row {
                a.button href=(shift(-(WINDOW_NIGHTS as i64))) data-testid="prev" { "← Previous" }
                a.button href=(format!("/ui/grid?{}", query(&[("property", code)]))) { "Today" }
                a.button href=(shift(WINDOW_NIGHTS as i64)) data-testid="next" { "Next →" }
            }
        }
        form.row.card method="get" action="/ui/grid" {
            label { "Property"
                select name="property" {
                    @for p in &c.properties {
                        option value=(p.code) selected[p.code == *code] { (p.name) " (" (p.code) ")" }
                    }
                }
            }
            (layout::date_field(user, "From", "from", &c.nights.from.to_string(), false))
            button type="submit" { "Show" }
        }
        section.card {
            h2 { "Availability by room type" }
            @if let Some(w) = &c.who {
                div.scroll { (super::who_sells::table(user, names, w, &c.nights.iter().collect::<Vec<_>>(), c.today)) }
            }
        }
        @if let Some(w) = &c.who {
            (super::who_sells::request_form(user, names, w, c.today, &format!("/ui/grid?{}", query(&[("property", code), ("from", &c.nights.from.to_string())]))))
        }
        @if let Some(h) = &c.holdings {
            (holdings(c, names, h))
        }
        section.card {
            h2 { "Rooms" }
            div.scroll {
                table.chart data-testid="rooms" {
                    thead { (header_row(c, "Room")) }
                    tbody {
                        @for rt in &c.availability.room_types {
                            tr.typehead { td colspan=(c.nights.len() + 1) { (rt.name) " " span.muted { "(" (rt.code) ")" } } }
                            @for room in c.rooms.iter().filter(|r| r.room_type == rt.code) {
                                (room_row(c, room, &by_id))
                            }
                        }
                    }
                }
            }
            div.legend {
                span.l-conf { "confirmed" } span.l-in { "checked in" } span.l-prov { "provisional" } span.l-ooo { "out of order" }
            }
        }
        section.card data-testid="unassigned" {
            h2 { "Not in a room yet (" (unassigned.len()) ")" }
            @if unassigned.is_empty() {
                p.muted { "Every live booking in this window has a room." }
            } @else {
                table.list {
                    thead { tr { th { "Reference" } th { "Guest" } th { "Type" } th { "Arrival" } th { "Departure" } th { "Units" } th { "Status" } } }
                    tbody {
                        @for b in &unassigned {
                            tr {
                                td { a href={ "/ui/bookings/" (b.meta.id) } { (b.meta.id) } }
                                td { (b.guest_name) } td { (b.room_type) } td { (user.dates.show(b.arrival)) } td { (user.dates.show(b.departure)) }
                                td { (b.units) } td { (layout::status_badge(b.status)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Who holds the units of each room type, night by night: one row per holder, `sold/held`,
/// with a holder that sold more than it holds (an inventory change made it short) marked.
fn holdings(c: &Chart, names: &Names, h: &Holdings) -> Markup {
    let short = h.short().count();
    html! {
        section.card data-testid="allotments" {
            h2 { "Allotments: who holds what" }
            p.muted {
                "Each server sells only from the units its authority holds, so servers cut off from each other never sell the same room. "
                (names.authority(&h.owner)) " owns " (c.property.name) " and holds whatever it has not given away. Each cell: sold / held."
            }
            @if short > 0 {
                div.notice.error data-testid="shortfalls" {
                    (short) " holder-night(s) are sold beyond what the holder holds (rooms went out of order). Move units to the holder or rebook."
                }
            }
            div.scroll {
                table.chart {
                    thead { (header_row(c, "Type · holder")) }
                    tbody {
                        @for rt in &h.room_types {
                            @let holders: Vec<_> = rt.nights.first().map(|n| n.holders.iter().map(|x| x.holder.clone()).collect()).unwrap_or_default();
                            @for (i, holder) in holders.iter().enumerate() {
                                tr data-room-type=(rt.code) data-holder=(holder) {
                                    td.rowhead { strong { (rt.name) } br; span.muted { (names.holder(holder)) } }
                                    @for n in &rt.nights {
                                        @let hn = &n.holders[i];
                                        @let class = if i64::from(hn.sold) > hn.held { "full short" } else if i64::from(hn.sold) == hn.held { "low" } else { "free" };
                                        td class=(class) data-night=(n.date) title={ (names.holder(holder)) ": " (hn.sold) " sold of " (hn.held) " held; " (n.in_service) " rooms in service" } {
                                            span.avail-sub { (hn.sold) "/" (hn.held) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn room_row(c: &Chart, room: &Room, by_id: &HashMap<String, &Booking>) -> Markup {
    let occupied: HashMap<NaiveDate, &str> = c
        .occupancy
        .iter()
        .filter(|(n, _, _)| *n == room.number)
        .map(|(_, d, b)| (*d, b.as_str()))
        .collect();
    let cells = c
        .nights
        .iter()
        .map(|d| {
            if let Some(b) = occupied.get(&d) {
                RoomNight::Booked((*b).to_string())
            } else if let Some(o) = room.out_of_order.iter().find(|o| o.nights().contains(d)) {
                RoomNight::OutOfOrder(o.reason.clone())
            } else {
                RoomNight::Free
            }
        })
        .collect();
    html! {
        tr data-room=(room.number) {
            td.rowhead {
                strong { (room.number) }
                @if let Some(hk) = &room.housekeeping { " " span.muted { (hk) } }
            }
            @for (cell, span) in runs(cells) {
                @match cell {
                    RoomNight::Free => td {},
                    RoomNight::OutOfOrder(reason) => td.ooo colspan=(span) title=(reason) { "out of order" },
                    RoomNight::Booked(id) => {
                        @let b = by_id.get(&id);
                        @let status = b.map_or("confirmed", |b| b.status.as_str());
                        @let label = b.map_or(id.clone(), |b| b.guest_name.clone());
                        td.occ colspan=(span) {
                            a class={ "st-" (status) } href={ "/ui/bookings/" (id) } title={ (id) " · " (label) } data-booking=(id) { (label) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stay_is_one_run_and_free_nights_stay_single() {
        let b = |s: &str| RoomNight::Booked(s.into());
        let cells = vec![
            RoomNight::Free,
            RoomNight::Free,
            b("A"),
            b("A"),
            b("B"),
            RoomNight::OutOfOrder("x".into()),
            RoomNight::OutOfOrder("x".into()),
        ];
        assert_eq!(
            runs(cells),
            vec![
                (RoomNight::Free, 1),
                (RoomNight::Free, 1),
                (b("A"), 2),
                (b("B"), 1),
                (RoomNight::OutOfOrder("x".into()), 2)
            ]
        );
    }
}

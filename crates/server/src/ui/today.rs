//! Today at a property — the front desk's start page: arrivals, departures, who is in house,
//! rooms to clean, provisional holds that lapse soon, and the operations this server sent to
//! others that are still open or failed. Each row is one click to its action (check in with a
//! room, assign a room, check out, confirm); an action is offered only where it can succeed
//! on this server, else the row leads to the booking page, which offers "send to …".

use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::UiUser;
use super::words::{self, Names};
use crate::auth::Permission;
use crate::state::AppState;
use axum::extract::{Query, State};
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::{Booking, BookingStatus, Property, Room};
use innsync_store::{BookingFilter, PendingOp};
use maud::{html, Markup};
use serde::Deserialize;

/// Most bookings read for one day at one property.
pub const MAX_DAY_BOOKINGS: usize = 2_000;
/// A provisional hold lapsing within this many hours is "expiring soon".
pub const HOLD_SOON_HOURS: i64 = 24;
/// Most open operations listed.
pub const MAX_OPS: usize = 50;

/// Query of the page.
#[derive(Deserialize, Default)]
pub struct TodayQuery {
    #[serde(default)]
    property: String,
}

/// An arrival with the rooms it could go into.
struct Arrival {
    booking: Booking,
    free_rooms: Vec<String>,
}

/// Everything the page shows.
struct Day {
    properties: Vec<Property>,
    property: Property,
    today: NaiveDate,
    arrivals: Vec<Arrival>,
    departures: Vec<Booking>,
    in_house: Vec<Booking>,
    to_clean: Vec<Room>,
    holds: Vec<Booking>,
    ops: Vec<PendingOp>,
}

fn free_rooms_for(
    r: &innsync_store::ReadPool,
    b: &Booking,
    today: NaiveDate,
) -> Result<Vec<String>, innsync_store::StoreError> {
    let from = b.arrival.max(today);
    if b.units != 1 || !b.stays.is_empty() || from >= b.departure {
        return Ok(vec![]);
    }
    let nights = Nights {
        from,
        to: b.departure,
    };
    let occ = r.room_occupancy(&b.property, nights)?;
    Ok(r.rooms(&b.property)?
        .into_iter()
        .filter(|room| {
            room.room_type == b.room_type
                && !occ.iter().any(|(n, _, _)| *n == room.number)
                && nights.iter().all(|d| room.in_service_on(d))
        })
        .map(|room| room.number)
        .collect())
}

async fn read_day(
    state: &AppState,
    wanted: String,
    now: DateTime<Utc>,
) -> UiResult<Result<Day, Vec<Property>>> {
    Ok(state
        .read(move |r| {
            let properties = r.properties()?;
            let property = if wanted.is_empty() {
                properties.first().cloned()
            } else {
                properties.iter().find(|p| p.code == wanted).cloned()
            };
            let Some(property) = property else {
                return Ok(Err(properties));
            };
            let today = parse_tz(&property.timezone)
                .map(|tz| local_date(now, tz))
                .unwrap_or_else(|_| now.date_naive());
            let yesterday = today.pred_opt().unwrap_or(today);
            let all = r.bookings(&BookingFilter {
                property: Some(property.code.clone()),
                from: Some(yesterday),
                to: Some(today + Days::new(1)),
                limit: MAX_DAY_BOOKINGS,
                ..BookingFilter::default()
            })?;
            let mut arrivals = vec![];
            for b in all.iter().filter(|b| {
                b.arrival == today
                    && matches!(
                        b.status,
                        BookingStatus::Confirmed | BookingStatus::Provisional
                    )
            }) {
                arrivals.push(Arrival {
                    free_rooms: free_rooms_for(r, b, today)?,
                    booking: b.clone(),
                });
            }
            let departures = all
                .iter()
                .filter(|b| b.departure <= today && b.status == BookingStatus::CheckedIn)
                .cloned()
                .collect();
            let in_house = all
                .iter()
                .filter(|b| b.status == BookingStatus::CheckedIn && b.departure > today)
                .cloned()
                .collect();
            let soon = now + Duration::hours(HOLD_SOON_HOURS);
            let holds = r
                .bookings(&BookingFilter {
                    property: Some(property.code.clone()),
                    status: Some(BookingStatus::Provisional),
                    from: Some(today),
                    limit: MAX_DAY_BOOKINGS,
                    ..BookingFilter::default()
                })?
                .into_iter()
                .filter(|b| b.hold_until.is_some_and(|h| h <= soon))
                .collect();
            let to_clean = r
                .rooms(&property.code)?
                .into_iter()
                .filter(|room| {
                    room.housekeeping.as_deref().is_some_and(|h| {
                        !h.eq_ignore_ascii_case("clean") && !h.eq_ignore_ascii_case("inspected")
                    })
                })
                .collect();
            let ops = r
                .pending(None, None, MAX_OPS * 4)?
                .into_iter()
                .filter(|op| op.state != "done" && op.state != "canceled")
                .take(MAX_OPS)
                .collect();
            Ok(Ok(Day {
                properties,
                property,
                today,
                arrivals,
                departures,
                in_house,
                to_clean,
                holds,
                ops,
            }))
        })
        .await?)
}

/// GET `/ui/today`: the start page after logging in.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<TodayQuery>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let now = (state.clock)();
    let names = Names::read(&state).await?;
    let body = match read_day(&state, q.property.clone(), now).await? {
        Ok(day) => render(&user, &names, &day, now),
        Err(props) if props.is_empty() => html! {
            h1 { "Today" }
            div.notice.info { "There are no properties yet. An administrator adds them through the API." }
        },
        Err(_) => return Err(UiError::not_found("that property does not exist")),
    };
    Ok(layout::page(&user, &server, Nav::Today, "Today", body))
}

/// Whether this server writes `b` and its property's rooms (so room actions succeed here).
fn here(names: &Names, p: &Property, b: &Booking) -> (bool, bool) {
    let edit = names.writable_here(&b.meta.owner);
    (edit, edit && names.writable_here(&p.meta.owner))
}

fn action_form(user: &UiUser, b: &Booking, action: &str, label: &str, extra: Markup) -> Markup {
    html! {
        form method="post" action={ "/ui/bookings/" (b.meta.id) "/" (action) } {
            (layout::csrf(user))
            input type="hidden" name="version" value=(b.meta.version);
            (extra)
            button type="submit" data-action=(action) data-booking=(b.meta.id) { (label) }
        }
    }
}

fn guest_cell(b: &Booking) -> Markup {
    html! {
        td {
            a href={ "/ui/bookings/" (b.meta.id) } { (b.guest_name) }
            br; span.muted.code { (b.meta.id) }
        }
    }
}

fn count(n: usize) -> Markup {
    html! { span.count { (n) } }
}

#[allow(
    clippy::too_many_lines,
    reason = "one maud template: the day's sections read best together"
)]
fn render(user: &UiUser, names: &Names, d: &Day, now: DateTime<Utc>) -> Markup {
    let p = &d.property;
    let desk = user.may(Permission::FrontDesk);
    let book = user.may(Permission::Book);
    let tz = p.timezone.as_str();
    html! {
        div.pagehead {
            h1 { "Today at " (p.name) }
            span.muted data-testid="today-date" { (user.dates.show(d.today)) " · " (tz) }
            span.spacer {}
            @if d.properties.len() > 1 {
                form.row method="get" action="/ui/today" {
                    label { "Property"
                        select name="property" {
                            @for x in &d.properties { option value=(x.code) selected[x.code == p.code] { (x.name) } }
                        }
                    }
                    button.secondary type="submit" { "Show" }
                }
            }
            a.button href={ "/ui/grid?" (query(&[("property", &p.code)])) } { "Tape chart" }
        }
        div.today-grid {
            section.card data-testid="arrivals" {
                h2 { "Arrivals" (count(d.arrivals.len())) }
                @if d.arrivals.is_empty() { p.muted { "No arrivals today." } } @else {
                    table.list {
                        thead { tr { th scope="col" { "Guest" } th scope="col" { "Room type" } th scope="col" { "Nights" } th scope="col" { "Action" } } }
                        tbody { @for a in &d.arrivals {
                            @let b = &a.booking;
                            @let (edit, rooms) = here(names, p, b);
                            tr data-booking=(b.meta.id) {
                                (guest_cell(b))
                                td { (b.room_type) @if b.units > 1 { " × " (b.units) } }
                                td { (b.nights().len()) }
                                td {
                                    @if b.status == BookingStatus::Provisional {
                                        @if book && edit { (action_form(user, b, "confirm", "Confirm", html! {})) }
                                        @else { a href={ "/ui/bookings/" (b.meta.id) } { "Open" } }
                                    } @else if !(desk && rooms) {
                                        a href={ "/ui/bookings/" (b.meta.id) } { "Open" }
                                    } @else if b.units > 1 || !b.stays.is_empty() {
                                        (action_form(user, b, "check-in", "Check in", html! {}))
                                    } @else if a.free_rooms.is_empty() {
                                        span.muted { "no free room" }
                                    } @else {
                                        (action_form(user, b, "check-in", "Check in", html! {
                                            label { "Room"
                                                select name="room" required {
                                                    @for r in &a.free_rooms { option value=(r) { (r) } }
                                                }
                                            }
                                        }))
                                    }
                                }
                            }
                        } }
                    }
                }
            }
            section.card data-testid="departures" {
                h2 { "Departures" (count(d.departures.len())) }
                @if d.departures.is_empty() { p.muted { "Nobody leaves today." } } @else {
                    table.list {
                        thead { tr { th scope="col" { "Guest" } th scope="col" { "Room" } th scope="col" { "Action" } } }
                        tbody { @for b in &d.departures {
                            @let (edit, _) = here(names, p, b);
                            tr data-booking=(b.meta.id) {
                                (guest_cell(b))
                                td { @if let Some(s) = b.stays.last() { (s.room) } }
                                td {
                                    a href={ "/ui/bookings/" (b.meta.id) "/folio" } { "Folio" } " "
                                    @if desk && edit { (action_form(user, b, "check-out", "Check out", html! {})) }
                                }
                            }
                        } }
                    }
                }
            }
            section.card data-testid="in-house" {
                h2 { "In house" (count(d.in_house.len())) }
                @if d.in_house.is_empty() { p.muted { "Nobody is checked in." } } @else {
                    table.list {
                        thead { tr { th scope="col" { "Guest" } th scope="col" { "Room" } th scope="col" { "Leaves" } th scope="col" {} } }
                        tbody { @for b in &d.in_house {
                            tr data-booking=(b.meta.id) {
                                (guest_cell(b))
                                td { @if let Some(s) = b.stays.last() { (s.room) } }
                                td { (user.dates.show(b.departure)) }
                                td { a href={ "/ui/bookings/" (b.meta.id) "/folio" } { "Folio" } }
                            }
                        } }
                    }
                }
            }
            section.card data-testid="to-clean" {
                h2 { "Rooms to clean" (count(d.to_clean.len())) }
                @if d.to_clean.is_empty() { p.muted { "No room is reported dirty." } } @else {
                    ul.plain { @for r in &d.to_clean {
                        li data-room=(r.number) { strong { (r.number) } " · " (r.room_type) " · " (r.housekeeping.clone().unwrap_or_default()) }
                    } }
                }
            }
            section.card data-testid="holds" {
                h2 { "Holds expiring soon" (count(d.holds.len())) }
                @if d.holds.is_empty() { p.muted { "No provisional hold lapses within " (HOLD_SOON_HOURS) " hours." } } @else {
                    table.list {
                        thead { tr { th scope="col" { "Guest" } th scope="col" { "Arrival" } th scope="col" { "Time left" } th scope="col" { "Action" } } }
                        tbody { @for b in &d.holds {
                            @let (edit, _) = here(names, p, b);
                            tr data-booking=(b.meta.id) {
                                (guest_cell(b))
                                td { (user.dates.show(b.arrival)) }
                                td { @if let Some(h) = b.hold_until { (format::time_left(h, now)) } }
                                td { @if book && edit { (action_form(user, b, "confirm", "Confirm", html! {})) }
                                     @else { a href={ "/ui/bookings/" (b.meta.id) } { "Open" } } }
                            }
                        } }
                    }
                }
            }
            section.card data-testid="operations" {
                h2 { "Sent to other servers, not done yet" (count(d.ops.len())) }
                @if d.ops.is_empty() { p.muted { "Nothing is waiting for another server." } } @else {
                    ul.plain { @for op in &d.ops {
                        li data-pending=(op.id) data-state=(op.state) {
                            strong { (words::action(op.summary.split_whitespace().next().unwrap_or(""))) } " · to " (names.server(&op.target)) " · "
                            (super::bookings::op_state_words(op))
                            " · " span.muted { (words::local_audit_time(&op.created_at, tz, user.dates)) }
                            @if let Some(e) = &op.last_error { br; span.muted { (e) } }
                        }
                    } }
                    p { a href="/ui/environment" { "All operations on the Environment page" } }
                }
            }
        }
    }
}

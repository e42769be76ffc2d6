//! A reservation's lines on a booking's page, and its edits: every line (room type, dates,
//! rooms, occupancy, rate plan, price, status) with the reservation's total; a form to add a
//! line (`AddReservationLine`, as `POST /api/v1/reservations/{ref}/lines`) and a form to change
//! this line's dates and occupancy (`EditBooking`, as `PATCH /api/v1/bookings/{ref}`: only the
//! fields that differ from the booking are sent, with the version the operator saw). The core
//! re-checks stock and re-prices by its stated rule; the page then shows the new price, and the
//! change with its old and new values is in the history. Forms are offered only when the edit
//! can succeed for this status and user; a booking written elsewhere is edited by sending the
//! change to its owner.

use super::booking_loaded::{LinesFacts, Loaded};
use super::format::{self};
use super::layout;
use super::session::UiUser;
use crate::auth::Permission;
use innsync_core::{Booking, BookingStatus, Money};
use maud::{html, Markup};

/// The reservation's total per currency, live lines only (as the API adds it up).
fn totals(lines: &[Booking]) -> Vec<Money> {
    let mut out: Vec<Money> = vec![];
    for p in lines
        .iter()
        .filter(|b| !matches!(b.status, BookingStatus::Cancelled | BookingStatus::NoShow))
        .filter_map(|b| b.price.as_ref())
    {
        match out.iter_mut().find(|m| m.currency == p.currency) {
            Some(m) => m.amount = m.amount.saturating_add(p.amount),
            None => out.push(p.clone()),
        }
    }
    out
}

/// A line's occupancy in words (`2 adults, children 7, 11`).
fn occupancy(b: &Booking) -> String {
    match &b.pricing {
        None => "—".into(),
        Some(p) => {
            let adults = if p.adults == 1 {
                "1 adult".to_string()
            } else {
                format!("{} adults", p.adults)
            };
            if p.children.is_empty() {
                adults
            } else {
                let ages: Vec<String> = p.children.iter().map(u8::to_string).collect();
                format!("{adults}, children {}", ages.join(", "))
            }
        }
    }
}

fn type_name<'a>(facts: &'a LinesFacts, code: &'a str) -> &'a str {
    facts
        .room_types
        .iter()
        .find(|t| t.code == code)
        .map_or(code, |t| t.name.as_str())
}

/// Whether this server may carry out changes of the booking: here, by sending them to the
/// owner, or not at all (the user's role).
fn editing(user: &UiUser, l: &Loaded) -> Option<bool> {
    user.may(Permission::Book)
        .then(|| l.names.writable_here(&l.booking.meta.owner))
}

/// The lines card of a booking's page.
pub(super) fn section(user: &UiUser, l: &Loaded) -> Markup {
    let b = &l.booking;
    let f = &l.lines;
    let d = user.dates;
    let reference = b.reservation.as_ref().unwrap_or(&b.meta.id);
    let sums = totals(&f.lines);
    html! {
        section.card data-testid="lines" {
            h2 {
                @if f.lines.len() > 1 { "Reservation " (reference) ": " (f.lines.len()) " lines" }
                @else { "Reservation" }
            }
            div.scroll tabindex="0" role="region" aria-label="Lines of the reservation" {
                table.list {
                    thead { tr {
                        th { "Line" } th { "Room type" } th { "Arrival" } th { "Departure" }
                        th { "Rooms" } th { "Occupancy" } th.opt { "Rate plan" } th { "Price" } th { "Status" }
                    } }
                    tbody {
                        @for x in &f.lines {
                            tr data-line=(x.meta.id) aria-current=[(x.meta.id == b.meta.id).then_some("true")] {
                                td { @if x.meta.id == b.meta.id { strong { (x.meta.id) } " (this one)" } @else { a href={ "/ui/bookings/" (x.meta.id) } { (x.meta.id) } } }
                                td { (type_name(f, &x.room_type)) " " span.muted.code { (x.room_type) } }
                                td { (d.show(x.arrival)) } td { (d.show(x.departure)) }
                                td { (x.units) } td { (occupancy(x)) }
                                td.opt { (x.pricing.as_ref().and_then(|p| p.rate_plan.as_deref()).unwrap_or("nightly rates")) }
                                td data-testid="line-price" { @if let Some(p) = &x.price { (format::money(p)) } @else { span.muted { "no rate" } } }
                                td { (layout::status_badge(x.status)) }
                            }
                        }
                    }
                }
            }
            p data-testid="reservation-total" {
                "Total of the reservation: "
                @if sums.is_empty() { span.muted { "no price" } }
                @for (i, m) in sums.iter().enumerate() { @if i > 0 { " + " } strong { (format::money(m)) } }
                span.muted { " (cancelled and no-show lines are not counted)" }
            }
            @if let Some(here) = editing(user, l) {
                (edit_form(user, l, here))
                (add_form(user, l, here))
            }
        }
    }
}

/// What the edit may change for the booking's status: `(dates, arrival)`; `None`: nothing of
/// the stay (closed bookings keep their stay and price).
fn editable(s: BookingStatus) -> Option<bool> {
    match s {
        BookingStatus::Provisional | BookingStatus::Confirmed => Some(true),
        BookingStatus::CheckedIn => Some(false),
        _ => None,
    }
}

fn hidden(user: &UiUser, b: &Booking, here: bool) -> Markup {
    html! {
        (layout::csrf(user))
        input type="hidden" name="version" value=(b.meta.version);
        @if !here { input type="hidden" name="forward" value="1"; }
    }
}

/// The rule the core re-prices by, for this booking, in words.
fn reprice_rule(l: &Loaded) -> String {
    let plan = l
        .booking
        .pricing
        .as_ref()
        .and_then(|p| p.rate_plan.as_deref())
        .and_then(|c| l.lines.plans.iter().find(|p| p.code == c));
    match plan {
        Some(p) if p.spec.reprice_on_edit => format!(
            "On {} every night is re-priced at today's rates.",
            p.spec.name
        ),
        _ => "Nights kept keep their booked price; added nights are priced at today's rates; \
              another occupancy re-prices every night."
            .into(),
    }
}

fn edit_form(user: &UiUser, l: &Loaded, here: bool) -> Markup {
    let b = &l.booking;
    let Some(arrival_too) = editable(b.status) else {
        return html! {};
    };
    let owner = l.names.authority(&b.meta.owner);
    let (adults, children) = match &b.pricing {
        Some(p) => (
            p.adults.to_string(),
            p.children
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None => (String::new(), String::new()),
    };
    html! {
        details data-testid="edit-line-box" {
        summary { "Change this line's dates or occupancy" }
        form.form-grid method="post" action={ "/ui/bookings/" (b.meta.id) "/edit" } data-testid="edit-line" {
            (hidden(user, b, here))
            @if arrival_too {
                (layout::date_field(user, "Arrival", "arrival", &user.dates.show(b.arrival), true))
            }
            (layout::date_field(user, "Departure", "departure", &user.dates.show(b.departure), true))
            label { "Adults per room" input type="number" name="adults" min="1" max="20" placeholder="1" value=(adults); }
            label { "Children's ages" input name="children" placeholder="7, 11" maxlength="80" value=(children); }
            p.wide.muted { (reprice_rule(l)) }
            p.wide { button type="submit" data-action="edit-line" {
                @if here { "Save changes" } @else { "Save changes: send to " (owner) }
            } }
        }
        }
    }
}

fn add_form(user: &UiUser, l: &Loaded, here: bool) -> Markup {
    let b = &l.booking;
    if !matches!(
        b.status,
        BookingStatus::Provisional | BookingStatus::Confirmed | BookingStatus::CheckedIn
    ) {
        return html! {};
    }
    let owner = l.names.authority(&b.meta.owner);
    html! {
        details data-testid="add-line-box" {
        summary { "Add a line (another room type, dates or occupancy)" }
        form.form-grid method="post" action={ "/ui/bookings/" (b.meta.id) "/lines" } data-testid="add-line" {
            (hidden(user, b, here))
            label { "Room type"
                select name="room_type" required {
                    @for t in &l.lines.room_types { option value=(t.code) selected[t.code == b.room_type] { (t.name) " (" (t.code) ")" } }
                }
            }
            label { "Rooms" input type="number" name="units" min="1" max="100" value="1"; }
            (layout::date_field(user, "Arrival", "arrival", &user.dates.show(b.arrival), true))
            (layout::date_field(user, "Departure", "departure", &user.dates.show(b.departure), true))
            label { "Rate plan"
                select name="rate_plan" {
                    option value="" { @if b.agent.is_some() { "The agent's contracted plan" } @else { "Nightly rates" } }
                    @for p in &l.lines.plans { option value=(p.code) { (p.spec.name) " (" (p.code) ")" } }
                }
            }
            label { "Adults per room" input type="number" name="adults" min="1" max="20" placeholder="1"; }
            label { "Children's ages" input name="children" placeholder="7, 11" maxlength="80"; }
            p.wide { button.secondary type="submit" data-action="add-line" {
                @if here { "Add line" } @else { "Add line: send to " (owner) }
            } }
        }
        }
    }
}

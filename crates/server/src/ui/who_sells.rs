//! The availability table of the tape chart, in numbers nobody can misread: per room type and
//! night, the rooms free at the property (big), how many of them this server may sell, and who
//! holds the rest — with a "request units" form that asks a holder for some (a pending
//! operation to the holder's server, relayed at once when it is reachable).

use super::error::{UiError, UiResult};
use super::format::query;
use super::layout;
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use innsync_core::{Authority, Command};
use innsync_store::who_sells::{NightWhoSells, WhoSells};
use maud::{html, Markup};
use serde::Deserialize;

/// Most units one request asks for.
pub const MAX_REQUEST_UNITS: u32 = 100;

/// The others' free units on a night, in words: "Kraal Lodge's server 3".
fn others(names: &Names, n: &NightWhoSells) -> Vec<(Authority, String, u32)> {
    let here = names.here();
    n.holders
        .iter()
        .filter(|h| h.holder != here && h.free > 0)
        .map(|h| (h.holder.clone(), names.holder(&h.holder), h.free))
        .collect()
}

/// One cell's class: free rooms decide the colour, never what this server holds.
fn cell_class(n: &NightWhoSells) -> &'static str {
    if n.free_at_property == 0 {
        "full"
    } else if n.sellable_here == 0 {
        "elsewhere"
    } else if n.free_at_property * 5 <= n.in_service {
        "low"
    } else {
        "free"
    }
}

/// The table: room types × nights.
pub fn table(
    user: &UiUser,
    names: &Names,
    w: &WhoSells,
    nights: &[NaiveDate],
    today: NaiveDate,
) -> Markup {
    let may_book = user.may(Permission::Book);
    let code = &w.property;
    html! {
        table.chart data-testid="availability" {
            caption.sr-only { "Rooms free at the property each night, and how many this server may sell" }
            thead {
                tr {
                    th.rowhead scope="col" { "Room type" }
                    @for d in nights {
                        @let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
                        th scope="col" class={ @if *d == today { "today" } @else if weekend { "weekend" } } {
                            span.dow { (d.format("%a")) } (d.day()) " " (d.format("%b"))
                        }
                    }
                }
            }
            tbody {
                @for rt in &w.room_types {
                    tr data-room-type=(rt.code) {
                        th.rowhead scope="row" { strong { (rt.name) } br; span.muted.code { (rt.code) } }
                        @for n in &rt.nights {
                            @let past = n.date < today;
                            @let rest = others(names, n);
                            td class={ (cell_class(n)) @if past { " past" } } data-night=(n.date)
                                data-free=(n.free_at_property) data-sellable=(n.sellable_here) {
                                span.avail title="rooms free at the property" { (n.free_at_property) " free" }
                                @if past {
                                    span.avail-sub { "past" }
                                } @else if n.sellable_here > 0 && may_book {
                                    a.avail-sub href={ "/ui/bookings/new?" (query(&[("stock", &format!("{code}/{}", rt.code)), ("arrival", &n.date.to_string()), ("departure", &(n.date + Days::new(1)).to_string())])) }
                                        { (n.sellable_here) " you can sell" }
                                } @else {
                                    span.avail-sub data-testid="sellable" { (n.sellable_here) " you can sell" }
                                }
                                @if !past && n.free_at_property > n.sellable_here {
                                    @for (_, name, free) in &rest {
                                        span.avail-sub.holder { (free) " with " (name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.legend {
            span.l-free { "free, you can sell" } span.l-elsewhere { "free, held by another server" } span.l-low { "nearly full" } span.l-full { "no room free" }
            span { "Big number: rooms nobody has booked at the property. Below: how many of them this server may sell, and who holds the rest." }
        }
    }
}

/// The "request units" form: shown where rooms are free at the property but another holder
/// holds them, for users who may move allotments.
pub fn request_form(
    user: &UiUser,
    names: &Names,
    w: &WhoSells,
    today: NaiveDate,
    back: &str,
) -> Markup {
    if !user.may(Permission::Rates) {
        return html! {};
    }
    let mut holders: Vec<(Authority, String)> = vec![];
    let mut first_short: Option<(String, NaiveDate)> = None;
    for rt in &w.room_types {
        for n in rt.nights.iter().filter(|n| n.date >= today) {
            for (a, name, _) in others(names, n) {
                if !holders.iter().any(|(x, _)| *x == a) {
                    holders.push((a, name));
                }
            }
            if first_short.is_none() && n.free_at_property > n.sellable_here {
                first_short = Some((rt.code.clone(), n.date));
            }
        }
    }
    let Some((rt0, d0)) = first_short else {
        return html! {};
    };
    if holders.is_empty() {
        return html! {};
    }
    html! {
        section.card data-testid="request-units" {
            h2 { "Request units" }
            p.muted { "Rooms are free at the property that another server holds. Ask it for some: the request goes to that server now if it is reachable, else it waits as a pending operation." }
            form.row method="post" action="/ui/allotments/request" {
                (layout::csrf(user))
                input type="hidden" name="property" value=(w.property);
                input type="hidden" name="back" value=(back);
                label { "Room type"
                    select name="room_type" required {
                        @for rt in &w.room_types { option value=(rt.code) selected[rt.code == rt0] { (rt.name) " (" (rt.code) ")" } }
                    }
                }
                (layout::date_field(user, "First night", "from", &d0.to_string(), true))
                (layout::date_field(user, "Departure", "to", &(d0 + Days::new(1)).to_string(), true))
                label { "Units" input type="number" name="units" min="1" max=(MAX_REQUEST_UNITS) value="1" required; }
                label { "From"
                    select name="from_holder" required {
                        option value="" disabled selected { "Choose who gives them…" }
                        @for (a, name) in &holders { option value=(a.to_string()) { (name) } }
                    }
                }
                button type="submit" data-action="request-units" { "Request units" }
            }
        }
    }
}

/// The request form's fields.
#[derive(Deserialize)]
pub struct RequestForm {
    property: String,
    room_type: String,
    from: String,
    to: String,
    units: u32,
    from_holder: String,
    #[serde(default)]
    back: String,
}

/// POST `/ui/allotments/request`: asks a holder for units for this server (as
/// `POST /api/v1/allotments/request`), then back to the chart with what happened.
pub async fn request(
    State(state): State<AppState>,
    Posted { user, form }: Posted<RequestForm>,
) -> UiResult<Response> {
    user.require(Permission::Rates)?;
    let names = Names::read(&state).await?;
    let back = super::session::safe_next(Some(&form.back));
    let date = |f: &str, v: &str| {
        user.dates
            .opt(f, Some(v))
            .and_then(|d| d.ok_or_else(|| format!("{f}: choose a date")))
            .map_err(|e| UiError::from(Problem::invalid(e)))
    };
    let (from, to) = (
        date("first night", &form.from)?,
        date("departure", &form.to)?,
    );
    let holder = Authority::parse(&form.from_holder)
        .map_err(|e| UiError::from(Problem::invalid(format!("from: {e}"))))?;
    if holder == names.here() || !(1..=MAX_REQUEST_UNITS).contains(&form.units) {
        return Err(UiError::bad_request(
            "choose another server's units, between 1 and 100",
        ));
    }
    let cmd = Command::GrantAllotment {
        property: form.property,
        room_type: form.room_type,
        from,
        to,
        units: form.units,
        to_holder: names.here(),
        from_holder: Some(holder.clone()),
        reason: Some(format!(
            "requested by {} on {}",
            user.username,
            names.server(&names.me)
        )),
    };
    let done = match crate::replication::relay_refused::submit(
        &state,
        cmd,
        &user.caller(),
        None,
        true,
    )
    .await
    {
        Ok(Submitted::Done(_)) => format!(
            "{} gave {} unit(s) to this server.",
            names.holder(&holder),
            form.units
        ),
        Ok(Submitted::Queued(op)) => format!(
            "{} is not reachable now; the request waits as pending operation {} and is sent when it is.",
            names.server(&op.target),
            op.id
        ),
        Err(p) => return Err(UiError::from(p)),
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}{}", query(&[("done", &done)]))).into_response())
}

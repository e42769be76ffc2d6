//! The create-booking form, with live availability for the chosen room type and dates (an
//! htmx partial refreshed whenever the form changes). Submitting runs the API's
//! `CreateBooking` command with an idempotency key rendered into the form, so sending the
//! same form twice books once; a refusal (no availability on a night, a date in the past)
//! shows the form again, filled in, with the reason in plain words.

use super::booking_agent;
use super::error::{UiError, UiResult};
use super::format;
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::{new_token, Permission};
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use innsync_core::agent::Agent;
use innsync_core::command::PricingRequest;
use innsync_core::dates::Nights;
use innsync_core::dates::{local_date, parse_tz};
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_core::pricing::{quote, Party, PricingPlan};
use innsync_core::{Command, GuestInput, InitialStatus, Money, Outcome, Record, RoomType};
use innsync_store::who_sells::TypeWhoSells;
use maud::{html, Markup};
use serde::Deserialize;

/// Hours a provisional hold lasts unless the operator says otherwise.
pub const DEFAULT_HOLD_HOURS: i64 = 24;
/// Longest hold the form offers, in hours (30 days).
pub const MAX_HOLD_HOURS: i64 = 720;
/// Most nights the live availability table lists one by one.
pub const MAX_LIVE_NIGHTS: usize = 31;

/// The form's fields, as typed (also the query that pre-fills it).
#[derive(Deserialize, Default, Clone)]
pub struct NewForm {
    /// `PROPERTY/ROOM_TYPE`.
    #[serde(default)]
    stock: String,
    #[serde(default)]
    arrival: String,
    #[serde(default)]
    departure: String,
    #[serde(default)]
    units: String,
    /// The guest picked in the look-up (empty: a new guest from the fields).
    #[serde(default)]
    guest_id: String,
    /// What was typed into the look-up.
    #[serde(default)]
    guest_q: String,
    #[serde(default)]
    guest_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    hold_hours: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    idem: String,
    /// `PROPERTY/PLAN`, or empty for the nightly rates.
    #[serde(default)]
    rate_plan: String,
    #[serde(default)]
    adults: String,
    /// Children's ages, `7, 11`.
    #[serde(default)]
    children: String,
    /// The agent's code, or empty for a direct booking.
    #[serde(default)]
    agent: String,
}

/// What the live availability needs, parsed.
struct Wanted {
    property: String,
    room_type: String,
    nights: Nights,
    units: u32,
}

fn wanted(dates: format::DateStyle, f: &NewForm) -> Result<Wanted, String> {
    let (property, room_type) = f
        .stock
        .split_once('/')
        .filter(|(p, t)| !p.is_empty() && !t.is_empty())
        .ok_or("choose a room type")?;
    let arrival = dates
        .opt("arrival", Some(&f.arrival))?
        .ok_or("choose an arrival date")?;
    let departure = dates
        .opt("departure", Some(&f.departure))?
        .ok_or("choose a departure date")?;
    let nights = Nights::stay(arrival, departure)?;
    let units = match f.units.trim() {
        "" => 1,
        u => u
            .parse()
            .map_err(|_| format!("units: {u:?} is not a whole number"))?,
    };
    Ok(Wanted {
        property: property.to_string(),
        room_type: room_type.to_string(),
        nights,
        units,
    })
}

/// Every property's room types, for the grouped select.
async fn stock_choices(state: &AppState) -> UiResult<Vec<(String, String, Vec<RoomType>)>> {
    Ok(state
        .read(|r| {
            r.properties()?
                .into_iter()
                .map(|p| Ok((p.code.clone(), p.name, r.room_types(&p.code)?)))
                .collect()
        })
        .await?)
}

/// Each property's code, name and room types.
type StockChoices = [(String, String, Vec<RoomType>)];
/// Each property's code and rate plans.
type PlanChoices = [(String, Vec<PricingPlan>)];

/// Every property's rate plans, for the plan select.
pub(super) async fn plan_choices(state: &AppState) -> UiResult<Vec<(String, Vec<PricingPlan>)>> {
    Ok(state
        .read(|r| {
            r.properties()?
                .into_iter()
                .map(|p| Ok((p.code.clone(), r.pricing_plans(&p.code)?)))
                .collect()
        })
        .await?)
}

/// The pricing the form asks for: none when it names no plan and no occupancy.
fn pricing_of(f: &NewForm, property: &str) -> Result<Option<PricingRequest>, String> {
    let plan = match f.rate_plan.split_once('/') {
        None if f.rate_plan.trim().is_empty() => None,
        Some((p, c)) if p == property && !c.is_empty() => Some(c.to_string()),
        _ => return Err(format!("rate plan: choose one of {property}'s plans")),
    };
    if plan.is_none() && f.adults.trim().is_empty() && f.children.trim().is_empty() {
        return Ok(None);
    }
    let adults = match f.adults.trim() {
        "" => 1,
        a => a
            .parse()
            .map_err(|_| format!("adults: {a:?} is not a whole number"))?,
    };
    let children = crate::api::quote_ages(&f.children).map_err(|p| p.detail)?;
    Ok(Some(PricingRequest {
        rate_plan: plan,
        party: Party { adults, children },
    }))
}

fn form_page(
    state: &AppState,
    user: &UiUser,
    (choices, plans, agents): (&StockChoices, &PlanChoices, &[Agent]),
    f: &NewForm,
    problem: Option<&Problem>,
    live: Markup,
) -> Markup {
    let server = state.writer.server().to_string();
    let idem = if f.idem.is_empty() {
        new_token()
    } else {
        f.idem.clone()
    };
    let units = if f.units.is_empty() { "1" } else { &f.units };
    let hold = if f.hold_hours.is_empty() {
        DEFAULT_HOLD_HOURS.to_string()
    } else {
        f.hold_hours.clone()
    };
    let provisional = f.status == "provisional";
    let plan = if f.rate_plan.is_empty() {
        booking_agent::contracted_choice(booking_agent::find(agents, &f.agent), &f.stock, plans)
            .unwrap_or_default()
    } else {
        f.rate_plan.clone()
    };
    let body = html! {
        h1 { "New booking" }
        @if let Some(p) = problem { (layout::problem_box(p)) }
        div.cols {
            form.card #booking-form method="post" action="/ui/bookings" data-testid="new-booking" {
                (layout::csrf(user))
                input type="hidden" name="idem" value=(idem);
                div.form-grid {
                    label.wide { "Room type"
                        select name="stock" required {
                            option value="" { "Choose…" }
                            @for (code, name, types) in choices {
                                optgroup label=(name) {
                                    @for t in types {
                                        @let v = format!("{code}/{}", t.code);
                                        option value=(v) selected[v == f.stock] { (name) " · " (t.name) " (" (t.code) ")" }
                                    }
                                }
                            }
                        }
                    }
                    (layout::date_field(user, "Arrival", "arrival", &f.arrival, true))
                    (layout::date_field(user, "Departure", "departure", &f.departure, true))
                    label { "Rooms" input type="number" name="units" min="1" max="100" value=(units); }
                    @if !agents.is_empty() { (booking_agent::picker(agents, &f.agent)) }
                    div.wide #plan-field { (booking_agent::plan_select(plans, &plan)) }
                    label { "Adults per room" input type="number" name="adults" min="1" max="20" placeholder="1" value=(f.adults); }
                    label { "Children's ages" input name="children" placeholder="7, 11" maxlength="80" value=(f.children); }
                    label { "Status"
                        select name="status" {
                            option value="confirmed" selected[!provisional] { "Confirmed" }
                            option value="provisional" selected[provisional] { "Provisional (held)" }
                        }
                    }
                    label { "Hold for (hours, provisional only)" input type="number" name="hold_hours" min="1" max=(MAX_HOLD_HOURS) value=(hold); }
                    label.wide { "Find a returning guest"
                        input type="search" name="guest_q" maxlength="200" value=(f.guest_q)
                            placeholder="name, e-mail, phone or booking reference" autocomplete="off"
                            hx-get="/ui/guests/lookup" hx-trigger="input changed delay:300ms, search"
                            hx-target="#guest-matches" hx-include="[name='guest_q'],[name='guest_id']"
                            hx-sync="this:queue last"
                            data-testid="guest-lookup";
                    }
                    div.wide #guest-matches {
                        @if !f.guest_id.is_empty() {
                            label { input type="radio" name="guest_id" value=(f.guest_id) checked; " Guest " (f.guest_id) }
                        }
                    }
                    label.wide { "Guest name (new guest)" input name="guest_name" maxlength="200" value=(f.guest_name); }
                    label { "E-mail" input type="email" name="email" maxlength="254" value=(f.email); }
                    label { "Phone" input type="tel" name="phone" maxlength="50" value=(f.phone); }
                    label.wide { "Notes" textarea name="notes" maxlength="2000" { (f.notes) } }
                }
                p { button type="submit" data-action="create" { "Create booking" } }
            }
            section.card {
                h2 { "Availability" }
                div.live #live data-testid="live"
                    hx-get="/ui/bookings/new/availability"
                    hx-trigger="change from:#booking-form"
                    hx-include="[name='stock'],[name='arrival'],[name='departure'],[name='units'],[name='rate_plan'],[name='adults'],[name='children'],[name='agent']"
                    hx-sync="this:queue last" aria-live="polite" {
                    (live)
                }
            }
        }
    };
    layout::page(user, &server, Nav::NewBooking, "New booking", body)
}

/// GET `/ui/bookings/new`, optionally pre-filled (`stock`, `arrival`, `departure`).
pub async fn form(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<NewForm>,
) -> UiResult<Markup> {
    user.require(Permission::Book)?;
    let choices = stock_choices(&state).await?;
    let plans = plan_choices(&state).await?;
    let prefill = NewForm {
        idem: String::new(),
        ..q
    };
    let live = live(&state, user.dates, &prefill).await?;
    let agents = booking_agent::agents(&state).await?;
    Ok(form_page(
        &state,
        &user,
        (&choices, &plans, &agents),
        &prefill,
        None,
        live,
    ))
}

fn live_table(names: &Names, w: &Wanted, rt: &TypeWhoSells) -> Markup {
    let min = rt.nights.iter().min_by_key(|n| n.sellable_here);
    let min_free = rt.nights.iter().min_by_key(|n| n.free_at_property);
    html! {
        @match (min, min_free) {
            (Some(m), _) if m.sellable_here >= w.units => {
                div.notice.good data-testid="live-summary" data-ok="true" {
                    strong { (m.sellable_here) } " " (rt.name) " free on every night; " (w.units) " requested."
                }
            }
            (Some(m), Some(f)) if f.free_at_property >= w.units => {
                div.notice.warn data-testid="live-summary" data-ok="false" {
                    strong { "Free at the property, held by another server" } ": on " (m.date) " this server may sell "
                    (m.sellable_here) " of the " (m.free_at_property) " free " (rt.name) "; "
                    @for h in m.holders.iter().filter(|h| h.free > 0 && h.holder != names.here()) {
                        (names.holder(&h.holder)) " holds " (h.free) ". "
                    }
                    "Request units on the tape chart, or book on that server."
                }
            }
            (Some(m), _) => {
                div.notice.bad data-testid="live-summary" data-ok="false" {
                    strong { "No availability" } ": " (m.free_at_property) " of " (m.in_service) " " (rt.name) " free on " (m.date) "; " (w.units) " requested."
                }
            }
            _ => {}
        }
        @if rt.nights.len() <= MAX_LIVE_NIGHTS {
            div.scroll {
                table {
                    tr { th scope="row" { "Night" } @for n in &rt.nights { th scope="col" { (format::night_header(n.date).1) } } }
                    tr { th scope="row" { "Free at the property" } @for n in &rt.nights { td class=[(n.free_at_property < w.units).then_some("full")] { (n.free_at_property) } } }
                    tr { th scope="row" { "You can sell" } @for n in &rt.nights { td class=[(n.sellable_here < w.units).then_some("full")] { (n.sellable_here) } } }
                }
            }
        }
    }
}

/// GET `/ui/bookings/new/availability`: the live availability fragment (htmx).
pub async fn availability(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<NewForm>,
) -> UiResult<Markup> {
    live(&state, user.dates, &q).await
}

/// The availability of what the form asks for, or what is still missing to tell.
async fn live(state: &AppState, dates: format::DateStyle, q: &NewForm) -> UiResult<Markup> {
    let w = match wanted(dates, q) {
        Ok(w) => w,
        Err(why) => {
            return Ok(html! { p.muted data-testid="live-summary" { (capital(&why)) "." } })
        }
    };
    let nights = match Nights::new(w.nights.from, w.nights.to, MAX_RANGE_NIGHTS) {
        Ok(n) => n,
        Err(why) => {
            return Ok(html! { p.muted data-testid="live-summary" { (capital(&why)) "." } })
        }
    };
    let (p, t) = (w.property.clone(), w.room_type.clone());
    let now = (state.clock)();
    let found = state
        .read(move |r| {
            let Some(prop) = r.property(&p)? else {
                return Ok(None);
            };
            let today = parse_tz(&prop.timezone)
                .map(|tz| local_date(now, tz))
                .unwrap_or_else(|_| now.date_naive());
            let w = r.who_sells(&p, nights)?;
            Ok(Some((
                today,
                w.and_then(|w| w.room_types.into_iter().find(|rt| rt.code == t)),
            )))
        })
        .await?;
    let (today, found) = match found {
        Some((today, found)) => (today, found),
        None => (nights.from, None),
    };
    if w.nights.from < today {
        return Ok(html! {
            div.notice.bad data-testid="live-summary" data-ok="false" {
                strong { "The arrival is in the past" } ": the property's today is " (dates.show(today)) "; choose an arrival from today on."
            }
        });
    }
    let names = Names::read(state).await?;
    let price = quoted_price(state, q, &w).await?;
    Ok(match found {
        Some(rt) => html! { (live_table(&names, &w, &rt)) (price) },
        None => html! { p.muted data-testid="live-summary" { "That room type does not exist." } },
    })
}

/// The price the booking would be sold at, as the quote gives it (or why it cannot be).
async fn quoted_price(state: &AppState, q: &NewForm, w: &Wanted) -> UiResult<Markup> {
    let pricing = match pricing_of(q, &w.property) {
        Ok(p) => p,
        Err(why) => return Ok(html! { p.muted data-testid="live-price" { (capital(&why)) "." } }),
    };
    let agents = booking_agent::agents(state).await?;
    let agent = booking_agent::find(&agents, &q.agent);
    // The agent's contracted plan when the form names none, as the core prices it.
    let plan = pricing
        .as_ref()
        .and_then(|p| p.rate_plan.clone())
        .or_else(|| agent.and_then(|a| a.spec.rate_plan.clone()));
    let party = pricing.map(|p| p.party).unwrap_or(Party {
        adults: 1,
        children: vec![],
    });
    let (p, nights) = (w.property.clone(), w.nights);
    let Some(mut facts) = state.read(move |r| r.quote_facts(&p, nights)).await? else {
        return Ok(html! {});
    };
    facts.room_types.retain(|t| t.code == w.room_type);
    if plan.is_none() {
        facts.plans.clear();
    }
    let line = quote(&facts, nights, &party, w.units, plan.as_deref())
        .into_iter()
        .next();
    let total = line.as_ref().and_then(|l| {
        Some(Money {
            amount: l.total? * i64::from(w.units),
            currency: l.currency.clone()?,
        })
    });
    let about_agent = match agent {
        Some(a) => booking_agent::summary(&Names::read(state).await?, a, total.as_ref()),
        None => html! {},
    };
    let price = match line {
        None => html! { p.muted data-testid="live-price" { "No such rate plan." } },
        Some(l) => match (&l.refused, l.total) {
            (Some(r), _) => html! {
                div.notice.bad data-testid="live-price" data-ok="false" {
                    strong { "Not sold on this plan" } ": " (r.detail) "."
                }
            },
            (None, Some(total)) => {
                let cur = l.currency.clone().unwrap_or_default();
                html! {
                    div.notice.good data-testid="live-price" data-ok="true" data-total=(total * i64::from(w.units)) {
                        "Price: " strong { (format::money(&Money { amount: total * i64::from(w.units), currency: cur.clone() })) }
                        " for " (w.units) " room(s), " (l.nightly.len()) " night(s)"
                        @if let Some(rule) = &l.rule { " · " (rule) }
                    }
                }
            }
            (None, None) => html! {},
        },
    };
    Ok(html! { (price) (about_agent) })
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn command_of(
    dates: format::DateStyle,
    f: &NewForm,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Command, Problem> {
    let w = wanted(dates, f).map_err(Problem::invalid)?;
    let pricing = pricing_of(f, &w.property).map_err(Problem::invalid)?;
    let status = match f.status.as_str() {
        "" | "confirmed" => InitialStatus::Confirmed,
        "provisional" => InitialStatus::Provisional,
        other => return Err(Problem::invalid(format!("unknown status {other:?}"))),
    };
    let hold_until = match status {
        InitialStatus::Confirmed => None,
        InitialStatus::Provisional => {
            let hours: i64 = match f.hold_hours.trim() {
                "" => DEFAULT_HOLD_HOURS,
                h => h.parse().map_err(|_| {
                    Problem::invalid(format!("hold: {h:?} is not a whole number of hours"))
                })?,
            };
            if !(1..=MAX_HOLD_HOURS).contains(&hours) {
                return Err(Problem::invalid(format!(
                    "hold: between 1 and {MAX_HOLD_HOURS} hours"
                )));
            }
            Some(now + Duration::hours(hours))
        }
    };
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let guest = match f.guest_id.trim() {
        "" if f.guest_name.trim().is_empty() => {
            return Err(Problem::invalid(
                "guest name: please enter the guest's name or pick a returning guest",
            ))
        }
        "" => GuestInput::New {
            name: f.guest_name.trim().to_string(),
            email: opt(&f.email),
            phone: opt(&f.phone),
        },
        id => GuestInput::Existing(
            innsync_core::RecordId::parse(id)
                .map_err(|e| Problem::invalid(format!("guest: {e}")))?,
        ),
    };
    let agent = opt(&f.agent);
    if agent.is_some() {
        // Sold for an agent: the one-line reservation the API's `agent` field makes.
        return Ok(Command::CreateReservation {
            property: w.property,
            arrival: None,
            departure: None,
            lines: vec![innsync_core::ReservationLine {
                room_type: w.room_type,
                arrival: Some(w.nights.from),
                departure: Some(w.nights.to),
                units: w.units,
                pricing,
            }],
            guest,
            status,
            hold_until,
            notes: opt(&f.notes),
            agent,
        });
    }
    Ok(Command::CreateBooking {
        property: w.property,
        room_type: w.room_type,
        arrival: w.nights.from,
        departure: w.nights.to,
        units: w.units,
        guest,
        status,
        hold_until,
        notes: opt(&f.notes),
        pricing,
    })
}

/// POST `/ui/bookings`: creates the booking and opens it, or shows the form again with why not.
pub async fn create(
    State(state): State<AppState>,
    Posted { user, form }: Posted<NewForm>,
) -> UiResult<Response> {
    user.require(Permission::Book)?;
    let now = (state.clock)();
    let key = Some(form.idem.clone())
        .filter(|k| !k.is_empty() && k.len() <= crate::extract::MAX_IDEMPOTENCY_KEY_LEN)
        .map(|k| format!("ui:{k}"));
    let agents = booking_agent::agents(&state).await?;
    let names = Names::read(&state).await?;
    // A booking for an agent whose allotment another server holds is written there.
    let forward = booking_agent::find(&agents, &form.agent)
        .is_some_and(|a| booking_agent::sold_elsewhere(&names, a));
    let result = match command_of(user.dates, &form, now) {
        Ok(cmd) => {
            crate::replication::relay_refused::submit(&state, cmd, &user.caller(), key, forward)
                .await
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(Submitted::Queued(op)) => Ok(Redirect::to(&format!(
            "/ui/bookings?{}",
            format::query(&[("sent", &op.target)])
        ))
        .into_response()),
        Ok(Submitted::Done(out)) => match out.outcome() {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => Ok(
                Redirect::to(&format!("/ui/bookings/{}?done=created", b.meta.id)).into_response(),
            ),
            _ => Err(UiError::from(Problem::unavailable(
                "unexpected record written",
            ))),
        },
        Err(p) => {
            let p = Problem {
                detail: names.plain(&p.detail),
                ..p
            };
            let choices = stock_choices(&state).await?;
            let plans = plan_choices(&state).await?;
            // A refused form gets a fresh key: the next attempt is a new request.
            let again = NewForm {
                idem: String::new(),
                ..form
            };
            let live = live(&state, user.dates, &again).await?;
            Ok((
                p.status,
                form_page(
                    &state,
                    &user,
                    (&choices, &plans, &agents),
                    &again,
                    Some(&p),
                    live,
                ),
            )
                .into_response())
        }
    }
}

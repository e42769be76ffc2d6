//! Allotments of a property (API-only before beyond the chart's "request units"): who holds how
//! many rooms of each type on each night and how many each has sold (the holdings
//! `GET /api/v1/allotments` answers), a form to give units from this server's own allotment to
//! another holder (`GrantAllotment`, decided here, as `POST /api/v1/allotments/grant`), and the
//! chart's request form to ask another holder for units. Forms only for users who may move
//! allotments and only where another holder exists; a refused grant is shown inline with the
//! form as typed.

use super::error::{UiError, UiResult};
use super::format::query;
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Days, NaiveDate};
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_core::{Authority, Command, Property};
use innsync_store::Holdings;
use maud::{html, Markup};
use serde::Deserialize;

/// Nights shown when the page names none.
pub const DEFAULT_NIGHTS: u64 = 14;
/// Most units one grant moves.
pub const MAX_GRANT_UNITS: u32 = 100;

/// Query of the page, and the grant form's fields.
#[derive(Deserialize, Default, Clone)]
pub struct AllotQuery {
    #[serde(default)]
    property: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    done: String,
    /// The grant's first night (its own field: the page's range stays as it was).
    #[serde(default)]
    grant_from: String,
    /// The grant's departure.
    #[serde(default)]
    grant_to: String,
    #[serde(default)]
    room_type: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    to_holder: String,
    #[serde(default)]
    reason: String,
}

/// Every other holder this server could give units to or ask them from.
fn others(state: &AppState, names: &Names) -> Vec<(Authority, String)> {
    let here = names.here();
    let mut out: Vec<(Authority, String)> = vec![];
    if here != Authority::Env {
        out.push((Authority::Env, names.holder(&Authority::Env)));
    }
    if let Some(ctx) = &state.env {
        for s in &ctx.env.servers {
            let a = Authority::Server(s.code.clone());
            if a != here {
                out.push((a.clone(), names.holder(&a)));
            }
        }
    }
    out
}

async fn load(
    state: &AppState,
    user: &UiUser,
    q: &AllotQuery,
) -> UiResult<(Vec<Property>, Property, Option<Holdings>)> {
    let wanted = q.property.clone();
    let (properties, found) = state
        .read(move |r| {
            let properties = r.properties()?;
            let p = if wanted.is_empty() {
                properties.first().cloned()
            } else {
                properties.iter().find(|p| p.code == wanted).cloned()
            };
            Ok((properties, p))
        })
        .await?;
    let Some(p) = found else {
        return Err(UiError::not_found(if q.property.is_empty() {
            "there are no properties yet".to_string()
        } else {
            format!("there is no property {}", q.property)
        }));
    };
    let now = (state.clock)();
    let today = parse_tz(&p.timezone).map_or_else(|_| now.date_naive(), |tz| local_date(now, tz));
    let date = |f: &str, v: &str| user.dates.opt(f, Some(v)).map_err(Problem::invalid);
    let from = date("from", &q.from)?.unwrap_or(today);
    let to = date("to", &q.to)?.unwrap_or(from + Days::new(DEFAULT_NIGHTS));
    let nights = Nights::new(from, to, MAX_RANGE_NIGHTS).map_err(Problem::invalid)?;
    let code = p.code.clone();
    let holdings = state.read(move |r| r.holdings(&code, nights)).await?;
    Ok((properties, p, holdings))
}

/// GET `/ui/allotments`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<AllotQuery>,
) -> UiResult<Markup> {
    let notice = (!q.done.is_empty()).then(|| layout::done_box(&q.done));
    render(&state, &user, &q, notice).await
}

async fn render(
    state: &AppState,
    user: &UiUser,
    q: &AllotQuery,
    notice: Option<Markup>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let names = Names::read(state).await?;
    let (properties, p, holdings) = load(state, user, q).await?;
    let others = others(state, &names);
    let back = format!("/ui/allotments?{}", query(&[("property", &p.code)]));
    let body = html! {
        div.pagehead {
            h1 { "Allotments at " (p.name) }
            span.spacer {}
            form.row method="get" action="/ui/allotments" {
                @if properties.len() > 1 {
                    label { "Property" select name="property" {
                        @for x in &properties { option value=(x.code) selected[x.code == p.code] { (x.name) } }
                    } }
                } @else { input type="hidden" name="property" value=(p.code); }
                (layout::date_field(user, "From", "from", &q.from, false))
                (layout::date_field(user, "To", "to", &q.to, false))
                button.secondary type="submit" { "Show" }
            }
        }
        @if let Some(n) = notice { (n) }
        p.muted { "Each server sells rooms from the units it holds; " (names.holder(&p.meta.owner)) " holds whatever it has not given away. Each cell shows the units held that night and, below, how many of them are sold." }
        @if let Some(h) = &holdings {
            @for rt in &h.room_types {
                section.card data-testid="holdings" data-room-type=(rt.code) {
                    h2 { (rt.name) " " span.muted.code { (rt.code) } }
                    div.scroll tabindex="0" role="region" aria-label={ "Allotments of " (rt.name) } {
                        table.list {
                            thead { tr { th scope="col" { "Holder" } @for n in &rt.nights { @let (wd, dm) = super::format::night_header(n.date); th scope="col" title=(user.dates.show(n.date)) { (wd) br; (dm) } } } }
                            tbody {
                                @for a in holders_of(rt) {
                                    tr data-holder=(a.to_string()) {
                                        td { strong { (names.holder(&a)) } }
                                        @for n in &rt.nights {
                                            @let x = n.holders.iter().find(|x| x.holder == a);
                                            td class=[x.filter(|x| i64::from(x.sold) > x.held).map(|_| "full")] {
                                                @if let Some(x) = x { strong { (x.held) } " held" br; span.muted { (x.sold) " sold" } } @else { "—" }
                                            }
                                        }
                                    }
                                }
                                tr { td { "Rooms in service" } @for n in &rt.nights { td { (n.in_service) } } }
                            }
                        }
                    }
                }
            }
        }
        @if user.may(Permission::Rates) && !others.is_empty() {
            (grant_form(user, &names, &p, holdings.as_ref(), &others, q))
            @if let Some(h) = &holdings { (request_form(user, h, &others, &back)) }
        }
    };
    Ok(layout::page(
        user,
        &server,
        Nav::Allotments,
        "Allotments",
        body,
    ))
}

/// Every holder that appears on some night, in order of appearance.
fn holders_of(rt: &innsync_store::RoomTypeHoldings) -> Vec<Authority> {
    let mut out: Vec<Authority> = vec![];
    for n in &rt.nights {
        for h in &n.holders {
            if !out.contains(&h.holder) {
                out.push(h.holder.clone());
            }
        }
    }
    out
}

fn type_choices(h: Option<&Holdings>, chosen: &str) -> Markup {
    html! {
        select name="room_type" required {
            @if let Some(h) = h { @for rt in &h.room_types { option value=(rt.code) selected[rt.code == chosen] { (rt.name) " (" (rt.code) ")" } } }
        }
    }
}

fn grant_form(
    user: &UiUser,
    names: &Names,
    p: &Property,
    h: Option<&Holdings>,
    others: &[(Authority, String)],
    q: &AllotQuery,
) -> Markup {
    let units = if q.units.is_empty() { "1" } else { &q.units };
    html! {
        section.card data-testid="grant-units" {
            h2 { "Give units from " (names.holder(&names.here())) }
            form.row method="post" action="/ui/allotments/grant" {
                (layout::csrf(user))
                input type="hidden" name="property" value=(p.code);
                // The page's range, so the page comes back as it was.
                input type="hidden" name="from" value=(q.from);
                input type="hidden" name="to" value=(q.to);
                label { "Room type" (type_choices(h, &q.room_type)) }
                (layout::date_field(user, "First night", "grant_from", &q.grant_from, true))
                (layout::date_field(user, "Departure", "grant_to", &q.grant_to, true))
                label { "Units" input type="number" name="units" min="1" max=(MAX_GRANT_UNITS) value=(units) required; }
                label { "To"
                    select name="to_holder" required {
                        option value="" disabled selected[q.to_holder.is_empty()] { "Choose who receives them…" }
                        @for (a, name) in others { option value=(a.to_string()) selected[a.to_string() == q.to_holder] { (name) } }
                    }
                }
                label { "Reason" input name="reason" maxlength="500" placeholder="optional" value=(q.reason); }
                button type="submit" data-action="grant-units" { "Give units" }
            }
        }
    }
}

fn request_form(user: &UiUser, h: &Holdings, others: &[(Authority, String)], back: &str) -> Markup {
    html! {
        section.card data-testid="request-units" {
            h2 { "Request units" }
            p.muted { "The request goes to that server now if it is reachable, else it waits as a pending operation." }
            form.row method="post" action="/ui/allotments/request" {
                (layout::csrf(user))
                input type="hidden" name="property" value=(h.property);
                input type="hidden" name="back" value=(back);
                label { "Room type" (type_choices(Some(h), "")) }
                (layout::date_field(user, "First night", "from", "", true))
                (layout::date_field(user, "Departure", "to", "", true))
                label { "Units" input type="number" name="units" min="1" max=(MAX_GRANT_UNITS) value="1" required; }
                label { "From"
                    select name="from_holder" required {
                        option value="" disabled selected { "Choose who gives them…" }
                        @for (a, name) in others { option value=(a.to_string()) { (name) } }
                    }
                }
                button type="submit" data-action="request-units" { "Request units" }
            }
        }
    }
}

/// POST `/ui/allotments/grant`: gives units from this server's allotment; back to the page
/// with what was done, or the page again with the refusal and the form as typed.
pub async fn grant(
    State(state): State<AppState>,
    Posted { user, form }: Posted<AllotQuery>,
) -> UiResult<Response> {
    user.require(Permission::Rates)?;
    let names = Names::read(&state).await?;
    let built = grant_command(&user, &form);
    let result = match built {
        Ok(cmd) => crate::write::submit(&state, cmd, &user.username, None)
            .await
            .map_err(Problem::from),
        Err(p) => Err(p),
    };
    match result {
        Ok(_) => {
            let to = Authority::parse(&form.to_holder)
                .map_or_else(|_| form.to_holder.clone(), |a| names.holder(&a));
            let done = format!("Gave {} unit(s) to {to}.", form.units.trim());
            Ok(Redirect::to(&format!(
                "/ui/allotments?{}",
                query(&[
                    ("property", &form.property),
                    ("from", &form.from),
                    ("to", &form.to),
                    ("done", &done)
                ])
            ))
            .into_response())
        }
        Err(p) => {
            let shown = Problem {
                detail: names.plain(&p.detail),
                ..p
            };
            let status = if shown.status.is_success() {
                StatusCode::CONFLICT
            } else {
                shown.status
            };
            let page = render(&state, &user, &form, Some(layout::problem_box(&shown))).await?;
            Ok((status, page).into_response())
        }
    }
}

fn grant_command(user: &UiUser, f: &AllotQuery) -> Result<Command, Problem> {
    let date = |what: &str, v: &str| -> Result<NaiveDate, Problem> {
        user.dates
            .opt(what, Some(v))
            .and_then(|d| d.ok_or_else(|| format!("{what}: choose a date")))
            .map_err(Problem::invalid)
    };
    let units: u32 = f
        .units
        .trim()
        .parse()
        .ok()
        .filter(|u| (1..=MAX_GRANT_UNITS).contains(u))
        .ok_or_else(|| {
            Problem::invalid(format!("units: a whole number from 1 to {MAX_GRANT_UNITS}"))
        })?;
    let to_holder = Authority::parse(&f.to_holder)
        .map_err(|_| Problem::invalid("to: choose who receives the units"))?;
    Ok(Command::GrantAllotment {
        property: f.property.clone(),
        room_type: f.room_type.clone(),
        from: date("first night", &f.grant_from)?,
        to: date("departure", &f.grant_to)?,
        units,
        to_holder,
        from_holder: None,
        reason: Some(f.reason.trim().to_string()).filter(|r| !r.is_empty()),
    })
}

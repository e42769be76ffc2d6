//! Rate plans of a property (API-only before): the list, one plan's prices and seasons, and a
//! form to create or change a simple plan — a price per room type and seasons with their own
//! prices, in the currency's units as the front desk types them (`80` or `80.50`). Saving runs
//! the API's `PutRatePlan` with the version the operator saw, so a plan changed meanwhile is
//! refused, not overwritten; what the simple form does not show (restrictions, deposit,
//! cancellation terms, child prices) is kept as it was. A refusal is shown inline with the form
//! as typed. Derived plans are shown, not edited here. Only users who may set rates see the
//! form; where the property is written elsewhere the plan is sent there.

use super::admin_plans_draft::{spec_of, units, Draft, DEFAULT_ADULTS_INCLUDED};
use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::pricing::{PlanBasis, PricingPlan};
use innsync_core::{Command, Money, Property, RoomType};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Query of the page.
#[derive(Deserialize, Default)]
pub struct PlansQuery {
    #[serde(default)]
    property: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    done: String,
}

/// A property with its room types and plans.
struct Facts {
    properties: Vec<Property>,
    property: Property,
    types: Vec<RoomType>,
    plans: Vec<PricingPlan>,
}

async fn facts(state: &AppState, wanted: &str) -> UiResult<Option<Facts>> {
    let wanted = wanted.to_string();
    Ok(state
        .read(move |r| {
            let properties = r.properties()?;
            let p = if wanted.is_empty() {
                properties.first().cloned()
            } else {
                properties.iter().find(|p| p.code == wanted).cloned()
            };
            let Some(property) = p else {
                return Ok(None);
            };
            Ok(Some(Facts {
                types: r.room_types(&property.code)?,
                plans: r.pricing_plans(&property.code)?,
                properties,
                property,
            }))
        })
        .await?)
}

/// What a derived plan does to its parent's price, in words.
fn basis_words(p: &PricingPlan) -> String {
    match &p.spec.basis {
        PlanBasis::Base => "own prices".into(),
        PlanBasis::Derived { from, adjust, .. } => match adjust {
            innsync_core::pricing::Adjustment::PercentBp(bp) => {
                let n = u32::try_from(bp.unsigned_abs())
                    .map_or_else(|_| bp.to_string(), super::booking_agent::percent);
                format!("{n} {} {from}", if *bp < 0 { "off" } else { "on" })
            }
            innsync_core::pricing::Adjustment::Amount(a) => {
                format!(
                    "{from} {} {} a night",
                    if *a < 0 { "less" } else { "plus" },
                    units(a.abs())
                )
            }
        },
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// GET `/ui/rate-plans`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<PlansQuery>,
) -> UiResult<Markup> {
    let Some(f) = facts(&state, &q.property).await? else {
        return Err(UiError::not_found(if q.property.is_empty() {
            "there are no properties yet".to_string()
        } else {
            format!("there is no property {}", q.property)
        }));
    };
    let names = Names::read(&state).await?;
    let open = f.plans.iter().find(|p| p.code == q.plan);
    if !q.plan.is_empty() && open.is_none() {
        return Err(UiError::not_found(format!(
            "{} has no rate plan {}",
            f.property.name, q.plan
        )));
    }
    let draft = open.map_or_else(|| Draft::empty(&f.types), |p| Draft::of(p, &f.types, &user));
    let done = (!q.done.is_empty()).then(|| layout::done_box(&q.done));
    Ok(render(&state, &user, &names, &f, open, &draft, done))
}

fn render(
    state: &AppState,
    user: &UiUser,
    names: &Names,
    f: &Facts,
    open: Option<&PricingPlan>,
    draft: &Draft,
    notice: Option<Markup>,
) -> Markup {
    let server = state.writer.server().to_string();
    let p = &f.property;
    let type_name = |code: &str| {
        f.types
            .iter()
            .find(|t| t.code == code)
            .map_or_else(|| code.to_string(), |t| t.name.clone())
    };
    let body = html! {
        div.pagehead {
            h1 { "Rate plans at " (p.name) }
            span.spacer {}
            @if f.properties.len() > 1 {
                form.row method="get" action="/ui/rate-plans" {
                    label { "Property" select name="property" {
                        @for x in &f.properties { option value=(x.code) selected[x.code == p.code] { (x.name) } }
                    } }
                    button.secondary type="submit" { "Show" }
                }
            }
        }
        @if let Some(n) = notice { (n) }
        section.card {
            h2 { "Plans" }
            @if f.plans.is_empty() { p.muted { "No rate plans yet: bookings are priced at each room type's nightly rate." } }
            @else {
                div.scroll tabindex="0" role="region" aria-label="Rate plans" { table.list data-testid="plans" {
                    thead { tr { th scope="col" { "Plan" } th scope="col" { "Prices" } th scope="col" { "Seasons" } th.opt scope="col" { "Re-priced on a change" } th.opt scope="col" { "Refundable" } } }
                    tbody { @for x in &f.plans {
                        tr data-plan=(x.code) {
                            td { a href={ "/ui/rate-plans?" (query(&[("property", &p.code), ("plan", &x.code)])) } { (x.spec.name) } " " span.muted.code { (x.code) } }
                            td { (basis_words(x)) }
                            td { (x.spec.seasons.len()) }
                            td.opt { (yes_no(x.spec.reprice_on_edit)) }
                            td.opt { (yes_no(x.spec.refundable)) }
                        }
                    } }
                } }
            }
            @if open.is_some() && user.may(Permission::Rates) {
                p { a.button.secondary href={ "/ui/rate-plans?" (query(&[("property", &p.code)])) } { "New plan" } }
            }
        }
        @if let Some(x) = open {
            section.card data-testid="plan" {
                h2 { (x.spec.name) " " span.muted.code { (x.code) } }
                p { (basis_words(x)) "; " (x.spec.restrictions.len()) " stay rule(s); re-priced on a change: " (yes_no(x.spec.reprice_on_edit)) "; refundable: " (yes_no(x.spec.refundable)) "." }
                @if !x.spec.occupancy.is_empty() {
                    table.list data-testid="plan-prices" {
                        thead { tr { th scope="col" { "Room type" } th scope="col" { "Price a night" } th scope="col" { "Adults included" } } }
                        tbody { @for o in &x.spec.occupancy {
                            tr { td { (type_name(&o.room_type)) } td { @if let Some(a) = o.amount { (format::money(&Money { amount: a, currency: x.currency().to_string() })) } @else { span.muted { "the nightly rate" } } } td { (o.adults_included) } }
                        } }
                    }
                }
                @for s in &x.spec.seasons {
                    h3 { (s.name) " · " (user.dates.show(s.from)) " to " (user.dates.show(s.to)) }
                    ul.plain { @for o in &s.prices {
                        li { (type_name(&o.room_type)) ": " @if let Some(a) = o.amount { (format::money(&Money { amount: a, currency: x.currency().to_string() })) } }
                    } }
                }
            }
        }
        @if user.may(Permission::Rates) {
            @if open.is_some_and(|x| x.parent().is_some()) {
                p.muted { "A derived plan follows its parent's prices; change the parent plan." }
            } @else {
                (form(user, names, f, open, draft))
            }
        }
    };
    layout::page(user, &server, Nav::RatePlans, "Rate plans", body)
}

fn form(user: &UiUser, names: &Names, f: &Facts, open: Option<&PricingPlan>, d: &Draft) -> Markup {
    let p = &f.property;
    let elsewhere = !names.writable_here(&p.meta.owner);
    let type_name = |code: &str| {
        f.types
            .iter()
            .find(|t| t.code == code)
            .map_or_else(|| code.to_string(), |t| t.name.clone())
    };
    html! {
        section.card {
            h2 { @if open.is_some() { "Change " (d.name) } @else { "New plan" } }
            form method="post" action="/ui/rate-plans" data-testid="plan-form" {
                (layout::csrf(user))
                input type="hidden" name="property" value=(p.code);
                input type="hidden" name="version" value=(d.version);
                div.form-grid {
                    @if open.is_some() {
                        input type="hidden" name="code" value=(d.code);
                    } @else {
                        label { "Code" input name="code" required maxlength="20" pattern="[A-Za-z0-9_\\-]+" placeholder="e.g. BAR" value=(d.code); }
                    }
                    label.wide { "Name" input name="name" required maxlength="200" placeholder="e.g. Best available rate" value=(d.name); }
                    label { input type="checkbox" name="reprice_on_edit" value="1" checked[d.reprice]; " Re-price every night when a booking changes" }
                    label { input type="checkbox" name="refundable" value="1" checked[d.refundable]; " Refundable (nights not stayed are refunded)" }
                }
                h3 { "Price a night" @if let Some(c) = &p.currency { " (" (c) ")" } "; empty: the room type's nightly rate" }
                div.form-grid {
                    @for (t, price, adults) in &d.prices {
                        label { (type_name(t)) input name={ "price_" (t) } inputmode="decimal" placeholder="nightly rate" value=(price); }
                        label { "Adults included (" (type_name(t)) ")" input type="number" name={ "adults_" (t) } min="1" max="20" placeholder=(DEFAULT_ADULTS_INCLUDED) value=(adults); }
                    }
                }
                h3 { "Seasons (their own prices; leave a row empty to drop it)" }
                @for (i, s) in d.seasons.iter().enumerate() {
                    fieldset.form-grid data-season=(i) {
                        legend { "Season " (i + 1) }
                        label { "Name" input name={ "season" (i) "_name" } maxlength="200" placeholder="e.g. Festive" value=(s.name); }
                        (layout::date_field(user, "First night", &format!("season{i}_from"), &s.from, false))
                        (layout::date_field(user, "Ends the morning of", &format!("season{i}_to"), &s.to, false))
                        @for (t, price) in &s.prices {
                            label { (type_name(t)) input name={ "season" (i) "_price_" (t) } inputmode="decimal" value=(price); }
                        }
                    }
                }
                p { button type="submit" data-action="save-plan" {
                    @if elsewhere { "Save: send to " (names.authority(&p.meta.owner)) } @else { "Save plan" }
                } }
            }
        }
    }
}

/// POST `/ui/rate-plans`: creates or changes the plan; back to it with what was done, or the
/// page again with the form as typed and the refusal.
pub async fn save(
    State(state): State<AppState>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> UiResult<Response> {
    user.require(Permission::Rates)?;
    let property = form.get("property").cloned().unwrap_or_default();
    let Some(f) = facts(&state, &property).await? else {
        return Err(UiError::not_found(format!(
            "there is no property {property}"
        )));
    };
    let names = Names::read(&state).await?;
    let d = Draft::posted(&form, &f.types);
    let open = f.plans.iter().find(|p| p.code == d.code);
    let if_match = match d.version.trim() {
        "" => None,
        v => v.parse().ok(),
    };
    let elsewhere = !names.writable_here(&f.property.meta.owner);
    let built = if d.code.is_empty() {
        Err(Problem::invalid("code: the plan needs a code, e.g. BAR"))
    } else if open.is_some() && if_match.is_none() {
        Err(Problem::invalid(format!(
            "a plan {} already exists; open it to change it",
            d.code
        )))
    } else {
        spec_of(&user, &d, open.map(|p| &p.spec)).map(|spec| Command::PutRatePlan {
            property: f.property.code.clone(),
            code: d.code.clone(),
            spec: Box::new(spec),
            // A plan sent elsewhere is checked there against what it holds then.
            if_match: if elsewhere { None } else { if_match },
        })
    };
    let result = match built {
        Ok(cmd) => {
            crate::replication::relay_refused::submit(&state, cmd, &user.caller(), None, elsewhere)
                .await
        }
        Err(p) => Err(p),
    };
    let done = match result {
        Ok(Submitted::Done(_)) => format!("Rate plan {} saved.", d.code),
        Ok(Submitted::Queued(op)) => format!(
            "{} is not reachable now; the plan waits as pending operation {} and is sent when it is.",
            names.server(&op.target),
            op.id
        ),
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
            let page = render(
                &state,
                &user,
                &names,
                &f,
                open,
                &d,
                Some(layout::problem_box(&shown)),
            );
            return Ok((status, page).into_response());
        }
    };
    Ok(Redirect::to(&format!(
        "/ui/rate-plans?{}",
        query(&[
            ("property", &f.property.code),
            ("plan", &d.code),
            ("done", &done)
        ])
    ))
    .into_response())
}

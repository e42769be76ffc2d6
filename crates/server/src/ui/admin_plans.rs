//! Rate plans of a property (API-only before): the list, one plan's prices and seasons, and a
//! form to create or change a simple plan — a price per room type and seasons with their own
//! prices, in the currency's units as the front desk types them (`80` or `80.50`). Saving runs
//! the API's `PutRatePlan` with the version the operator saw, so a plan changed meanwhile is
//! refused, not overwritten; what the simple form does not show (restrictions, deposit,
//! cancellation terms, child prices) is kept as it was. A refusal is shown inline with the form
//! as typed. Derived plans are shown, not edited here. Only users who may set rates see the
//! form; where the property is written elsewhere the plan is sent there.

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
use innsync_core::pricing::{OccupancyPrice, PlanBasis, PlanSpec, PricingPlan, Season};
use innsync_core::{Command, Money, Property, RoomType};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Season rows the form offers beyond the plan's own (empty ones are ignored).
pub const EXTRA_SEASON_ROWS: usize = 1;
/// Most season rows the form reads.
pub const MAX_SEASON_ROWS: usize = 24;
/// Adults a room price includes when the operator leaves it empty.
pub const DEFAULT_ADULTS_INCLUDED: u32 = 2;

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

/// Minor units typed as the currency's units (`80`, `80.5`, `1,234.50`); empty is `None`.
pub fn minor_units(field: &str, v: &str) -> Result<Option<i64>, Problem> {
    let t: String = v.chars().filter(|c| !matches!(c, ',' | ' ')).collect();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || Problem::invalid(format!("{field}: {v:?} is not an amount like 80 or 80.50"));
    let (units, cents) = t.split_once('.').unwrap_or((&t, ""));
    if units.is_empty() || cents.len() > 2 || !units.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if !cents.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .map(Some)
        .ok_or_else(bad)
}

/// An amount in the currency's units as a field shows it (`80.50`).
fn units(amount: i64) -> String {
    format!("{}.{:02}", amount / 100, amount % 100)
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

/// The form as typed (or as the plan is): strings, so a refused form shows what was typed.
struct Draft {
    code: String,
    name: String,
    version: String,
    reprice: bool,
    refundable: bool,
    /// Per room type: price, adults included.
    prices: Vec<(String, String, String)>,
    seasons: Vec<SeasonDraft>,
}

struct SeasonDraft {
    name: String,
    from: String,
    to: String,
    /// Per room type: price.
    prices: Vec<(String, String)>,
}

impl SeasonDraft {
    fn empty(types: &[RoomType]) -> Self {
        Self {
            name: String::new(),
            from: String::new(),
            to: String::new(),
            prices: types
                .iter()
                .map(|t| (t.code.clone(), String::new()))
                .collect(),
        }
    }
}

impl Draft {
    fn empty(types: &[RoomType]) -> Self {
        Self {
            code: String::new(),
            name: String::new(),
            version: String::new(),
            reprice: false,
            refundable: true,
            prices: types
                .iter()
                .map(|t| (t.code.clone(), String::new(), String::new()))
                .collect(),
            seasons: (0..EXTRA_SEASON_ROWS)
                .map(|_| SeasonDraft::empty(types))
                .collect(),
        }
    }

    fn of(p: &PricingPlan, types: &[RoomType], user: &UiUser) -> Self {
        let price_of = |list: &[OccupancyPrice], t: &str| {
            list.iter()
                .find(|o| o.room_type == t)
                .and_then(|o| o.amount)
                .map(units)
                .unwrap_or_default()
        };
        let mut seasons: Vec<SeasonDraft> = p
            .spec
            .seasons
            .iter()
            .map(|s| SeasonDraft {
                name: s.name.clone(),
                from: user.dates.show(s.from),
                to: user.dates.show(s.to),
                prices: types
                    .iter()
                    .map(|t| (t.code.clone(), price_of(&s.prices, &t.code)))
                    .collect(),
            })
            .collect();
        seasons.extend((0..EXTRA_SEASON_ROWS).map(|_| SeasonDraft::empty(types)));
        Self {
            code: p.code.clone(),
            name: p.spec.name.clone(),
            version: p.meta.version.to_string(),
            reprice: p.spec.reprice_on_edit,
            refundable: p.spec.refundable,
            prices: types
                .iter()
                .map(|t| {
                    let o = p.spec.occupancy.iter().find(|o| o.room_type == t.code);
                    (
                        t.code.clone(),
                        price_of(&p.spec.occupancy, &t.code),
                        o.map(|o| o.adults_included.to_string()).unwrap_or_default(),
                    )
                })
                .collect(),
            seasons,
        }
    }

    fn posted(m: &HashMap<String, String>, types: &[RoomType]) -> Self {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        let mut seasons = vec![];
        for i in 0..MAX_SEASON_ROWS {
            if !m.contains_key(&format!("season{i}_name")) {
                break;
            }
            seasons.push(SeasonDraft {
                name: get(&format!("season{i}_name")),
                from: get(&format!("season{i}_from")),
                to: get(&format!("season{i}_to")),
                prices: types
                    .iter()
                    .map(|t| (t.code.clone(), get(&format!("season{i}_price_{}", t.code))))
                    .collect(),
            });
        }
        Self {
            code: get("code").trim().to_string(),
            name: get("name"),
            version: get("version"),
            reprice: m.contains_key("reprice_on_edit"),
            refundable: m.contains_key("refundable"),
            prices: types
                .iter()
                .map(|t| {
                    (
                        t.code.clone(),
                        get(&format!("price_{}", t.code)),
                        get(&format!("adults_{}", t.code)),
                    )
                })
                .collect(),
            seasons,
        }
    }
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

/// The plan the form describes, on top of `base` (what the form does not show is kept).
fn spec_of(user: &UiUser, d: &Draft, base: Option<&PlanSpec>) -> Result<PlanSpec, Problem> {
    let mut spec = match base {
        Some(b) => b.clone(),
        None => serde_json::from_value(serde_json::json!({"name": "", "basis": {"kind": "base"}}))
            .map_err(|e| Problem::invalid(e.to_string()))?,
    };
    spec.name = d.name.trim().to_string();
    spec.reprice_on_edit = d.reprice;
    spec.refundable = d.refundable;
    let old = spec.occupancy.clone();
    let mut occupancy = vec![];
    for (t, price, adults) in &d.prices {
        let amount = minor_units(&format!("price ({t})"), price)?;
        let adults: Option<u32> = match adults.trim() {
            "" => None,
            a => Some(a.parse().map_err(|_| {
                Problem::invalid(format!(
                    "adults included ({t}): {a:?} is not a whole number"
                ))
            })?),
        };
        let kept = old.iter().find(|o| &o.room_type == t);
        if amount.is_none() && adults.is_none() && kept.is_none() {
            continue;
        }
        let mut o = kept
            .cloned()
            .unwrap_or_else(|| occupancy_price(t, None, DEFAULT_ADULTS_INCLUDED));
        o.amount = amount;
        if let Some(a) = adults {
            o.adults_included = a;
        }
        occupancy.push(o);
    }
    occupancy.extend(
        old.into_iter()
            .filter(|o| !d.prices.iter().any(|(t, _, _)| *t == o.room_type)),
    );
    let included = |t: &str| {
        occupancy
            .iter()
            .find(|o| o.room_type == t)
            .map_or(DEFAULT_ADULTS_INCLUDED, |o| o.adults_included)
    };
    let mut seasons = vec![];
    for (i, s) in d.seasons.iter().enumerate() {
        let typed = !s.name.trim().is_empty()
            || !s.from.trim().is_empty()
            || !s.to.trim().is_empty()
            || s.prices.iter().any(|(_, p)| !p.trim().is_empty());
        if !typed {
            continue;
        }
        let n = i + 1;
        let date = |what: &str, v: &str| {
            user.dates
                .opt(&format!("season {n}: {what}"), Some(v))
                .and_then(|d| d.ok_or_else(|| format!("season {n}: {what}: required")))
                .map_err(Problem::invalid)
        };
        let kept = spec.seasons.get(i);
        let mut prices = vec![];
        for (t, price) in &s.prices {
            if let Some(a) = minor_units(&format!("season {n}: price ({t})"), price)? {
                let mut o = kept
                    .and_then(|k| k.prices.iter().find(|o| &o.room_type == t).cloned())
                    .unwrap_or_else(|| occupancy_price(t, None, included(t)));
                o.amount = Some(a);
                prices.push(o);
            }
        }
        seasons.push(Season {
            name: s.name.trim().to_string(),
            from: date("first night", &s.from)?,
            to: date("end", &s.to)?,
            prices,
        });
    }
    spec.occupancy = occupancy;
    spec.seasons = seasons;
    Ok(spec)
}

fn occupancy_price(room_type: &str, amount: Option<i64>, adults_included: u32) -> OccupancyPrice {
    OccupancyPrice {
        room_type: room_type.to_string(),
        amount,
        adults_included,
        extra_adult: 0,
        children: vec![],
        max_adults: None,
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

#[cfg(test)]
mod tests {
    use super::minor_units;

    #[test]
    fn amounts_are_typed_in_units() {
        assert_eq!(minor_units("x", "80").ok(), Some(Some(8000)));
        assert_eq!(minor_units("x", "80.5").ok(), Some(Some(8050)));
        assert_eq!(minor_units("x", "1,234.05").ok(), Some(Some(123_405)));
        assert_eq!(minor_units("x", " ").ok(), Some(None));
        for bad in ["-5", "8.005", "abc", ".5", "1.2.3"] {
            assert!(minor_units("x", bad).is_err(), "{bad}");
        }
    }
}

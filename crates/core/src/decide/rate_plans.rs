//! Rate plans as reference data: created or replaced whole (`PutRatePlan`) where the
//! property's records are written, after every field is checked; a refusal names the field
//! (`seasons[1].to: …`) and writes nothing.

use super::reference::{property_of, room_type_of};
use super::{bumped, fresh, validate, Ctx, Decision};
use crate::dates::Nights;
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::limits::{MAX_AMOUNT, MAX_RANGE_NIGHTS, MAX_STAY_NIGHTS};
use crate::pricing::{Adjustment, OccupancyPrice, PlanBasis, PlanSpec, PricingPlan, Restriction};
use crate::record::Record;
use crate::view::StateView;
use std::collections::HashSet;

/// Most room-type prices a plan (or one season) lists.
pub const MAX_PLAN_PRICES: usize = 200;
/// Most seasons a plan has.
pub const MAX_SEASONS: usize = 100;
/// Most restriction periods a plan has.
pub const MAX_RESTRICTIONS: usize = 500;
/// Most child age bands of one price.
pub const MAX_CHILD_BANDS: usize = 8;
/// Oldest age a child band may reach.
pub const MAX_CHILD_AGE: u8 = 17;
/// Largest rounding step (minor units).
pub const MAX_ROUNDING_STEP: i64 = 100_000;

fn bad(field: &str, why: impl std::fmt::Display) -> DomainError {
    DomainError::InvalidInput(format!("{field}: {why}"))
}

fn amount(field: &str, v: i64) -> Result<(), DomainError> {
    if (0..=MAX_AMOUNT).contains(&v) {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("must be 0 to {MAX_AMOUNT} minor units; got {v}"),
        ))
    }
}

/// Decides `PutRatePlan`: the plan's new state, and the property's currency if it had none.
pub(super) fn put(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    property: &str,
    code: &str,
    spec: &PlanSpec,
    if_match: Option<u64>,
) -> Result<Decision, DomainError> {
    let prop = property_of(view, property)?;
    ctx.ensure_writable(&prop.meta.owner)?;
    validate::code("code", code)?;
    validate::name("name", &spec.name)?;
    let old = view.pricing_plan(property, code)?;
    if let Some(expected) = if_match {
        let actual = old.as_ref().map_or(0, |o| o.meta.version);
        if expected != actual {
            return Err(DomainError::VersionConflict { expected, actual });
        }
    }
    if let Some(o) = &old {
        ctx.ensure_writable(&o.meta.owner)?;
    }
    let currency = match (&spec.currency, &prop.currency) {
        (Some(c), Some(p)) if c != p => {
            return Err(bad(
                "currency",
                format!("{property} sells in {p}; a plan in {c} cannot be set"),
            ))
        }
        (Some(c), _) => c.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(bad(
                "currency",
                format!("{property} has no currency yet; give the plan's"),
            ))
        }
    };
    validate::currency(&currency).map_err(|e| bad("currency", e))?;
    check_basis(view, property, code, spec)?;
    check_prices(view, property, "occupancy", &spec.occupancy, false)?;
    check_seasons(view, property, spec)?;
    check_restrictions(view, property, &spec.restrictions)?;
    if let Some(p) = spec.deposit.problem() {
        return Err(DomainError::InvalidInput(p));
    }
    if let Some(p) = spec.cancellation.problem() {
        return Err(DomainError::InvalidInput(p));
    }
    let mut stored = spec.clone();
    stored.currency = Some(currency.clone());
    stored.name = spec.name.trim().to_string();
    stored.seasons.sort_by_key(|s| s.from);
    let meta = match &old {
        Some(o) => bumped(&o.meta),
        None => fresh(ids, prop.meta.owner.clone()),
    };
    let plan = PricingPlan {
        meta,
        property: property.to_string(),
        code: code.to_string(),
        spec: stored,
    };
    let detail = format!(
        "{}/{} ({}) {} seasons, {} restrictions",
        property,
        code,
        match &plan.spec.basis {
            PlanBasis::Base => "base".to_string(),
            PlanBasis::Derived { from, .. } => format!("derived from {from}"),
        },
        plan.spec.seasons.len(),
        plan.spec.restrictions.len()
    );
    let mut writes = vec![];
    if prop.currency.is_none() {
        let mut p = prop.clone();
        p.meta = bumped(&prop.meta);
        p.currency = Some(currency);
        writes.push(Record::Property(p));
    }
    let mut d = Decision::one(Record::PricingPlan(plan), "rate_plan.put", detail);
    writes.append(&mut d.writes);
    d.writes = writes;
    Ok(d)
}

fn check_basis(
    view: &dyn StateView,
    property: &str,
    code: &str,
    spec: &PlanSpec,
) -> Result<(), DomainError> {
    let PlanBasis::Derived {
        from,
        adjust,
        rounding,
    } = &spec.basis
    else {
        return Ok(());
    };
    validate::code("basis.from", from)?;
    if from == code {
        return Err(bad("basis.from", "a plan cannot derive from itself"));
    }
    let parent = view
        .pricing_plan(property, from)?
        .ok_or_else(|| bad("basis.from", format!("no rate plan {from} at {property}")))?;
    if parent.parent().is_some() {
        return Err(bad(
            "basis.from",
            format!("{from} is itself derived; derive from a base plan"),
        ));
    }
    match adjust {
        Adjustment::PercentBp(bp) if !(-10_000..=10_000).contains(bp) => {
            return Err(bad(
                "basis.adjust.percent_bp",
                format!("must be -10000 to 10000 (−100 % to +100 %); got {bp}"),
            ))
        }
        Adjustment::Amount(a) if !(-MAX_AMOUNT..=MAX_AMOUNT).contains(a) => {
            return Err(bad(
                "basis.adjust.amount",
                format!("must be within ±{MAX_AMOUNT}; got {a}"),
            ))
        }
        _ => {}
    }
    if !(1..=MAX_ROUNDING_STEP).contains(&rounding.step) {
        return Err(bad(
            "basis.rounding.step",
            format!(
                "must be 1 to {MAX_ROUNDING_STEP} minor units; got {}",
                rounding.step
            ),
        ));
    }
    if !spec.occupancy.is_empty() {
        return Err(bad(
            "occupancy",
            format!("a derived plan takes its prices from {from}; leave it empty"),
        ));
    }
    if !spec.seasons.is_empty() {
        return Err(bad(
            "seasons",
            format!("a derived plan takes its prices from {from}; leave it empty"),
        ));
    }
    Ok(())
}

fn check_prices(
    view: &dyn StateView,
    property: &str,
    field: &str,
    prices: &[OccupancyPrice],
    amount_required: bool,
) -> Result<(), DomainError> {
    if prices.len() > MAX_PLAN_PRICES {
        return Err(bad(field, format!("at most {MAX_PLAN_PRICES} room types")));
    }
    let mut seen = HashSet::new();
    for (i, p) in prices.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let rt = room_type_of(view, property, &p.room_type).map_err(|_| {
            bad(
                &format!("{f}.room_type"),
                format!("no room type {:?}", p.room_type),
            )
        })?;
        if !seen.insert(p.room_type.as_str()) {
            return Err(bad(
                &format!("{f}.room_type"),
                format!("{} is listed twice", p.room_type),
            ));
        }
        match p.amount {
            Some(a) => amount(&format!("{f}.amount"), a)?,
            None if amount_required => {
                return Err(bad(
                    &format!("{f}.amount"),
                    "a season's price needs an amount",
                ))
            }
            None => {}
        }
        if p.adults_included == 0 || p.adults_included > rt.max_occupancy {
            return Err(bad(
                &format!("{f}.adults_included"),
                format!(
                    "must be 1 to {} (the room type's max occupancy); got {}",
                    rt.max_occupancy, p.adults_included
                ),
            ));
        }
        amount(&format!("{f}.extra_adult"), p.extra_adult)?;
        if let Some(m) = p.max_adults {
            if m < p.adults_included || m > rt.max_occupancy {
                return Err(bad(
                    &format!("{f}.max_adults"),
                    format!(
                        "must be {} to {}; got {m}",
                        p.adults_included, rt.max_occupancy
                    ),
                ));
            }
        }
        if p.children.len() > MAX_CHILD_BANDS {
            return Err(bad(
                &format!("{f}.children"),
                format!("at most {MAX_CHILD_BANDS} age bands"),
            ));
        }
        let mut last: Option<u8> = None;
        for (j, b) in p.children.iter().enumerate() {
            let g = format!("{f}.children[{j}]");
            if b.up_to_age > MAX_CHILD_AGE || last.is_some_and(|l| b.up_to_age <= l) {
                return Err(bad(
                    &format!("{g}.up_to_age"),
                    format!("bands go from the youngest up, each older than the last, to at most {MAX_CHILD_AGE}; got {}", b.up_to_age),
                ));
            }
            last = Some(b.up_to_age);
            amount(&format!("{g}.amount"), b.amount)?;
        }
    }
    Ok(())
}

fn check_seasons(view: &dyn StateView, property: &str, spec: &PlanSpec) -> Result<(), DomainError> {
    if spec.seasons.len() > MAX_SEASONS {
        return Err(bad("seasons", format!("at most {MAX_SEASONS}")));
    }
    for (i, s) in spec.seasons.iter().enumerate() {
        let f = format!("seasons[{i}]");
        validate::name(&format!("{f}.name"), &s.name)?;
        Nights::new(s.from, s.to, MAX_RANGE_NIGHTS).map_err(|e| bad(&format!("{f}.to"), e))?;
        check_prices(view, property, &format!("{f}.prices"), &s.prices, true)?;
    }
    let mut sorted: Vec<_> = spec.seasons.iter().collect();
    sorted.sort_by_key(|s| s.from);
    if let Some(w) = sorted.windows(2).find(|w| w[0].to > w[1].from) {
        return Err(bad(
            "seasons",
            format!(
                "{:?} and {:?} overlap; seasons may not overlap",
                w[0].name, w[1].name
            ),
        ));
    }
    Ok(())
}

fn check_restrictions(
    view: &dyn StateView,
    property: &str,
    rs: &[Restriction],
) -> Result<(), DomainError> {
    if rs.len() > MAX_RESTRICTIONS {
        return Err(bad("restrictions", format!("at most {MAX_RESTRICTIONS}")));
    }
    let max = u32::try_from(MAX_STAY_NIGHTS).unwrap_or(u32::MAX);
    for (i, r) in rs.iter().enumerate() {
        let f = format!("restrictions[{i}]");
        Nights::new(r.from, r.to, MAX_RANGE_NIGHTS).map_err(|e| bad(&format!("{f}.to"), e))?;
        if r.room_types.len() > MAX_PLAN_PRICES {
            return Err(bad(
                &format!("{f}.room_types"),
                format!("at most {MAX_PLAN_PRICES}"),
            ));
        }
        for rt in &r.room_types {
            room_type_of(view, property, rt)
                .map_err(|_| bad(&format!("{f}.room_types"), format!("no room type {rt:?}")))?;
        }
        for (name, v) in [
            ("min_stay_arrival", r.min_stay_arrival),
            ("max_stay_arrival", r.max_stay_arrival),
            ("min_stay_through", r.min_stay_through),
            ("max_stay_through", r.max_stay_through),
        ] {
            if let Some(n) = v {
                if n == 0 || n > max {
                    return Err(bad(
                        &format!("{f}.{name}"),
                        format!("must be 1 to {max} nights; got {n}"),
                    ));
                }
            }
        }
        for (name, lo, hi) in [
            ("arrival", r.min_stay_arrival, r.max_stay_arrival),
            ("through", r.min_stay_through, r.max_stay_through),
        ] {
            if let (Some(lo), Some(hi)) = (lo, hi) {
                if lo > hi {
                    return Err(bad(
                        &format!("{f}.max_stay_{name}"),
                        format!("{hi} is below min_stay_{name} {lo}"),
                    ));
                }
            }
        }
        let sets_something = r.min_stay_arrival.is_some()
            || r.max_stay_arrival.is_some()
            || r.min_stay_through.is_some()
            || r.max_stay_through.is_some()
            || r.closed_to_arrival
            || r.closed_to_departure
            || r.stop_sell;
        if !sets_something {
            return Err(bad(&f, "sets no rule; give a min/max stay, closed_to_arrival, closed_to_departure or stop_sell"));
        }
    }
    Ok(())
}

//! The price of a new booking, decided once at booking time from one rate plan looked up by
//! key (and its parent, for a derived plan) — never a scan of the property's plans — and stored
//! on the booking with the occupancy and the rule that produced it.

use crate::command::PricingRequest;
use crate::dates::Nights;
use crate::error::DomainError;
use crate::pricing::{BookedPrice, PlanPricer, Refusal};
use crate::record::{Property, RoomType};
use crate::view::StateView;

/// Most children one room's party lists.
pub const MAX_CHILDREN: usize = 20;
/// Oldest age given as a child's (older guests are adults).
pub const MAX_CHILD_AGE: u8 = 17;

/// Prices `units` rooms of `rt` over `nights` for the party of `req`: on its plan, or on the
/// room type's nightly rates when it names none. Refuses when the party does not fit, the
/// plan is unknown or cannot price a night, or a restriction refuses (`restricted`).
pub(super) fn price(
    view: &dyn StateView,
    prop: &Property,
    rt: &RoomType,
    nights: Nights,
    units: u32,
    req: &PricingRequest,
) -> Result<BookedPrice, DomainError> {
    let party = &req.party;
    if party.adults == 0 {
        return Err(DomainError::InvalidInput(
            "adults: at least one adult per room".into(),
        ));
    }
    if party.children.len() > MAX_CHILDREN {
        return Err(DomainError::InvalidInput(format!(
            "children: at most {MAX_CHILDREN}"
        )));
    }
    if let Some(a) = party.children.iter().find(|a| **a > MAX_CHILD_AGE) {
        return Err(DomainError::InvalidInput(format!(
            "children: ages are 0 to {MAX_CHILD_AGE} (older guests are adults); got {a}"
        )));
    }
    if party.guests() > rt.max_occupancy {
        return Err(DomainError::InvalidInput(format!(
            "adults: max occupancy {} of {} exceeded: {} guests per room",
            rt.max_occupancy,
            rt.code,
            party.guests()
        )));
    }
    let rates = view.rate_plan(&prop.code, &rt.code)?;
    let Some(code) = &req.rate_plan else {
        let nightly: Option<Vec<i64>> = nights
            .iter()
            .map(|n| rates.as_ref().and_then(|r| crate::rates::nightly(r, n)))
            .collect();
        let nightly = nightly.unwrap_or_default();
        let per_room: i64 = nightly.iter().sum();
        return Ok(BookedPrice {
            rate_plan: None,
            adults: party.adults,
            children: party.children.clone(),
            currency: rates
                .as_ref()
                .map(|r| r.currency.clone())
                .or_else(|| prop.currency.clone())
                .unwrap_or_default(),
            total: per_room * i64::from(units),
            nightly,
            rule: "nightly rates".into(),
        });
    };
    let plan = view.pricing_plan(&prop.code, code)?.ok_or_else(|| {
        DomainError::InvalidInput(format!("rate_plan: no rate plan {code} at {}", prop.code))
    })?;
    let parent = match plan.parent() {
        Some(p) => view.pricing_plan(&prop.code, p)?,
        None => None,
    };
    let pricer = PlanPricer::new(&plan, parent.as_ref())
        .map_err(|r| DomainError::InvalidInput(format!("rate_plan: {r}")))?;
    let eval = pricer.room(rt, rates.as_ref()).evaluate(nights, party);
    let stay = eval.price.map_err(|r| match r {
        Refusal::Restricted { check } => DomainError::Restricted {
            plan: code.clone(),
            restriction: check.kind.as_str().to_string(),
            detail: check.to_string(),
        },
        Refusal::MaxOccupancy { .. } | Refusal::MaxAdults { .. } => {
            DomainError::InvalidInput(format!("adults: {r}"))
        }
        Refusal::NoRate { .. } | Refusal::Unpriceable { .. } => {
            DomainError::InvalidInput(format!("rate_plan: {code}: {r}"))
        }
    })?;
    Ok(BookedPrice {
        rate_plan: Some(code.clone()),
        adults: party.adults,
        children: party.children.clone(),
        currency: stay.currency,
        total: stay.total.saturating_mul(i64::from(units)),
        nightly: stay.nights.iter().map(|n| n.amount).collect(),
        rule: stay.rule,
    })
}

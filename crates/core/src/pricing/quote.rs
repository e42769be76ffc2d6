//! The quote: for a stay and a party, every room type × rate plan with what this server may
//! sell, what is free at the property, who holds the rest, the price and the restrictions —
//! computed from plain data the store reads in a few range queries. Each plan is resolved once
//! and each room type's pricing prepared once, so the work is one pass over the nights per
//! room type and plan.

use super::plan::PricingPlan;
use super::price::{Party, PlanPricer, Refusal};
use super::restrict::Check;
use crate::dates::Nights;
use crate::ids::Authority;
use crate::record::{RatePlan, RoomType};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Another holder's share of a room type over a stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBy {
    /// The holder.
    pub holder: Authority,
    /// Units it holds and has not sold, on every night of the stay (the least over them).
    pub free: u32,
}

/// A room type's units over a stay, each the least over its nights.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayStock {
    /// Units this server may sell now (from its own allotment).
    pub sellable_here: u32,
    /// Units free at the property, whoever holds them.
    pub free_at_property: u32,
    /// Who holds the free units this server does not.
    pub held_by: Vec<HeldBy>,
}

/// One room type on one plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// Room type code.
    pub room_type: String,
    /// Room type name.
    pub room_type_name: String,
    /// The plan's code; `None`: the nightly rates (a property without plans).
    pub rate_plan: Option<String>,
    /// The plan's name.
    pub rate_plan_name: Option<String>,
    /// Units this server may sell now.
    pub sellable_here: u32,
    /// Units free at the property.
    pub free_at_property: u32,
    /// Who holds the rest.
    pub held_by: Vec<HeldBy>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Each night's price of one room, from the arrival on (empty when refused).
    pub nightly: Vec<i64>,
    /// One room for the stay (`None` when refused).
    pub total: Option<i64>,
    /// How the price was made.
    pub rule: Option<String>,
    /// Restrictions that apply (met) or refuse.
    pub restrictions: Vec<Check>,
    /// Why it cannot be sold on this plan (`min_stay_arrival`, `max_occupancy`, `no_rate`…).
    pub refused: Option<QuoteRefusal>,
    /// Whether it can be booked here now: priced, not refused, and enough units held here.
    pub bookable: bool,
}

/// A refusal in a quote: its code and words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRefusal {
    /// Machine-readable code.
    pub code: String,
    /// In words.
    pub detail: String,
}

impl From<&Refusal> for QuoteRefusal {
    fn from(r: &Refusal) -> Self {
        Self {
            code: r.code().to_string(),
            detail: r.to_string(),
        }
    }
}

/// What a quote is computed from (read by the store).
#[derive(Clone, Debug, Default)]
pub struct QuoteFacts {
    /// The property's room types.
    pub room_types: Vec<RoomType>,
    /// Nightly rates per room type.
    pub rates: Vec<RatePlan>,
    /// The property's rate plans.
    pub plans: Vec<PricingPlan>,
    /// Each room type's units over the stay, by code.
    pub stock: HashMap<String, StayStock>,
}

/// Quotes a stay of `nights` for `party` in `units` rooms: every room type on every plan (or on
/// `only` and nothing else), room types in their order, plans by code; a property without plans
/// is quoted on its nightly rates.
pub fn quote(
    facts: &QuoteFacts,
    nights: Nights,
    party: &Party,
    units: u32,
    only: Option<&str>,
) -> Vec<QuoteLine> {
    let by_code: HashMap<&str, &PricingPlan> =
        facts.plans.iter().map(|p| (p.code.as_str(), p)).collect();
    let rates: HashMap<&str, &RatePlan> = facts
        .rates
        .iter()
        .map(|r| (r.room_type.as_str(), r))
        .collect();
    let mut plans: Vec<&PricingPlan> = facts
        .plans
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.code))
        .collect();
    plans.sort_by(|a, b| a.code.cmp(&b.code));
    let pricers: Vec<(&PricingPlan, Result<PlanPricer<'_>, Refusal>)> = plans
        .iter()
        .map(|p| {
            let parent = p.parent().and_then(|c| by_code.get(c).copied());
            (*p, PlanPricer::new(p, parent))
        })
        .collect();
    let empty = StayStock::default();
    let mut out = Vec::with_capacity(facts.room_types.len() * pricers.len().max(1));
    for rt in &facts.room_types {
        let stock = facts.stock.get(&rt.code).unwrap_or(&empty);
        let line = |plan: Option<&PricingPlan>| QuoteLine {
            room_type: rt.code.clone(),
            room_type_name: rt.name.clone(),
            rate_plan: plan.map(|p| p.code.clone()),
            rate_plan_name: plan.map(|p| p.spec.name.clone()),
            sellable_here: stock.sellable_here,
            free_at_property: stock.free_at_property,
            held_by: stock.held_by.clone(),
            currency: plan.map(|p| p.currency().to_string()),
            nightly: vec![],
            total: None,
            rule: None,
            restrictions: vec![],
            refused: None,
            bookable: false,
        };
        let rate = rates.get(rt.code.as_str()).copied();
        if pricers.is_empty() && only.is_none() {
            let mut l = line(None);
            l.currency = rate.map(|r| r.currency.clone());
            if party.guests() > rt.max_occupancy {
                l.refused = Some(QuoteRefusal::from(&Refusal::MaxOccupancy {
                    max: rt.max_occupancy,
                    asked: party.guests(),
                }));
            } else {
                let nightly: Option<Vec<i64>> = nights
                    .iter()
                    .map(|n| rate.and_then(|r| crate::rates::nightly(r, n)))
                    .collect();
                match nightly {
                    Some(v) => {
                        l.total = Some(v.iter().sum());
                        l.nightly = v;
                        l.rule = Some("nightly rates".into());
                    }
                    None => {
                        let date = nights
                            .iter()
                            .find(|n| rate.and_then(|r| crate::rates::nightly(r, *n)).is_none())
                            .unwrap_or(nights.from);
                        l.refused = Some(QuoteRefusal::from(&Refusal::NoRate { date }));
                    }
                }
            }
            l.bookable = l.refused.is_none() && l.sellable_here >= units;
            out.push(l);
            continue;
        }
        for (plan, pricer) in &pricers {
            let mut l = line(Some(plan));
            match pricer {
                Err(r) => l.refused = Some(r.into()),
                Ok(pricer) => {
                    let room = pricer.room(rt, rate);
                    let (checks, price) = room.evaluate_amounts(nights, party);
                    l.restrictions = checks;
                    match price {
                        Ok((nightly, total)) => {
                            l.total = Some(total);
                            l.nightly = nightly;
                            l.rule = Some(room.rule().to_string());
                        }
                        Err(r) => l.refused = Some((&r).into()),
                    }
                }
            }
            l.bookable = l.refused.is_none() && l.sellable_here >= units;
            out.push(l);
        }
    }
    out
}

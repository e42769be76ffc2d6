//! Pricing a stay on a plan: night by night, the room price for the occupancy (season, plan
//! price or nightly rate, plus supplements), derived and rounded for a derived plan, then the
//! restrictions. A [`PlanPricer`] resolves a plan once (its parent, its restrictions) and a
//! [`RoomPricer`] once per room type (which season prices apply), so a quote over many room
//! types and nights does no lookup by name inside its loops.

use super::plan::{Adjustment, OccupancyPrice, PlanBasis, PricingPlan, Restriction, Rounding};
use super::restrict::{checks, Check};
use super::rounding::derive;
use crate::dates::Nights;
use crate::record::{RatePeriod, RatePlan, RoomType};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who stays in one room: adults, and each child's age.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Adults (at least one).
    pub adults: u32,
    /// Ages of the children, in any order.
    #[serde(default)]
    pub children: Vec<u8>,
}

impl Party {
    /// A party of `adults` adults and no children.
    pub fn adults(adults: u32) -> Self {
        Self {
            adults,
            children: vec![],
        }
    }

    /// Everyone in the room.
    pub fn guests(&self) -> u32 {
        self.adults
            .saturating_add(u32::try_from(self.children.len()).unwrap_or(u32::MAX))
    }
}

/// Where a night's price came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", content = "name", rename_all = "snake_case")]
pub enum Source {
    /// A season of the (base) plan, by name.
    Season(String),
    /// The plan's own price for the room type.
    Plan,
    /// The room type's nightly rate (`PUT …/rates/{room_type}`).
    NightlyRate,
}

/// One night's price of one room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightPrice {
    /// The night.
    pub date: NaiveDate,
    /// Minor units, supplements and derivation included.
    pub amount: i64,
    /// Where the room price came from.
    pub source: Source,
}

/// The price of one room for a stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StayPrice {
    /// The plan's code.
    pub plan: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Each night, in order.
    pub nights: Vec<NightPrice>,
    /// Sum of the nights (one room).
    pub total: i64,
    /// How the plan priced it, in words (`BAR −10.00 %, rounded to 100 (nearest)`).
    pub rule: String,
}

/// Why a stay cannot be sold on a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    /// A restriction refuses it.
    Restricted {
        /// The restriction.
        check: Check,
    },
    /// More guests than the room type sleeps.
    MaxOccupancy {
        /// The room type's most guests.
        max: u32,
        /// Guests asked for.
        asked: u32,
    },
    /// More adults (children priced as adults included) than the plan sells the room to.
    MaxAdults {
        /// The plan's most adults.
        max: u32,
        /// Adults counted.
        asked: u32,
        /// The night where the limit applies.
        date: NaiveDate,
    },
    /// A night has no price on this plan.
    NoRate {
        /// The night.
        date: NaiveDate,
    },
    /// The plan cannot price at all (its parent is missing or itself derived).
    Unpriceable {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Restricted { check } => write!(f, "{check}"),
            Self::MaxOccupancy { max, asked } => {
                write!(f, "max occupancy {max} exceeded: {asked} guests asked for")
            }
            Self::MaxAdults { max, asked, date } => write!(
                f,
                "at most {max} adults on {date} (children older than every band count as adults); {asked} asked for"
            ),
            Self::NoRate { date } => write!(f, "no price for the night of {date}"),
            Self::Unpriceable { reason } => write!(f, "{reason}"),
        }
    }
}

impl Refusal {
    /// The API code of the refusal (`min_stay_arrival`, `max_occupancy`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Restricted { check } => check.kind.as_str(),
            Self::MaxOccupancy { .. } => "max_occupancy",
            Self::MaxAdults { .. } => "max_adults",
            Self::NoRate { .. } => "no_rate",
            Self::Unpriceable { .. } => "unpriceable",
        }
    }
}

/// A stay evaluated on a plan: every restriction that bears on it, and the price or the first
/// reason it is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Restrictions that apply (met) or refuse, by date.
    pub checks: Vec<Check>,
    /// The price of one room, or why not.
    pub price: Result<StayPrice, Refusal>,
}

/// A plan resolved for pricing: its prices' base plan and derivation, and every restriction
/// that applies to it (its own and, for a derived plan, its parent's).
#[derive(Clone, Debug)]
pub struct PlanPricer<'a> {
    plan: &'a PricingPlan,
    base: &'a PricingPlan,
    derivation: Option<(Adjustment, Rounding)>,
    restrictions: Vec<&'a Restriction>,
    rule: String,
}

impl<'a> PlanPricer<'a> {
    /// Resolves `plan` with its parent (`None` for a base plan, or when the parent is
    /// missing). A derived plan derives from a base plan only: one level, so a change of the
    /// parent's prices shows at once in every plan derived from it.
    pub fn new(plan: &'a PricingPlan, parent: Option<&'a PricingPlan>) -> Result<Self, Refusal> {
        match &plan.spec.basis {
            PlanBasis::Base => Ok(Self {
                plan,
                base: plan,
                derivation: None,
                restrictions: plan.spec.restrictions.iter().collect(),
                rule: format!("{}: own prices", plan.code),
            }),
            PlanBasis::Derived {
                from,
                adjust,
                rounding,
            } => {
                let parent =
                    parent
                        .filter(|p| &p.code == from)
                        .ok_or_else(|| Refusal::Unpriceable {
                            reason: format!(
                                "{} derives from plan {from}, which is missing",
                                plan.code
                            ),
                        })?;
                if parent.parent().is_some() {
                    return Err(Refusal::Unpriceable {
                        reason: format!(
                            "{} derives from {from}, which is itself derived; derive from a base plan",
                            plan.code
                        ),
                    });
                }
                let adj = match adjust {
                    Adjustment::PercentBp(bp) => {
                        let sign = if *bp < 0 { "-" } else { "+" };
                        format!("{sign}{}.{:02} %", bp.abs() / 100, bp.abs() % 100)
                    }
                    Adjustment::Amount(a) => format!("{a:+} minor units a night"),
                };
                let mode = serde_json::to_value(rounding.mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(Self {
                    plan,
                    base: parent,
                    derivation: Some((*adjust, *rounding)),
                    restrictions: plan
                        .spec
                        .restrictions
                        .iter()
                        .chain(&parent.spec.restrictions)
                        .collect(),
                    rule: format!(
                        "{}: {from} {adj}, rounded to a multiple of {} ({mode})",
                        plan.code, rounding.step
                    ),
                })
            }
        }
    }

    /// The plan being priced.
    pub fn plan(&self) -> &'a PricingPlan {
        self.plan
    }

    /// Prepares pricing of one room type, with its nightly rates if it has any.
    pub fn room(&self, room_type: &'a RoomType, rates: Option<&'a RatePlan>) -> RoomPricer<'a> {
        let code = room_type.code.as_str();
        let find = |prices: &'a [OccupancyPrice]| prices.iter().find(|p| p.room_type == code);
        let mut seasons: Vec<(NaiveDate, NaiveDate, &'a str, &'a OccupancyPrice)> = self
            .base
            .spec
            .seasons
            .iter()
            .filter_map(|s| find(&s.prices).map(|p| (s.from, s.to, s.name.as_str(), p)))
            .collect();
        seasons.sort_by_key(|s| s.0);
        RoomPricer {
            plan: self.clone(),
            room_type,
            default: find(&self.base.spec.occupancy),
            seasons,
            rates: rates.map(|r| r.periods.as_slice()),
        }
    }
}

/// A plan's pricing of one room type, ready for any stay.
#[derive(Clone, Debug)]
pub struct RoomPricer<'a> {
    plan: PlanPricer<'a>,
    room_type: &'a RoomType,
    default: Option<&'a OccupancyPrice>,
    seasons: Vec<(NaiveDate, NaiveDate, &'a str, &'a OccupancyPrice)>,
    rates: Option<&'a [RatePeriod]>,
}

/// The period of a sorted, non-overlapping list covering `night`.
fn covering<T>(
    list: &[T],
    night: NaiveDate,
    range: impl Fn(&T) -> (NaiveDate, NaiveDate),
) -> Option<&T> {
    let i = list.partition_point(|x| range(x).1 <= night);
    list.get(i).filter(|x| range(x).0 <= night)
}

/// Each night's price of one room, and their sum.
pub type Amounts = (Vec<i64>, i64);

/// [`Source`] without owning the season's name.
#[derive(Clone, Copy)]
enum SourceRef<'a> {
    Season(&'a str),
    Plan,
    NightlyRate,
}

impl<'a> RoomPricer<'a> {
    /// Evaluates a stay of one room for `party` over `nights`: restrictions first (all of
    /// them, for the answer), then occupancy, then each night's price.
    pub fn evaluate(&self, nights: Nights, party: &Party) -> Evaluation {
        let checks = checks(
            self.plan.restrictions.iter().copied(),
            &self.room_type.code,
            nights,
        );
        let price = match checks.iter().find(|c| c.refuses) {
            Some(c) => Err(Refusal::Restricted { check: c.clone() }),
            None => self.price(nights, party),
        };
        Evaluation { checks, price }
    }

    /// The price of one room for `party` over `nights`, restrictions aside.
    pub fn price(&self, nights: Nights, party: &Party) -> Result<StayPrice, Refusal> {
        let mut out = Vec::with_capacity(nights.len());
        let total = self.fold(nights, party, |date, amount, source| {
            out.push(NightPrice {
                date,
                amount,
                source: match source {
                    SourceRef::Season(name) => Source::Season(name.to_string()),
                    SourceRef::Plan => Source::Plan,
                    SourceRef::NightlyRate => Source::NightlyRate,
                },
            })
        })?;
        Ok(StayPrice {
            plan: self.plan.plan.code.clone(),
            currency: self.plan.plan.currency().to_string(),
            nights: out,
            total,
            rule: self.plan.rule.clone(),
        })
    }

    /// Like [`RoomPricer::evaluate`], with the nightly amounts only (no per-night source):
    /// what a quote over many room types and plans needs, without an allocation per night.
    pub fn evaluate_amounts(
        &self,
        nights: Nights,
        party: &Party,
    ) -> (Vec<Check>, Result<Amounts, Refusal>) {
        let checks = checks(
            self.plan.restrictions.iter().copied(),
            &self.room_type.code,
            nights,
        );
        if let Some(c) = checks.iter().find(|c| c.refuses) {
            let r = Refusal::Restricted { check: c.clone() };
            return (checks, Err(r));
        }
        let mut amounts = Vec::with_capacity(nights.len());
        let total = self.fold(nights, party, |_, a, _| amounts.push(a));
        (checks, total.map(|t| (amounts, t)))
    }

    /// The rule the plan prices by, in words.
    pub fn rule(&self) -> &str {
        &self.plan.rule
    }

    /// Calls `each` with every night's price and its source; answers the total.
    fn fold(
        &self,
        nights: Nights,
        party: &Party,
        mut each: impl FnMut(NaiveDate, i64, SourceRef<'_>),
    ) -> Result<i64, Refusal> {
        let guests = party.guests();
        if guests > self.room_type.max_occupancy {
            return Err(Refusal::MaxOccupancy {
                max: self.room_type.max_occupancy,
                asked: guests,
            });
        }
        let mut total: i64 = 0;
        for date in nights.iter() {
            let (mut amount, source) = self.base_night(date, party)?;
            if let Some((adjust, rounding)) = self.plan.derivation {
                amount = derive(amount, adjust, rounding);
            }
            total = total.saturating_add(amount);
            each(date, amount, source);
        }
        Ok(total)
    }

    /// The base plan's price of the room on `date` for `party`.
    fn base_night(&self, date: NaiveDate, party: &Party) -> Result<(i64, SourceRef<'a>), Refusal> {
        let (occ, source) = match covering(&self.seasons, date, |s| (s.0, s.1)) {
            Some(&(_, _, name, p)) => (Some(p), SourceRef::Season(name)),
            None => (self.default, SourceRef::Plan),
        };
        let room = match occ.and_then(|o| o.amount) {
            Some(a) => (a, source),
            None => {
                let rate = self
                    .rates
                    .and_then(|r| covering(r, date, |p| (p.from, p.to)))
                    .ok_or(Refusal::NoRate { date })?;
                (rate.amount, SourceRef::NightlyRate)
            }
        };
        let Some(occ) = occ else {
            // No occupancy price: the room price covers anyone the room sleeps.
            return Ok(room);
        };
        let mut adults = party.adults;
        let mut supplements: i64 = 0;
        for age in &party.children {
            match occ.children.iter().find(|b| *age <= b.up_to_age) {
                Some(b) => supplements += b.amount,
                None => adults += 1,
            }
        }
        if let Some(max) = occ.max_adults {
            if adults > max {
                return Err(Refusal::MaxAdults {
                    max,
                    asked: adults,
                    date,
                });
            }
        }
        supplements += i64::from(adults.saturating_sub(occ.adults_included)) * occ.extra_adult;
        Ok((room.0 + supplements, room.1))
    }
}

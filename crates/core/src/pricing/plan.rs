//! A rate plan as a record: how a property prices its room types for a kind of sale (the public
//! best available rate, a derived non-refundable or agent rate), with its seasons, occupancy
//! prices, restrictions and terms. Plain data; the rules that read it are in the sibling modules.

use super::terms::{CancellationPolicy, Deposit};
use crate::record::Meta;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A rate plan of one property. Named `PricingPlan` in code because [`crate::RatePlan`] is the
/// older record of a room type's nightly rates (which base plans start from); the API calls
/// this one a *rate plan* (`/rate-plans/{plan}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingPlan {
    /// Identity; owned where the property's records are written.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Plan code, unique within the property (`BAR`, `NRF`).
    pub code: String,
    /// Everything the operator sets.
    #[serde(flatten)]
    pub spec: PlanSpec,
}

/// What an operator sets on a rate plan (the body of `PUT …/rate-plans/{plan}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    /// Display name.
    pub name: String,
    /// The property's currency: every amount of the plan is in its minor units. Optional in
    /// the body (the property's currency); stored always.
    #[serde(default)]
    pub currency: Option<String>,
    /// Where its prices come from: its own, or another plan's adjusted.
    pub basis: PlanBasis,
    /// Room price and supplements per room type, outside seasons (base plans only).
    #[serde(default)]
    pub occupancy: Vec<OccupancyPrice>,
    /// Date ranges with their own prices (base plans only); never overlapping.
    #[serde(default)]
    pub seasons: Vec<Season>,
    /// Stay rules per room type and night.
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
    /// On an edit: re-price at the rates current then (true), or keep the booked nightly
    /// amounts for the nights kept (false).
    #[serde(default)]
    pub reprice_on_edit: bool,
    /// On early check-out: the nights not stayed are refunded (true) or still charged (false).
    #[serde(default = "yes")]
    pub refundable: bool,
    /// What must be paid ahead, and when.
    #[serde(default)]
    pub deposit: Deposit,
    /// What a cancellation or a no-show costs.
    #[serde(default)]
    pub cancellation: CancellationPolicy,
}

/// The fields of [`PlanSpec`], for refusing unknown ones by name.
pub const SPEC_FIELDS: &[&str] = &[
    "name",
    "currency",
    "basis",
    "occupancy",
    "seasons",
    "restrictions",
    "reprice_on_edit",
    "refundable",
    "deposit",
    "cancellation",
];

fn yes() -> bool {
    true
}

impl PricingPlan {
    /// The record's natural key (`KRL/BAR`).
    pub fn key(&self) -> String {
        format!("{}/{}", self.property, self.code)
    }

    /// Its currency (always set once stored).
    pub fn currency(&self) -> &str {
        self.spec.currency.as_deref().unwrap_or("")
    }

    /// The plan it derives from, if any.
    pub fn parent(&self) -> Option<&str> {
        match &self.spec.basis {
            PlanBasis::Base => None,
            PlanBasis::Derived { from, .. } => Some(from),
        }
    }
}

/// Where a plan's prices come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanBasis {
    /// Its own prices: seasons, then its occupancy prices, then the room type's nightly rates.
    Base,
    /// Another (base) plan's nightly price, adjusted and rounded, night by night.
    Derived {
        /// The parent plan's code (same property).
        from: String,
        /// The adjustment applied to the parent's nightly price.
        adjust: Adjustment,
        /// How the adjusted price is rounded.
        #[serde(default)]
        rounding: Rounding,
    },
}

/// A change to a parent's price: integers only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// Percent in basis points: `-1000` is 10 % off, `500` is 5 % on.
    PercentBp(i64),
    /// Minor units added (negative: taken off) per night.
    Amount(i64),
}

/// How a derived price is rounded: to a multiple of `step` minor units, in `mode`'s direction.
/// With a currency of two decimals, `step: 100` rounds to whole units and `step: 500` to
/// prices ending in 0 or 5. The exact adjusted value is rounded once (never a rounded value
/// rounded again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rounding {
    /// The multiple, in minor units (1: to the minor unit).
    pub step: i64,
    /// Nearest (half up), up or down.
    pub mode: RoundingMode,
}

impl Default for Rounding {
    fn default() -> Self {
        Self {
            step: 1,
            mode: RoundingMode::Nearest,
        }
    }
}

/// The direction of a rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// To the nearest multiple; a tie goes up.
    Nearest,
    /// Up to the next multiple.
    Up,
    /// Down to the previous multiple.
    Down,
}

/// The price of one room of a type for one night, by occupancy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccupancyPrice {
    /// Room type code.
    pub room_type: String,
    /// Price of the room for up to `adults_included` adults; absent outside seasons means the
    /// room type's nightly rate (`PUT …/rates/{room_type}`). Required in a season.
    #[serde(default)]
    pub amount: Option<i64>,
    /// Adults the room price includes.
    pub adults_included: u32,
    /// Supplement per adult beyond those included, per night.
    #[serde(default)]
    pub extra_adult: i64,
    /// Supplements per child by age band, youngest band first; a child older than every band
    /// is priced and counted as an adult.
    #[serde(default)]
    pub children: Vec<ChildBand>,
    /// Most adults (children priced as adults included) the plan sells the room to.
    #[serde(default)]
    pub max_adults: Option<u32>,
}

/// The supplement of a child up to an age.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildBand {
    /// Oldest age in the band (inclusive).
    pub up_to_age: u8,
    /// Supplement per night (0: free).
    pub amount: i64,
}

/// A date range with its own prices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Season {
    /// Display name (`High season`).
    pub name: String,
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Prices of the room types it covers; other room types keep the plan's prices.
    pub prices: Vec<OccupancyPrice>,
}

/// Stay rules on a run of nights, for some room types (all when the list is empty). Several
/// restrictions on one night all apply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Room types concerned; empty for every room type.
    #[serde(default)]
    pub room_types: Vec<String>,
    /// Least nights of a stay arriving on one of these nights.
    #[serde(default)]
    pub min_stay_arrival: Option<u32>,
    /// Most nights of a stay arriving on one of these nights.
    #[serde(default)]
    pub max_stay_arrival: Option<u32>,
    /// Least nights of a stay that includes one of these nights.
    #[serde(default)]
    pub min_stay_through: Option<u32>,
    /// Most nights of a stay that includes one of these nights.
    #[serde(default)]
    pub max_stay_through: Option<u32>,
    /// No stay may arrive on these dates.
    #[serde(default)]
    pub closed_to_arrival: bool,
    /// No stay may depart on these dates.
    #[serde(default)]
    pub closed_to_departure: bool,
    /// Not sold at all on these nights.
    #[serde(default)]
    pub stop_sell: bool,
}

impl Restriction {
    /// Whether it concerns `room_type`.
    pub fn covers_room_type(&self, room_type: &str) -> bool {
        self.room_types.is_empty() || self.room_types.iter().any(|r| r == room_type)
    }

    /// Whether `date` falls in its nights.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.from <= date && date < self.to
    }
}

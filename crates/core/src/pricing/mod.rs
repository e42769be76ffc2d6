//! Rate plans and pricing: a property's plans (a public base plan, plans derived from it),
//! seasons, prices by occupancy, restrictions, the terms of sale, and the pure function that
//! prices a stay — used at booking time (the price is then stored on the booking) and by the
//! quote. Integer minor units throughout; see [`rounding`] for the one rounding rule.

pub mod plan;
pub mod price;
pub mod quote;
pub mod restrict;
pub mod rounding;
pub mod terms;

#[cfg(test)]
mod tests;

pub use plan::{
    Adjustment, ChildBand, OccupancyPrice, PlanBasis, PlanSpec, PricingPlan, Restriction, Rounding,
    RoundingMode, Season,
};
pub use price::{
    Evaluation, NightPrice, Party, PlanPricer, Refusal, RoomPricer, Source, StayPrice,
};
pub use quote::{quote, HeldBy, QuoteFacts, QuoteLine, QuoteRefusal, StayStock};
pub use restrict::{Check, RestrictionKind};
pub use terms::{CancellationPolicy, Deposit, Due, Penalty};

use serde::{Deserialize, Serialize};

/// The price a booking was sold at, decided once when it was booked and stored on it, so every
/// server shows the same amount whatever rates it receives later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedPrice {
    /// The rate plan's code; `None`: priced from the room type's nightly rates.
    pub rate_plan: Option<String>,
    /// Adults per room.
    pub adults: u32,
    /// Children's ages per room.
    pub children: Vec<u8>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Each night's price of one room, from the arrival on; empty when a night had no rate
    /// (then the booking has no price, as before plans existed).
    pub nightly: Vec<i64>,
    /// Every room for every night (the booking's `price.amount`).
    pub total: i64,
    /// The rule that produced it, in words.
    pub rule: String,
}

//! The allotment grant: units moved between two holders for a run of nights.
//!
//! Written once and never changed, so grants from different servers add up in any order.

use super::Meta;
use crate::dates::Nights;
use crate::ids::Authority;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A move of allotment units between two holders for a run of nights: the only way units
/// change hands. Written once, by the giver (the record is owned by the giver's authority), and
/// never changed, so grants from different servers add up in any order of arrival.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllotmentGrant {
    /// Identity (owned by the giver's authority; always version 1).
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Units moved on each night.
    pub units: u32,
    /// Whose allotment shrinks.
    pub giver: Authority,
    /// Whose allotment grows.
    pub receiver: Authority,
    /// Why: by hand, a standing rule's name, a request, a booking's transfer.
    pub reason: String,
    /// When it was decided.
    pub at: DateTime<Utc>,
}

impl AllotmentGrant {
    /// The nights it covers.
    pub fn nights(&self) -> Nights {
        Nights {
            from: self.from,
            to: self.to,
        }
    }
}

//! The guest record: the person a booking is for.
//!
//! Its own file because merges and erasure (GDPR/POPIA) give it a life beyond its bookings.

use super::Meta;
use crate::ids::RecordId;
use serde::{Deserialize, Serialize};

/// A guest: the person a booking is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Full name.
    pub name: String,
    /// E-mail, if known.
    pub email: Option<String>,
    /// Telephone, if known.
    pub phone: Option<String>,
    /// What the guest likes (room, diet, pillows), kept for the next stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<String>,
    /// Free text about the guest for the front desk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The ids of guests merged into this one (their tombstones point here), so their
    /// bookings are found as this guest's; at most [`crate::guests::MAX_MERGED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<RecordId>,
    /// Set once the guest's personal data was erased on request (GDPR/POPIA): every server
    /// anonymises the bookings it writes when it applies this state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

impl Guest {
    /// A guest with contact details only: no preferences, notes or merges yet.
    pub fn new(meta: Meta, name: String, email: Option<String>, phone: Option<String>) -> Self {
        Self {
            meta,
            name,
            email,
            phone,
            preferences: None,
            notes: None,
            merged: vec![],
            erased: false,
        }
    }
}

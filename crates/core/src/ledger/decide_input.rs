//! The inputs of the ledger's commands that carry more than a few fields (boxed in
//! [`crate::Command`] so the command stays small).

use super::{EntryKind, EntrySource, PaymentMethod};
use crate::ids::RecordId;
use serde::{Deserialize, Serialize};

/// A charge to post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInput {
    /// The booking.
    pub booking: RecordId,
    /// The folio; the guest folio when absent.
    pub folio: Option<String>,
    /// Catalogue item code; its price and tax apply unless `amount` is given.
    pub item: Option<String>,
    /// Text on the folio; the item's name when absent.
    pub description: Option<String>,
    /// Unit price in minor units as entered (net of an exclusive tax, gross of an inclusive
    /// one); the item's price when absent.
    pub amount: Option<i64>,
    /// Units (at least 1).
    pub quantity: u32,
    /// ISO 4217 currency; must be the property's when given.
    pub currency: Option<String>,
    /// Who posts it: by hand, or the PMS link.
    pub source: EntrySource,
}

/// Money received or given back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInput {
    /// The booking.
    pub booking: RecordId,
    /// The folio; the guest folio when absent.
    pub folio: Option<String>,
    /// Deposit, payment or refund.
    pub kind: EntryKind,
    /// How.
    pub method: PaymentMethod,
    /// Minor units, positive.
    pub amount: i64,
    /// ISO 4217 currency; must be the property's.
    pub currency: String,
    /// Receipt or terminal reference; never a card number.
    pub reference: Option<String>,
    /// Confirm a provisional booking in the same decision when this money pays its deposit in
    /// full (the `confirm_on_deposit` setting; only where the booking's owner decides).
    #[serde(default)]
    pub confirm_when_paid: bool,
}

//! Money as an append-only ledger (DESIGN.md §12): folio entries, the per-property charge
//! catalogue with its taxes, invoices and the night audit's business day.
//!
//! Every entry is its own record, owned by the server that wrote it and attached to a booking;
//! it is written once and never changed (a correction is a new entry pointing at the old one),
//! so servers that hold the same entries agree on every balance with no conflict possible.
//! Balances are derived here from the entries, never stored.

pub mod audit;
pub mod balance;
pub mod check;
pub mod decide_input;
pub mod invoice;
pub mod pan;
pub mod policy;
pub mod tax;

use crate::ids::{RecordId, ServerCode};
use crate::record::Meta;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use balance::{balance, folio_balances, FolioBalance};
pub use tax::{split, TaxSplit};

/// The folio a booking's entries go to when none is named: the guest's own bill.
pub const GUEST_FOLIO: &str = "guest";
/// The item code the night audit posts room nights under (its tax comes from the catalogue).
pub const ROOM_ITEM: &str = "ROOM";
/// Most folios one booking may have (guest, company, agent, …).
pub const MAX_FOLIOS: usize = 8;
/// Most entries one booking may carry; a longer stay is split into several bookings.
pub const MAX_ENTRIES_PER_BOOKING: usize = 5_000;
/// Most items and most tax codes one property's catalogue holds.
pub const MAX_CATALOG_ITEMS: usize = 500;
/// Most bookings one night audit run handles; beyond it the run refuses loudly.
pub const MAX_AUDIT_BOOKINGS: usize = 5_000;
/// Largest single amount of one entry, in minor units.
pub const MAX_ENTRY_AMOUNT: i64 = 100_000_000_000;
/// Most units of an item one charge may post.
pub const MAX_QUANTITY: u32 = 1_000;
/// Highest tax rate, in basis points (100% = 10 000).
pub const MAX_TAX_BP: u32 = 10_000;

/// What an entry is. The sign of its amount follows from it (see [`FolioEntry::amount`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Something the guest owes: a room night, an extra, a PMS posting, a fee.
    Charge,
    /// A standalone tax (a city tax per person-night); item taxes ride on their charge.
    Tax,
    /// Money received before arrival against the stay.
    Deposit,
    /// Money received.
    Payment,
    /// Money given back.
    Refund,
    /// The exact opposite of an earlier entry, which it names.
    Correction,
    /// An amount moved between two folios of one booking (one entry on each, netting zero).
    Transfer,
}

impl EntryKind {
    /// The name used in the API and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Tax => "tax",
            Self::Deposit => "deposit",
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Correction => "correction",
            Self::Transfer => "transfer",
        }
    }

    /// Whether money changed hands (payments, deposits, refunds) rather than being owed.
    pub fn is_settlement(self) -> bool {
        matches!(self, Self::Deposit | Self::Payment | Self::Refund)
    }
}

/// Who wrote an entry: a person at a desk, the night audit, or the PMS link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrySource {
    /// Posted by hand through the API or UI.
    Manual,
    /// Posted by the night audit (room nights).
    NightAudit,
    /// Received over the PMS link (minibar, telephone).
    Pms,
}

/// How money was paid. Card payments are recorded only: no card number is ever stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Notes and coins.
    Cash,
    /// A card charged on a terminal; at most its last digits in the reference.
    Card,
    /// A bank transfer.
    Transfer,
    /// Billed to a travel agent's or company's account.
    AgentAccount,
}

impl PaymentMethod {
    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cash" => Some(Self::Cash),
            "card" => Some(Self::Card),
            "transfer" => Some(Self::Transfer),
            "agent_account" => Some(Self::AgentAccount),
            _ => None,
        }
    }

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Card => "card",
            Self::Transfer => "transfer",
            Self::AgentAccount => "agent_account",
        }
    }
}

/// The tax part of an entry: which code, at which rate, how much of the amount it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxLine {
    /// Tax code from the property's catalogue (`VAT`).
    pub code: String,
    /// Rate in basis points (15% = 1 500).
    pub rate_bp: u32,
    /// Tax in minor units, part of the entry's amount (same sign).
    pub amount: i64,
}

/// One line of a booking's ledger. Written once, never edited or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolioEntry {
    /// Identity: owned by the server that wrote it, whoever owns the booking.
    #[serde(flatten)]
    pub meta: Meta,
    /// The booking it belongs to.
    pub booking: RecordId,
    /// The booking's property (for reports).
    pub property: String,
    /// The folio of the booking (`guest`, `company`, `agent`…).
    pub folio: String,
    /// What it is (`entry_kind` in JSON: `kind` names the record's kind).
    #[serde(rename = "entry_kind")]
    pub kind: EntryKind,
    /// Effect on the folio's balance in minor units, taxes included: positive for what the
    /// guest owes (charges, taxes, refunds), negative for money received (payments, deposits).
    pub amount: i64,
    /// ISO 4217 currency: the property's.
    pub currency: String,
    /// Item code from the catalogue (`ROOM`, `MINIBAR`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Units of the item posted.
    #[serde(default = "one")]
    pub quantity: u32,
    /// The taxes included in `amount`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
    /// Text on the folio and invoice.
    pub description: String,
    /// For money received or given back: how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<PaymentMethod>,
    /// A payment's reference (receipt, last card digits); never a card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The property's business date it was posted on.
    pub business_date: NaiveDate,
    /// For a room charge of the night audit: the night it charges (one night, one charge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub night: Option<NaiveDate>,
    /// Who posted it.
    pub source: EntrySource,
    /// For a correction: the entry it nets out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<RecordId>,
    /// For a transfer: the other folio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_folio: Option<String>,
    /// The user (or `system`, `pms:LINK`) who posted it.
    pub author: String,
    /// When it was written.
    pub at: DateTime<Utc>,
}

fn one() -> u32 {
    1
}

impl FolioEntry {
    /// The part of the amount that is not tax.
    pub fn net(&self) -> i64 {
        self.amount - self.taxes.iter().map(|t| t.amount).sum::<i64>()
    }
}

/// A tax rule of a property: a code, a rate, and whether prices include it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxCode {
    /// Code (`VAT`, `TOURISM`).
    pub code: String,
    /// Display name on invoices.
    pub name: String,
    /// Rate in basis points (15% = 1 500).
    pub rate_bp: u32,
    /// Whether prices already include it (most of the world) or it is added on top (the US).
    pub inclusive: bool,
}

/// Something a property sells besides the room: its price and its tax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeItem {
    /// Code (`MINIBAR`, `DINNER`), unique in the catalogue.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Default unit price in minor units (before tax if the tax is exclusive); a charge may
    /// name its own amount.
    pub price: Option<i64>,
    /// Tax code, if the item is taxed.
    pub tax: Option<String>,
    /// Revenue group for reports (`rooms`, `food`, `beverage`, `other`).
    pub group: String,
}

/// A property's charge catalogue: its items and tax codes (reference data, written where the
/// property's records are).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeCatalog {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Tax codes.
    pub taxes: Vec<TaxCode>,
    /// Items.
    pub items: Vec<ChargeItem>,
}

impl ChargeCatalog {
    /// An item by code.
    pub fn item(&self, code: &str) -> Option<&ChargeItem> {
        self.items.iter().find(|i| i.code == code)
    }

    /// A tax code by code.
    pub fn tax(&self, code: &str) -> Option<&TaxCode> {
        self.taxes.iter().find(|t| t.code == code)
    }
}

/// An invoice, or a credit note that cancels one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// A bill for a folio's entries.
    Invoice,
    /// The exact opposite of an invoice, which it names.
    CreditNote,
}

/// One line of an invoice: a copy of the entry it bills, so the invoice reads the same forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// The folio entry.
    pub entry: RecordId,
    /// Its business date.
    pub date: NaiveDate,
    /// Its kind.
    pub kind: EntryKind,
    /// Whether it moves money (a payment, deposit, refund or the correction of one): such
    /// lines are what was paid, the others what is billed.
    #[serde(default)]
    pub settles: bool,
    /// Its text.
    pub description: String,
    /// Its amount, taxes included (negated on a credit note).
    pub amount: i64,
    /// Its taxes (negated on a credit note).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxLine>,
}

/// An issued invoice. Numbered without gaps per issuing server and year (`RS-2027-000123`:
/// servers issue offline, so each has its own series); never changed once issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Identity: owned by the issuing server.
    #[serde(flatten)]
    pub meta: Meta,
    /// The number, `SERIES-YEAR-SEQ`.
    pub number: String,
    /// The issuing server: whose series the number belongs to.
    pub series: ServerCode,
    /// The year of the series.
    pub year: i32,
    /// The place in the series (1, 2, …, no gaps).
    pub seq: u32,
    /// Invoice or credit note (`invoice_kind` in JSON: `kind` names the record's kind).
    #[serde(rename = "invoice_kind")]
    pub kind: InvoiceKind,
    /// For a credit note: the invoice it cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<String>,
    /// The booking billed.
    pub booking: RecordId,
    /// Its property.
    pub property: String,
    /// The folio billed.
    pub folio: String,
    /// Who is billed (the guest's name for the guest folio).
    pub bill_to: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// The entries billed.
    pub lines: Vec<InvoiceLine>,
    /// What is billed: the sum of the lines that do not settle.
    pub total: i64,
    /// What was paid: minus the sum of the lines that settle.
    #[serde(default)]
    pub paid: i64,
    /// Sum of the lines' taxes.
    pub tax_total: i64,
    /// Why (a credit note's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The business date of issue.
    pub business_date: NaiveDate,
    /// Who issued it.
    pub issued_by: String,
    /// When.
    pub issued_at: DateTime<Utc>,
}

impl Invoice {
    /// The number of the `seq`th invoice of `series` in `year`.
    pub fn number_for(series: &ServerCode, year: i32, seq: u32) -> String {
        format!("{series}-{year}-{seq:06}")
    }

    /// What is still owed on it: what is billed less what was paid.
    pub fn balance_due(&self) -> i64 {
        self.total - self.paid
    }

    /// What is wrong with the invoice's own arithmetic, if anything: its total, payments and
    /// tax total must be the sums of its lines.
    pub fn arithmetic_error(&self) -> Option<String> {
        let (total, _, paid) = invoice::totals(&self.lines);
        if paid != self.paid {
            return Some(format!(
                "invoice {} says paid {} but its payment lines add up to {paid}",
                self.number, self.paid
            ));
        }
        let tax: i64 = self
            .lines
            .iter()
            .flat_map(|l| l.taxes.iter())
            .map(|t| t.amount)
            .sum();
        if total != self.total {
            return Some(format!(
                "invoice {} says total {} but its lines add up to {total}",
                self.number, self.total
            ));
        }
        if tax != self.tax_total {
            return Some(format!(
                "invoice {} says tax {} but its lines' taxes add up to {tax}",
                self.number, self.tax_total
            ));
        }
        if self.number != Self::number_for(&self.series, self.year, self.seq) {
            return Some(format!(
                "invoice {} is not number {} of series {} {}",
                self.number, self.seq, self.series, self.year
            ));
        }
        None
    }
}

/// The open business date of a property on one server: what its night audit will close next.
/// Each server audits the bookings it owns, so each keeps its own (`PROPERTY/SERVER`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDay {
    /// Identity: owned by the server.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// The server whose audit it is.
    pub server: ServerCode,
    /// The open business date.
    pub date: NaiveDate,
    /// The last business date audited.
    pub last_audited: Option<NaiveDate>,
    /// When the last audit ran.
    pub at: DateTime<Utc>,
}

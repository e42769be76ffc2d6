//! The records of the reservation database. Each carries [`Meta`]: id, owner and version.
//!
//! Records travel whole: a change carries a record's complete new state (a decided value), never
//! the statement that produced it, so every server applies exactly what the writer decided.

mod access;
mod booking;
mod grant;
mod guest;
mod identity;
mod reference;

pub use access::{Fence, MasterToken, Role, User};
pub use booking::{Booking, BookingStatus, Note, Stay};
pub use grant::AllotmentGrant;
pub use guest::Guest;
pub use identity::{CopyKind, Meta, Provenance, MAX_PROVENANCE_STEPS};
pub use reference::{Money, OutOfOrder, Property, RatePeriod, RatePlan, Room, RoomType};

use crate::ids::RecordId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What is left of a deleted record: its identity at the version that deleted it, so that an
/// older version arriving later is recognised as older and never brings the record back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// Identity of the deleted record, at its next version.
    #[serde(flatten)]
    pub meta: Meta,
    /// What it was.
    pub deleted_kind: RecordKind,
    /// Its natural key.
    pub deleted_key: String,
    /// Why, for the audit log.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
    /// For a guest merged into another: the surviving guest, which reads follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<RecordId>,
}

/// The kinds of record, as named in the change log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Property`].
    Property,
    /// [`RoomType`].
    RoomType,
    /// [`Room`].
    Room,
    /// [`RatePlan`].
    RatePlan,
    /// [`Guest`].
    Guest,
    /// [`Booking`].
    Booking,
    /// [`User`].
    User,
    /// [`MasterToken`].
    MasterToken,
    /// [`Note`].
    Note,
    /// [`AllotmentGrant`].
    AllotmentGrant,
    /// [`Tombstone`].
    Tombstone,
    /// [`crate::pricing::PricingPlan`] (a rate plan).
    PricingPlan,
    /// [`crate::ledger::FolioEntry`].
    FolioEntry,
    /// [`crate::ledger::ChargeCatalog`].
    ChargeCatalog,
    /// [`crate::ledger::Invoice`].
    Invoice,
    /// [`crate::ledger::BusinessDay`].
    BusinessDay,
    /// [`crate::agent::Agent`].
    Agent,
}

impl RecordKind {
    /// The name used in storage and the change log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Property => "property",
            Self::RoomType => "room_type",
            Self::Room => "room",
            Self::RatePlan => "rate_plan",
            Self::Guest => "guest",
            Self::Booking => "booking",
            Self::User => "user",
            Self::MasterToken => "master_token",
            Self::Note => "note",
            Self::AllotmentGrant => "allotment_grant",
            Self::Tombstone => "tombstone",
            Self::PricingPlan => "pricing_plan",
            Self::FolioEntry => "folio_entry",
            Self::ChargeCatalog => "charge_catalog",
            Self::Invoice => "invoice",
            Self::BusinessDay => "business_day",
            Self::Agent => "agent",
        }
    }

    /// Every kind, for parsing names.
    pub const ALL: [RecordKind; 17] = [
        Self::Property,
        Self::RoomType,
        Self::Room,
        Self::RatePlan,
        Self::Guest,
        Self::Booking,
        Self::User,
        Self::MasterToken,
        Self::Note,
        Self::AllotmentGrant,
        Self::Tombstone,
        Self::PricingPlan,
        Self::FolioEntry,
        Self::ChargeCatalog,
        Self::Invoice,
        Self::BusinessDay,
        Self::Agent,
    ];

    /// Parses the name used in storage and files.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Any record, tagged by kind: the body of a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A property.
    Property(Property),
    /// A room type.
    RoomType(RoomType),
    /// A room.
    Room(Room),
    /// A room type's rates.
    RatePlan(RatePlan),
    /// A guest.
    Guest(Guest),
    /// A booking.
    Booking(Booking),
    /// A user.
    User(User),
    /// The master token.
    MasterToken(MasterToken),
    /// A note against a booking.
    Note(Note),
    /// Units moved between allotment holders.
    AllotmentGrant(AllotmentGrant),
    /// A deleted record.
    Tombstone(Tombstone),
    /// A rate plan.
    PricingPlan(crate::pricing::PricingPlan),
    /// A line of a booking's ledger.
    FolioEntry(crate::ledger::FolioEntry),
    /// A property's items and taxes.
    ChargeCatalog(crate::ledger::ChargeCatalog),
    /// An issued invoice or credit note.
    Invoice(crate::ledger::Invoice),
    /// A property's open business date on one server.
    BusinessDay(crate::ledger::BusinessDay),
    /// An agent or tour operator.
    Agent(crate::agent::Agent),
}

impl Record {
    /// Identity of the record.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Property(r) => &r.meta,
            Self::RoomType(r) => &r.meta,
            Self::Room(r) => &r.meta,
            Self::RatePlan(r) => &r.meta,
            Self::Guest(r) => &r.meta,
            Self::Booking(r) => &r.meta,
            Self::User(r) => &r.meta,
            Self::MasterToken(r) => &r.meta,
            Self::Note(r) => &r.meta,
            Self::AllotmentGrant(r) => &r.meta,
            Self::Tombstone(r) => &r.meta,
            Self::PricingPlan(r) => &r.meta,
            Self::FolioEntry(r) => &r.meta,
            Self::ChargeCatalog(r) => &r.meta,
            Self::Invoice(r) => &r.meta,
            Self::BusinessDay(r) => &r.meta,
            Self::Agent(r) => &r.meta,
        }
    }

    /// Kind of the record.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Property(_) => RecordKind::Property,
            Self::RoomType(_) => RecordKind::RoomType,
            Self::Room(_) => RecordKind::Room,
            Self::RatePlan(_) => RecordKind::RatePlan,
            Self::Guest(_) => RecordKind::Guest,
            Self::Booking(_) => RecordKind::Booking,
            Self::User(_) => RecordKind::User,
            Self::MasterToken(_) => RecordKind::MasterToken,
            Self::Note(_) => RecordKind::Note,
            Self::AllotmentGrant(_) => RecordKind::AllotmentGrant,
            Self::Tombstone(_) => RecordKind::Tombstone,
            Self::PricingPlan(_) => RecordKind::PricingPlan,
            Self::FolioEntry(_) => RecordKind::FolioEntry,
            Self::ChargeCatalog(_) => RecordKind::ChargeCatalog,
            Self::Invoice(_) => RecordKind::Invoice,
            Self::BusinessDay(_) => RecordKind::BusinessDay,
            Self::Agent(_) => RecordKind::Agent,
        }
    }

    /// The natural key, unique within the kind: how the API finds the record.
    pub fn key(&self) -> String {
        match self {
            Self::Property(r) => r.code.clone(),
            Self::RoomType(r) => format!("{}/{}", r.property, r.code),
            Self::Room(r) => format!("{}/{}", r.property, r.number),
            Self::RatePlan(r) => format!("{}/{}", r.property, r.room_type),
            Self::Guest(r) => r.meta.id.to_string(),
            Self::Booking(r) => r.meta.id.to_string(),
            Self::User(r) => r.username.clone(),
            Self::MasterToken(_) => "master".to_string(),
            Self::Note(r) => format!("{}/{}", r.booking, r.meta.id),
            Self::AllotmentGrant(r) => r.meta.id.to_string(),
            Self::Tombstone(r) => Self::tombstone_key(r.deleted_kind, &r.deleted_key),
            Self::PricingPlan(r) => r.key(),
            Self::FolioEntry(r) => format!("{}/{}", r.booking, r.meta.id),
            Self::ChargeCatalog(r) => r.property.clone(),
            Self::Invoice(r) => r.number.clone(),
            Self::BusinessDay(r) => format!("{}/{}", r.property, r.server),
            Self::Agent(r) => r.code.clone(),
        }
    }

    /// The key a tombstone of `kind`/`key` is stored under.
    pub fn tombstone_key(kind: RecordKind, key: &str) -> String {
        format!("{}/{key}", kind.as_str())
    }

    /// The identity, to change it (a new version, a new owner).
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::Property(r) => &mut r.meta,
            Self::RoomType(r) => &mut r.meta,
            Self::Room(r) => &mut r.meta,
            Self::RatePlan(r) => &mut r.meta,
            Self::Guest(r) => &mut r.meta,
            Self::Booking(r) => &mut r.meta,
            Self::User(r) => &mut r.meta,
            Self::MasterToken(r) => &mut r.meta,
            Self::Note(r) => &mut r.meta,
            Self::AllotmentGrant(r) => &mut r.meta,
            Self::Tombstone(r) => &mut r.meta,
            Self::PricingPlan(r) => &mut r.meta,
            Self::FolioEntry(r) => &mut r.meta,
            Self::ChargeCatalog(r) => &mut r.meta,
            Self::Invoice(r) => &mut r.meta,
            Self::BusinessDay(r) => &mut r.meta,
            Self::Agent(r) => &mut r.meta,
        }
    }
}

//! The records of the reservation database. Each carries [`Meta`]: id, owner and version.
//!
//! Records travel whole: a change carries a record's complete new state (a decided value), never
//! the statement that produced it, so every server applies exactly what the writer decided.

use crate::dates::Nights;
use crate::ids::{Authority, RecordId, ServerCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Identity and authority of a record, shared by every kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Unique id, prefixed by the creating server's code.
    pub id: RecordId,
    /// Who may write this record.
    pub owner: Authority,
    /// Grows by one with every write; replication never applies an older version over a newer.
    pub version: u64,
    /// Where the record came from when it is a copy or changed owner; absent for a record
    /// still held where it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Box<Provenance>>,
}

impl Meta {
    /// The identity of a record created here (no provenance).
    pub fn new(id: RecordId, owner: Authority, version: u64) -> Self {
        Self {
            id,
            owner,
            version,
            provenance: None,
        }
    }

    /// Whether this is a linked copy: kept in step by its source and never edited or deleted
    /// here.
    pub fn is_linked_copy(&self) -> bool {
        self.provenance
            .as_ref()
            .is_some_and(|p| p.copy == CopyKind::Linked)
    }
}

/// How a record relates to the one it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// The record itself, whose ownership moved: still the master copy.
    Transferred,
    /// A copy in another environment that its source keeps up to date; read-only there.
    Linked,
    /// A copy that lives its own life: editable and deletable, never updated from its source.
    Independent,
}

/// Most steps a record's provenance remembers; older ones are dropped (the first stays).
pub const MAX_PROVENANCE_STEPS: usize = 32;

/// Where a copy or a transferred record came from, so a chain can be followed back to the
/// master copy: the server and id it had there, and every step it took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The environment it came from, when it is a copy from another environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_environment: Option<String>,
    /// The server it came from (the old owner's writer, or the exporting server).
    pub from_server: ServerCode,
    /// Who owned it there: where a `return` sends it.
    pub from_owner: Authority,
    /// Its id there.
    pub from_id: RecordId,
    /// What it is to its source.
    pub copy: CopyKind,
    /// The steps it took (rule, mapping, when), oldest first, at most [`MAX_PROVENANCE_STEPS`].
    pub history: Vec<String>,
}

impl Provenance {
    /// Adds a step, keeping the first and the most recent ones within the limit.
    pub fn push(&mut self, step: String) {
        self.history.push(step);
        if self.history.len() > MAX_PROVENANCE_STEPS {
            self.history.remove(1);
        }
    }
}

/// An amount of money in minor units (cents) of an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A hotel, lodge or camp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Short unique code used in URLs (`KRL`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// IANA time zone: decides "today" for check-in, no-show and release dates.
    pub timezone: String,
    /// ISO 4217 currency of its rates; set at creation or by its first rate.
    pub currency: Option<String>,
}

/// A kind of room sold as interchangeable stock (`DLX`, `FAM`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomType {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Code, unique within the property.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Most guests one unit sleeps.
    pub max_occupancy: u32,
}

/// A period in which a room cannot be sold (maintenance, renovation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfOrder {
    /// First night out of order.
    pub from: NaiveDate,
    /// The morning it is back in service.
    pub to: NaiveDate,
    /// Why, for the front desk.
    pub reason: String,
}

impl OutOfOrder {
    /// The nights it covers.
    pub fn nights(&self) -> Nights {
        Nights {
            from: self.from,
            to: self.to,
        }
    }
}

/// A physical room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room number, unique within the property; also its PMS extension by default.
    pub number: String,
    /// Room type code.
    pub room_type: String,
    /// Periods out of order; each reduces the room type's stock on its nights.
    pub out_of_order: Vec<OutOfOrder>,
    /// Housekeeping state reported by the maid-status system (`clean`, `dirty`…), if known.
    #[serde(default)]
    pub housekeeping: Option<String>,
    /// Whether the room's message-waiting lamp is on.
    #[serde(default)]
    pub message_waiting: bool,
}

impl Room {
    /// Whether the room can be sold on `night`.
    pub fn in_service_on(&self, night: NaiveDate) -> bool {
        !self.out_of_order.iter().any(|o| o.nights().contains(night))
    }
}

/// One price valid for a run of nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePeriod {
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Price of one unit for one night, in minor units.
    pub amount: i64,
}

/// The nightly prices of one room type, as non-overlapping sorted periods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePlan {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// ISO 4217 currency of every period.
    pub currency: String,
    /// Sorted, non-overlapping periods.
    pub periods: Vec<RatePeriod>,
}

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

/// Where a booking stands. Provisional, confirmed and checked-in bookings hold stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Holds stock until `hold_until`, then is released by the server.
    Provisional,
    /// Holds stock until the stay ends.
    Confirmed,
    /// Released by the guest, the office or hold expiry.
    Cancelled,
    /// The guest is in the room.
    CheckedIn,
    /// The guest has left.
    CheckedOut,
    /// The guest never came.
    NoShow,
}

impl BookingStatus {
    /// Every status, for exhaustive tests and for parsing.
    pub const ALL: [BookingStatus; 6] = [
        Self::Provisional,
        Self::Confirmed,
        Self::Cancelled,
        Self::CheckedIn,
        Self::CheckedOut,
        Self::NoShow,
    ];

    /// Whether a booking in this status holds stock and its room.
    pub fn holds_stock(self) -> bool {
        matches!(self, Self::Provisional | Self::Confirmed | Self::CheckedIn)
    }

    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisional => "provisional",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::CheckedIn => "checked_in",
            Self::CheckedOut => "checked_out",
            Self::NoShow => "no_show",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A room a booking occupies for part or all of its stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    /// Room number.
    pub room: String,
    /// First night in this room.
    pub from: NaiveDate,
    /// Morning it leaves this room.
    pub to: NaiveDate,
}

/// A reservation of `units` rooms of one type for the nights `[arrival, departure)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Identity; the id is the booking's reference.
    #[serde(flatten)]
    pub meta: Meta,
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// First night.
    pub arrival: NaiveDate,
    /// Morning of departure.
    pub departure: NaiveDate,
    /// Rooms held.
    pub units: u32,
    /// Guest record id.
    pub guest_id: RecordId,
    /// Guest name, copied for lists and PMS messages.
    pub guest_name: String,
    /// Numeric reservation number (FIAS `G#`), unique across the environment; absent on
    /// bookings stored before numbers existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_number: Option<crate::ids::ReservationNumber>,
    /// Where the booking stands.
    pub status: BookingStatus,
    /// For provisional bookings: when the hold lapses.
    pub hold_until: Option<DateTime<Utc>>,
    /// Whose allotment the units are sold from.
    pub holder: Authority,
    /// Rooms occupied, in order; empty until a room is assigned.
    pub stays: Vec<Stay>,
    /// Total price when every night has a rate.
    pub price: Option<Money>,
    /// The rate plan, occupancy and nightly amounts it was sold at (absent when booked
    /// without a plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<crate::pricing::BookedPrice>,
    /// The reservation this booking is a line of: the reference of the reservation's first
    /// line, carried by every line (the first too); absent for a booking of one line. Each
    /// line keeps its own record, owner and stock, so replication and fencing are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<RecordId>,
    /// The agent it was sold for, with the commission agreed (decided once, like the price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Box<crate::agent::BookedAgent>>,
    /// Free text.
    pub notes: Option<String>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// The server that created it.
    pub created_on: ServerCode,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl Booking {
    /// The nights of the stay.
    pub fn nights(&self) -> Nights {
        Nights {
            from: self.arrival,
            to: self.departure,
        }
    }

    /// The room occupied on `night`, if assigned.
    pub fn room_on(&self, night: NaiveDate) -> Option<&str> {
        self.stays
            .iter()
            .find(|s| s.from <= night && night < s.to)
            .map(|s| s.room.as_str())
    }
}

/// A note against a booking. It is owned by the authority it was written under (the server, or
/// `env` on the master), which need not own the booking: the web office may note a call about
/// the lodge's booking without touching the booking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Identity (owned by the authority it was written under).
    #[serde(flatten)]
    pub meta: Meta,
    /// The booking it is about.
    pub booking: RecordId,
    /// The note.
    pub text: String,
    /// Who wrote it.
    pub author: String,
    /// When.
    pub at: DateTime<Utc>,
}

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

/// What a user may do. Roles add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including reference data, users and the environment.
    Admin,
    /// Bookings and rates.
    Reservations,
    /// Bookings, check-in/out and rooms.
    FrontDesk,
    /// Reads only.
    ReadOnly,
}

/// A person who logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Login name, unique in the environment.
    pub username: String,
    /// argon2 PHC string; never the password.
    pub password_hash: String,
    /// What the user may do.
    pub roles: Vec<Role>,
    /// Servers the user may log in on; empty means every server.
    pub servers: Vec<ServerCode>,
    /// A disabled user cannot log in or use tokens.
    pub disabled: bool,
}

/// Who holds the master token, at which epoch: the one record that says which server may write
/// env-owned data. Its version is its epoch, so a newer grant always wins over an older one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterToken {
    /// Identity (version = epoch).
    #[serde(flatten)]
    pub meta: Meta,
    /// The master from this epoch on.
    pub server: ServerCode,
    /// The epoch; only ever grows.
    pub epoch: u64,
    /// The server that granted it (the previous master, or the taker in a forced takeover).
    pub granted_by: ServerCode,
    /// Why (handover, timetable, forced takeover and its reason).
    pub reason: String,
    /// Set by a forced takeover: the old master's env writes beyond this point are not
    /// legitimate and go to conflicts wherever they arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<Fence>,
}

/// The line a forced takeover draws under the old master's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The old master.
    pub server: ServerCode,
    /// Its epoch.
    pub epoch: u64,
    /// The last of its changes the new master had; env writes after it are fenced.
    pub seq: u64,
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

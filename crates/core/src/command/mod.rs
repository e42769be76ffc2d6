//! Commands: requests to change the database, as plain deterministic data.
//!
//! A command holds only decided inputs (a password arrives already hashed, time arrives in the
//! [`crate::Ctx`]), so deciding it twice over the same state gives the same result.

mod audit_name;
mod input;

pub use input::{
    BookingEdit, CopyRequest, GuestInput, GuestPatch, InitialStatus, OnDuplicate, PricingRequest,
    ReservationLine,
};

use crate::allotment::AllotmentRule;
use crate::ids::{Authority, RecordId};
use crate::record::{RecordKind, Role};
use crate::ServerCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A request to change the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Add a property.
    CreateProperty {
        /// Unique code.
        code: String,
        /// Display name.
        name: String,
        /// IANA time zone.
        timezone: String,
        /// ISO 4217 currency, if known now.
        currency: Option<String>,
    },
    /// Add a room type to a property.
    CreateRoomType {
        /// Property code.
        property: String,
        /// Unique code within the property.
        code: String,
        /// Display name.
        name: String,
        /// Most guests per unit.
        max_occupancy: u32,
    },
    /// Add a room; it adds one unit of its type to every night.
    CreateRoom {
        /// Property code.
        property: String,
        /// Room number.
        number: String,
        /// Room type code.
        room_type: String,
    },
    /// Take a room out of order for some nights.
    SetOutOfOrder {
        /// Property code.
        property: String,
        /// Room number.
        number: String,
        /// First night.
        from: NaiveDate,
        /// Morning back in service.
        to: NaiveDate,
        /// Why.
        reason: String,
    },
    /// Return a room to service for some nights.
    ClearOutOfOrder {
        /// Property code.
        property: String,
        /// Room number.
        number: String,
        /// First night.
        from: NaiveDate,
        /// Morning after the last night.
        to: NaiveDate,
    },
    /// Record a room's housekeeping state or message-waiting lamp (from the PMS link).
    SetRoomStatus {
        /// Property code.
        property: String,
        /// Room number.
        number: String,
        /// New housekeeping state, if reported.
        housekeeping: Option<String>,
        /// New lamp state, if reported.
        message_waiting: Option<bool>,
    },
    /// Price a room type for a run of nights.
    SetRate {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// First night.
        from: NaiveDate,
        /// Morning after the last night.
        to: NaiveDate,
        /// Price of a unit-night in minor units.
        amount: i64,
        /// ISO 4217 code.
        currency: String,
    },
    /// Create or replace a rate plan of a property.
    PutRatePlan {
        /// Property code.
        property: String,
        /// Plan code.
        code: String,
        /// What the operator sets.
        spec: Box<crate::pricing::PlanSpec>,
        /// Expected version when replacing.
        if_match: Option<u64>,
    },
    /// Create or replace an agent (tour operator), where it is owned.
    PutAgent {
        /// Agent code.
        code: String,
        /// What the operator sets.
        spec: Box<crate::agent::AgentSpec>,
        /// Expected version when replacing.
        if_match: Option<u64>,
    },
    /// Add a guest record.
    CreateGuest {
        /// Full name.
        name: String,
        /// E-mail.
        email: Option<String>,
        /// Telephone.
        phone: Option<String>,
    },
    /// Change a guest's contact details, preferences or notes: on the guest's owner only.
    UpdateGuest {
        /// The guest.
        id: RecordId,
        /// What changes.
        patch: GuestPatch,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Merge two profiles of one person: the survivor takes the merged one's details where its
    /// own are empty (an owned write), the merged one becomes a tombstone pointing at it. Both
    /// must be written by this server.
    MergeGuests {
        /// The profile that stays.
        survivor: RecordId,
        /// The profile that goes.
        merged: RecordId,
        /// Why, for the audit log.
        reason: Option<String>,
    },
    /// Erase a guest's personal data on request (GDPR/POPIA), on the guest's owner: the record
    /// keeps its id with every personal field replaced, and the bookings this server writes
    /// keep their dates and money under an anonymised name.
    EraseGuest {
        /// The guest.
        id: RecordId,
        /// Why (the request), for the audit log.
        reason: Option<String>,
    },
    /// Anonymise the bookings this server writes of a guest erased elsewhere (the server's own
    /// job, run when it applies the erased guest): so no server keeps a copy of the name.
    AnonymiseGuestBookings {
        /// The erased guest.
        guest: RecordId,
    },
    /// Book units of a room type.
    CreateBooking {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// First night.
        arrival: NaiveDate,
        /// Morning of departure.
        departure: NaiveDate,
        /// Rooms.
        units: u32,
        /// Who stays.
        guest: GuestInput,
        /// Confirmed or provisional.
        status: InitialStatus,
        /// When a provisional hold lapses.
        hold_until: Option<DateTime<Utc>>,
        /// Free text.
        notes: Option<String>,
        /// Rate plan and occupancy to price it with; without, the nightly rates as before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pricing: Option<PricingRequest>,
    },
    /// Book a reservation of several lines for one guest: every line is a booking of its own
    /// (sharing the reservation's reference), and all are decided together — every line's
    /// units are taken from this server's allotment, or none is.
    CreateReservation {
        /// Property code.
        property: String,
        /// The lines' default first night.
        arrival: Option<NaiveDate>,
        /// The lines' default morning of departure.
        departure: Option<NaiveDate>,
        /// The lines.
        lines: Vec<ReservationLine>,
        /// Who stays (the reservation's guest, on every line).
        guest: GuestInput,
        /// Confirmed or provisional (every line).
        status: InitialStatus,
        /// When a provisional hold lapses.
        hold_until: Option<DateTime<Utc>>,
        /// Free text (every line).
        notes: Option<String>,
        /// The agent it is sold for: its contracted plan prices the lines that name none, and
        /// its commission is stored on every line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// Add a line to a reservation (or make a one-line booking a reservation of two), on the
    /// reservation's owner.
    AddReservationLine {
        /// Any line of the reservation (or the one-line booking).
        reservation: RecordId,
        /// The new line; its dates default to the given line's.
        line: ReservationLine,
    },
    /// Change a booking (one line): dates, room type, rooms, occupancy, rate plan, guest,
    /// notes — on its owner, stock re-checked and the price re-computed by its plan's rule.
    EditBooking {
        /// Reference.
        id: RecordId,
        /// What changes.
        edit: Box<BookingEdit>,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Confirm a provisional booking.
    ConfirmBooking {
        /// Reference.
        id: RecordId,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Cancel a booking.
    CancelBooking {
        /// Reference.
        id: RecordId,
        /// Why.
        reason: Option<String>,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Check a guest in, optionally into a room.
    CheckIn {
        /// Reference.
        id: RecordId,
        /// Room number; may be omitted when one is assigned.
        room: Option<String>,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Check a guest out; early departure returns the unused nights.
    CheckOut {
        /// Reference.
        id: RecordId,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Record that the guest did not come.
    NoShow {
        /// Reference.
        id: RecordId,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Assign a room for the whole stay before arrival.
    AssignRoom {
        /// Reference.
        id: RecordId,
        /// Room number.
        room: String,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Move an in-house guest to another room from today.
    MoveRoom {
        /// Reference.
        id: RecordId,
        /// New room number.
        room: String,
        /// Expected version.
        if_match: Option<u64>,
    },
    /// Release provisional bookings whose holds have lapsed (run by the server itself).
    ExpireHolds,
    /// Give the master token to another server at the next epoch (the last step of a
    /// handover, run on the master once the target holds everything).
    GrantMaster {
        /// The new master.
        to: ServerCode,
        /// The epoch it takes; must be the current epoch plus one.
        epoch: u64,
        /// Why.
        reason: String,
    },
    /// Take the master token without the master (it is gone): audited, with a reason, fencing
    /// the old master's later env writes into conflicts.
    TakeOver {
        /// Why, for the audit log.
        reason: String,
        /// The last change of the old master this server has.
        old_master_seq: u64,
    },
    /// Write a record's state again as its next version (an operator applying a conflict);
    /// checked like any write.
    RestoreRecord {
        /// The state to restore.
        record: Box<crate::record::Record>,
    },
    /// Add a note to a booking, owned by this server whoever owns the booking.
    AddNote {
        /// The booking.
        booking: RecordId,
        /// The note.
        text: String,
    },
    /// Move allotment units of a room type, for a run of nights, from a holder this server
    /// writes for to another holder. Only the giver can decide it: it alone knows exactly what
    /// it has not sold.
    GrantAllotment {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// First night.
        from: NaiveDate,
        /// Morning after the last night.
        to: NaiveDate,
        /// Units on each night.
        units: u32,
        /// Who receives them.
        to_holder: Authority,
        /// Who gives them; this server's own authority when absent.
        from_holder: Option<Authority>,
        /// Why, for the audit log.
        reason: Option<String>,
    },
    /// Run one standing allotment rule (the server's own job): top the holder up where this
    /// server writes for the property's owner, release the holder's unsold units where it
    /// writes for the holder. One rule per command, so each is decided over the last one's
    /// grants.
    RunAllotmentRule {
        /// The rule, from environment.toml.
        rule: AllotmentRule,
    },
    /// Give a record to another authority (a distribution rule's transfer with ownership, or
    /// its return): decided only where it is owned now; a booking takes its units along.
    TransferOwnership {
        /// The kind.
        kind: RecordKind,
        /// Its natural key.
        key: String,
        /// The new owner.
        to: Authority,
        /// Why (the rule), for the audit log and the record's provenance.
        reason: String,
    },
    /// Take in a copy of a record from elsewhere, as a record of this server's authority.
    ImportCopy {
        /// The copy.
        copy: Box<CopyRequest>,
    },
    /// Delete a record (a guest, a note, a closed booking): only where it is owned, and never a
    /// linked copy (its source deletes it).
    DeleteRecord {
        /// The kind.
        kind: RecordKind,
        /// Its natural key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Delete the linked copy of a record, asked by its source.
    DeleteCopy {
        /// The kind.
        kind: RecordKind,
        /// The source's environment.
        from_environment: Option<String>,
        /// The source record's id.
        from_id: RecordId,
    },
    /// Add a user.
    CreateUser {
        /// Login name.
        username: String,
        /// argon2 PHC string.
        password_hash: String,
        /// Roles.
        roles: Vec<Role>,
        /// Servers the user may log in on; empty for all.
        servers: Vec<ServerCode>,
    },
    /// Post a charge to a booking's folio, owned by this server whoever owns the booking.
    PostCharge(Box<crate::ledger::decide_input::ChargeInput>),
    /// Record money received or given back on a booking's folio (deposit, payment, refund).
    TakePayment(Box<crate::ledger::decide_input::PaymentInput>),
    /// Net out an earlier entry with its exact opposite.
    CorrectEntry {
        /// The booking.
        booking: RecordId,
        /// The entry to net out.
        entry: RecordId,
        /// Why, for the folio and the audit log.
        reason: String,
    },
    /// Move an amount from one folio of a booking to another (two entries netting zero).
    TransferBetweenFolios {
        /// The booking.
        booking: RecordId,
        /// The folio it leaves.
        from: String,
        /// The folio it goes to.
        to: String,
        /// Minor units moved (positive).
        amount: i64,
    },
    /// Replace a property's charge catalogue (items and tax codes).
    SetChargeCatalog {
        /// Property code.
        property: String,
        /// Tax codes.
        taxes: Vec<crate::ledger::TaxCode>,
        /// Items.
        items: Vec<crate::ledger::ChargeItem>,
    },
    /// Issue an invoice for a folio's entries not yet billed, in this server's series.
    IssueInvoice {
        /// The booking.
        booking: RecordId,
        /// The folio; the guest folio when absent.
        folio: Option<String>,
        /// Who is billed; the guest's name when absent.
        bill_to: Option<String>,
    },
    /// Cancel an issued invoice with a credit note in this server's series.
    IssueCreditNote {
        /// The invoice's number.
        number: String,
        /// Why.
        reason: String,
    },
    /// Close a business date of a property for the bookings this server writes: post the
    /// room nights, mark the no-shows, roll the date. Idempotent per business date.
    RunNightAudit {
        /// Property code.
        property: String,
        /// The date to close; this server's open business date when absent.
        business_date: Option<NaiveDate>,
        /// Whether confirmed arrivals of the date that never came become no-shows.
        mark_no_shows: bool,
    },
    /// Cancel a booking and post the fee its rate plan's cancellation policy computes for
    /// today to the guest folio, in one decision.
    CancelWithFee {
        /// The booking.
        id: RecordId,
        /// Why.
        reason: Option<String>,
        /// Refuse unless the booking is at this version.
        if_match: Option<u64>,
    },
    /// Post a charge received over the PMS link (FIAS `PS`), once per posting: `posting` names
    /// it (`LINK:P#`) and a second posting of the same name on the booking is refused as
    /// already there.
    PostPmsCharge {
        /// The charge (source `pms`).
        charge: Box<crate::ledger::decide_input::ChargeInput>,
        /// The posting's identity at the PMS link (`LINK:P#`).
        posting: String,
    },
    /// Apply the deposit rules to provisional bookings this server owns: confirm those paid
    /// (when `confirm_when_paid`), release those not paid by their due date. Idempotent.
    SettleDeposits {
        /// The bookings to look at (at most the sweep's limit).
        bookings: Vec<RecordId>,
        /// Whether a paid deposit confirms a provisional booking (a property setting).
        confirm_when_paid: bool,
    },
}

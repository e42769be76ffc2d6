//! What the core may ask about the current state while deciding a command.
//!
//! The store answers from inside its write transaction, so a decision and its write see the
//! same state; tests answer from [`crate::model::MemState`].

use crate::allotment::HolderFacts;
use crate::dates::Nights;
use crate::ids::Authority;
use crate::ids::RecordId;
use crate::record::{Booking, Guest, Property, RatePlan, Room, RoomType, User};
use crate::stock::{NightStock, Occupancy};
use chrono::{DateTime, Utc};

/// A failure of the state's backing store, carried through the core untouched.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ViewError(pub String);

/// Shorthand for view answers.
pub type ViewResult<T> = Result<T, ViewError>;

/// Read access to the current state.
pub trait StateView {
    /// A property by code.
    fn property(&self, code: &str) -> ViewResult<Option<Property>>;
    /// A room type by property and code.
    fn room_type(&self, property: &str, code: &str) -> ViewResult<Option<RoomType>>;
    /// A room by property and number.
    fn room(&self, property: &str, number: &str) -> ViewResult<Option<Room>>;
    /// A room type's rate plan.
    fn rate_plan(&self, property: &str, room_type: &str) -> ViewResult<Option<RatePlan>>;
    /// A guest by id.
    fn guest(&self, id: &RecordId) -> ViewResult<Option<Guest>>;
    /// A booking by id.
    fn booking(&self, id: &RecordId) -> ViewResult<Option<Booking>>;
    /// Every folio entry of a booking, oldest first (by id within each server).
    fn folio_entries(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::FolioEntry>>;
    /// Every invoice and credit note of a booking.
    fn invoices_of(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::Invoice>>;
    /// The highest place taken in `series`'s invoice numbers of `year` (0: none yet).
    fn last_invoice_seq(&self, series: &crate::ids::ServerCode, year: i32) -> ViewResult<u32>;
    /// The bookings of a property whose stay covers `night` (any status), at most `limit`.
    fn bookings_staying(
        &self,
        property: &str,
        night: chrono::NaiveDate,
        limit: usize,
    ) -> ViewResult<Vec<Booking>>;
    /// A user by name.
    fn user(&self, username: &str) -> ViewResult<Option<User>>;
    /// The master token record, once a grant has been written.
    fn master_token(&self) -> ViewResult<Option<crate::record::MasterToken>>;
    /// Stock of a room type for each night of `nights`, in order.
    fn night_stock(
        &self,
        property: &str,
        room_type: &str,
        nights: Nights,
    ) -> ViewResult<Vec<NightStock>>;
    /// Which bookings occupy a room on the nights of `nights`.
    fn room_occupancy(
        &self,
        property: &str,
        room: &str,
        nights: Nights,
    ) -> ViewResult<Vec<Occupancy>>;
    /// What one holder has of a room type on each night of `nights`, in order: the rooms in
    /// service, everyone's sales, the units granted to it net of those it gave, its own sales.
    fn holder_facts(
        &self,
        property: &str,
        room_type: &str,
        holder: &Authority,
        nights: Nights,
    ) -> ViewResult<Vec<HolderFacts>>;
    /// An allotment grant by id.
    fn allotment_grant(&self, id: &RecordId) -> ViewResult<Option<crate::record::AllotmentGrant>>;
    /// Any record by kind and natural key.
    fn record(
        &self,
        kind: crate::record::RecordKind,
        key: &str,
    ) -> ViewResult<Option<crate::record::Record>>;
    /// The copy here of record `from_id` of `from_environment` (`None`: this environment).
    fn find_copy(
        &self,
        kind: crate::record::RecordKind,
        from_environment: Option<&str>,
        from_id: &RecordId,
    ) -> ViewResult<Option<crate::record::Record>>;
    /// The first record of `kind` (by key) whose fields equal every one of `fields`.
    fn find_by_fields(
        &self,
        kind: crate::record::RecordKind,
        fields: &[(String, serde_json::Value)],
    ) -> ViewResult<Option<crate::record::Record>>;
    /// Whether any booking refers to the guest.
    fn guest_in_use(&self, id: &RecordId) -> ViewResult<bool>;
    /// The bookings that refer to the guest id (exactly this id), at most `limit`, by id.
    fn guest_bookings(&self, guest: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>>;
    /// The lines of reservation `reservation` (the bookings whose current state carries it as
    /// their `reservation`), at most `limit`, by id: adding a line counts them first.
    fn reservation_lines(&self, reservation: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>>;
    /// The codes of a property's room types.
    fn room_type_codes(&self, property: &str) -> ViewResult<Vec<String>>;
    /// Provisional bookings whose hold lapsed at or before `now`, at most `limit`.
    fn lapsed_holds(&self, now: DateTime<Utc>, limit: usize) -> ViewResult<Vec<RecordId>>;

    /// A rate plan by property and code: one lookup by key (a booking never scans plans).
    fn pricing_plan(
        &self,
        property: &str,
        code: &str,
    ) -> ViewResult<Option<crate::pricing::PricingPlan>> {
        let key = format!("{property}/{code}");
        match self.record(crate::record::RecordKind::PricingPlan, &key)? {
            Some(crate::record::Record::PricingPlan(p)) => Ok(Some(p)),
            Some(other) => Err(ViewError(format!(
                "record {key} is a {:?}, expected a rate plan",
                other.kind()
            ))),
            None => Ok(None),
        }
    }
}

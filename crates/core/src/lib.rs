//! innsync's domain core: the records of a reservation database, the commands that change them,
//! and the rules that decide whether a command may run — as plain functions over plain data.
//!
//! Nothing here does I/O or reads a clock: time, fresh ids and the current state arrive as
//! arguments ([`Ctx`], [`IdSource`], [`StateView`]), and a decision leaves as data ([`Decision`]).
//! The store applies decisions inside one transaction; tests drive the same functions over the
//! in-memory [`model::MemState`] and check the invariants after every step.

pub mod agent;
pub mod allotment;
pub mod booking;
pub mod command;
pub mod dates;
pub mod decide;
pub mod describe;
pub mod edit_rule;
pub mod error;
pub mod fencing;
pub mod guests;
pub mod ids;
pub mod ledger;
pub mod limits;
pub mod model;
pub mod pms;
pub mod pricing;
pub mod rates;
pub mod record;
pub mod record_dates;
pub mod state_view;
pub mod stock;

pub use command::{
    BookingEdit, Command, CopyRequest, GuestInput, GuestPatch, InitialStatus, OnDuplicate,
    ReservationLine,
};
pub use decide::{decide, AuditEntry, Ctx, Decision, Outcome, MAX_RESERVATION_LINES};
pub use error::{DomainError, ErrorCode};
pub use ids::{
    Authority, IdSource, RecordId, ReservationNumber, ReservationNumberError, ServerCode,
};
pub use record::{
    AllotmentGrant, Booking, BookingStatus, CopyKind, Guest, Meta, Money, OutOfOrder, Property,
    Provenance, RatePeriod, RatePlan, Record, RecordKind, Role, Room, RoomType, Stay, Tombstone,
    User,
};
/// The old path of [`state_view`], kept so that branches in flight still compile; remove after
/// they are merged.
#[doc(hidden)]
pub use state_view as view;
pub use state_view::{StateView, ViewError};

//! The domain's refusals: each names what was wrong precisely enough to act on.

use crate::ids::{Authority, ServerCode};
use crate::state_view::ViewError;
use chrono::NaiveDate;

/// The machine-readable code of a refusal, as in the API's problem documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The input is malformed or breaks a rule about its own content.
    InvalidInput,
    /// A referenced record does not exist.
    NotFound,
    /// `If-Match` named an older version.
    VersionConflict,
    /// A night lacks units.
    NoAvailability,
    /// The record is env-owned and this server is not the master.
    NotMaster,
    /// The record is owned by another server.
    NotOwner,
    /// The booking's status does not allow the action, now or ever.
    InvalidTransition,
    /// A record with that code already exists.
    AlreadyExists,
    /// The room is occupied or out of order on a night asked for.
    RoomUnavailable,
    /// The master is handing over; env writes resume on the new master shortly.
    HandoverInProgress,
    /// The store failed; nothing was written.
    Storage,
    /// A rate plan's restriction refuses the stay (min stay, closed to arrival, stop-sell…).
    Restricted,
}

impl ErrorCode {
    /// The code as written in problem documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::VersionConflict => "version_conflict",
            Self::NoAvailability => "no_availability",
            Self::NotMaster => "not_master",
            Self::NotOwner => "not_owner",
            Self::InvalidTransition => "invalid_transition",
            Self::AlreadyExists => "already_exists",
            Self::RoomUnavailable => "room_unavailable",
            Self::HandoverInProgress => "handover_in_progress",
            Self::Storage => "unavailable",
            Self::Restricted => "restricted",
        }
    }
}

/// Why a command was refused. A refused command writes nothing.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Bad input, with a sentence naming the field and the rule.
    #[error("{0}")]
    InvalidInput(String),
    /// A referenced record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Optimistic concurrency: the caller saw an older version.
    #[error("the record is at version {actual}, not {expected}; reload it and try again")]
    VersionConflict {
        /// Version the caller sent in `If-Match`.
        expected: u64,
        /// Version stored.
        actual: u64,
    },
    /// A night cannot take the units asked for.
    #[error("no availability for {room_type} at {property} on {night}: {free} of {in_service} units free, {requested} requested")]
    NoAvailability {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// The first short night.
        night: NaiveDate,
        /// Units asked for.
        requested: u32,
        /// Units free that night.
        free: u32,
        /// Rooms in service that night.
        in_service: u32,
    },
    /// A holder's allotment cannot take (or give) the units asked for on a night.
    #[error("{holder} holds {held} units of {room_type} at {property} on {night} and has sold {held_sold}; {requested} more cannot come from its allotment")]
    AllotmentShort {
        /// Whose allotment.
        holder: Authority,
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// The first short night.
        night: NaiveDate,
        /// Units it holds that night.
        held: i64,
        /// Units it has sold that night.
        held_sold: u32,
        /// Units asked for.
        requested: u32,
    },
    /// Env-owned data is written only on the master.
    #[error("{}", match .master { Some(m) => format!("this server is not the master; the master is {m}"), None => "this server is not the master".to_string() })]
    NotMaster {
        /// The current master, if known.
        master: Option<ServerCode>,
    },
    /// The record belongs to another server.
    #[error("the record is owned by {owner}; change it there")]
    NotOwner {
        /// Its owner.
        owner: Authority,
    },
    /// The booking's status or the date forbids the action.
    #[error("{0}")]
    InvalidTransition(String),
    /// A code is taken.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The room is occupied or out of order on a night asked for.
    #[error("{0}")]
    RoomUnavailable(String),
    /// Env writes are frozen while the master hands over.
    #[error("the master is handing over to another server; retry shortly")]
    HandoverInProgress,
    /// A rate plan's restriction refuses the stay.
    #[error("rate plan {plan} refuses the stay: {detail}")]
    Restricted {
        /// The plan's code.
        plan: String,
        /// The restriction's code (`min_stay_arrival`, `closed_to_arrival`…).
        restriction: String,
        /// The restriction in words.
        detail: String,
    },
    /// The store failed while reading state.
    #[error("storage: {0}")]
    Storage(#[from] ViewError),
    /// No reservation number could be handed out (the server's range is used up, or its
    /// counter failed); the booking is refused.
    #[error(transparent)]
    ReservationNumber(#[from] crate::ids::ReservationNumberError),
}

impl DomainError {
    /// The API code of this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::InvalidInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::VersionConflict { .. } => ErrorCode::VersionConflict,
            Self::NoAvailability { .. } | Self::AllotmentShort { .. } => ErrorCode::NoAvailability,
            Self::NotMaster { .. } => ErrorCode::NotMaster,
            Self::NotOwner { .. } => ErrorCode::NotOwner,
            Self::InvalidTransition(_) => ErrorCode::InvalidTransition,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::RoomUnavailable(_) => ErrorCode::RoomUnavailable,
            Self::HandoverInProgress => ErrorCode::HandoverInProgress,
            Self::Storage(_) | Self::ReservationNumber(_) => ErrorCode::Storage,
            Self::Restricted { .. } => ErrorCode::Restricted,
        }
    }
}

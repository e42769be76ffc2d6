//! What the engine reports to its driver: events, skipped records and refusals.

use super::Posting;

use thiserror::Error;

use crate::fias::{FiasError, Record};
use crate::pms_side::MessageId;
use crate::room::Extension;

/// Why a record cannot be sent at all; it is skipped and the link goes on with the next one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkipReason {
    /// The record, in the link's encoding, is longer than the other side accepts.
    #[error("the record is {len} bytes, more than the {max} the link accepts")]
    TooLong {
        /// Encoded length.
        len: usize,
        /// The limit (`fias_max_record_len`).
        max: usize,
    },
    /// The reservation number does not fit FIAS's 10 digits.
    #[error("reservation number {0} has more than 10 digits")]
    Reservation(u64),
    /// A value cannot travel (it contains the field separator).
    #[error(transparent)]
    Record(#[from] FiasError),
}

/// What the FIAS engine tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiasEvent {
    /// The link is alive: records flow.
    LinkAlive,
    /// The transport dropped; buffered records are kept.
    LinkDown,
    /// The other side ended the link with `LE`.
    LinkEnded,
    /// The record was written to the link (TCP has no acknowledgement).
    Delivered(MessageId),
    /// The other side did not ask for this record type in `LR`; nothing was sent.
    NotWanted(MessageId),
    /// The record cannot be sent at all and was skipped; the next one goes on.
    Skipped {
        /// The record concerned.
        id: MessageId,
        /// The record in words.
        what: String,
        /// Why.
        reason: SkipReason,
    },
    /// The other side asked for a resync (`DR`): call `start_resync` with every room.
    ResyncWanted,
    /// A resync was written (`DS` … `DE`).
    ResyncSent {
        /// Rooms sent.
        rooms: usize,
        /// Rooms whose record could not be sent, in words with the reason.
        skipped: Vec<String>,
    },
    /// Room status from the other side (`RE` with `RS` 1–6).
    RoomStatus {
        /// The room.
        room: Extension,
        /// `RS` value.
        status: u8,
    },
    /// A posting from the other side, to charge and then answer with
    /// [`FiasPmsLink::answer_posting`].
    Posting(Posting),
    /// Another data record from the other side (unknown to innsync but delivered for logs).
    Received(Record),
    /// A record could not be parsed or used; FIAS over TCP has no NAK, so it is only reported.
    Refused(String),
}

/// Why a record could not be taken now (it may be offered again later).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FiasSubmitError {
    /// The link is not alive and the buffer is full.
    #[error("FIAS buffer is full ({0} records)")]
    BufferFull(usize),
}

/// Why a resync could not be started.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResyncError {
    /// Only an alive link resyncs; the other side asks again with `DR`.
    #[error("the FIAS link is not alive")]
    NotAlive,
    /// More rooms than `max_rooms`.
    #[error("snapshot has {count} rooms, more than {max}")]
    TooManyRooms {
        /// Rooms given.
        count: usize,
        /// Limit.
        max: usize,
    },
}

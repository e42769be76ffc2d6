//! The messages of the handover: the events a driver reports, the commands it performs, the
//! alerts it raises and the reasons a handover is refused or given up.

use super::{Epoch, MasterToken};
use crate::cursor::CursorMap;
use chrono::{DateTime, Utc};
use innsync_core::ServerCode;

/// Why a handover was given up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AbortReason {
    /// T did not catch up within the handover timeout.
    #[error("the target did not catch up within {0} seconds")]
    TimedOut(i64),
    /// T could not be reached.
    #[error("the target could not be reached: {0}")]
    TargetUnreachable(String),
    /// Writing the grant failed (and rolled back).
    #[error("writing the grant failed: {0}")]
    GrantFailed(String),
    /// Another server took a higher epoch meanwhile.
    #[error("{0} took over meanwhile")]
    Superseded(MasterToken),
}

/// Something an operator must hear about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Alert {
    /// A handover failed; the master stays where it was.
    #[error("handover to {target} aborted: {reason}")]
    HandoverAborted {
        /// T.
        target: ServerCode,
        /// Why.
        reason: AbortReason,
    },
    /// This server was master and learned of a higher epoch: it is a slave now.
    #[error("this server is no longer master: {by}")]
    Superseded {
        /// The new master.
        by: MasterToken,
    },
    /// A timetable handover was not started in time (the server was down or busy).
    #[error("timetable handover to {master} due at {due} was missed")]
    TimetableMissed {
        /// The slot's instant.
        due: DateTime<Utc>,
        /// Who should have become master.
        master: ServerCode,
    },
    /// A timetable handover was started and failed.
    #[error("timetable handover to {master} due at {due} failed: {reason}")]
    TimetableFailed {
        /// The slot's instant.
        due: DateTime<Utc>,
        /// Who should have become master.
        master: ServerCode,
        /// Why.
        reason: AbortReason,
    },
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoverCommand {
    /// Refuse env-owned writes with `handover_in_progress`; answer [`HandoverEvent::Frozen`]
    /// once writes in flight are committed.
    FreezeEnvWrites,
    /// Push changes to T (and pull its cursors); answer with progress events.
    PushChangesTo(ServerCode),
    /// Write the change `master granted to T at epoch e` and, in the same transaction, set the
    /// local token to it; answer [`HandoverEvent::GrantDurable`] or [`HandoverEvent::GrantFailed`].
    WriteGrant {
        /// T.
        to: ServerCode,
        /// T's epoch.
        epoch: Epoch,
    },
    /// Lift the freeze. After an abort M writes again; after a grant the token already names T,
    /// so env writes are refused with `not_master` instead of `handover_in_progress`.
    UnfreezeEnvWrites,
    /// Tell an operator (log, metrics, UI).
    Alert(Alert),
    /// Deliver [`HandoverEvent::Tick`] at this time (the handover deadline).
    SetTimer(DateTime<Utc>),
}

/// What happened, as reported by the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoverEvent {
    /// Someone asked for the master token to move to `to`.
    Requested {
        /// T.
        to: ServerCode,
        /// Now.
        now: DateTime<Utc>,
    },
    /// The freeze is in force; `local_cursor` is everything M holds.
    Frozen {
        /// M's cursors, its own origin included.
        local_cursor: CursorMap,
    },
    /// T reported its cursors during the transfer.
    TransferProgress {
        /// T's cursors.
        target_cursor: CursorMap,
    },
    /// T says it has everything M pushed.
    TargetCaughtUp {
        /// T's cursors.
        target_cursor: CursorMap,
    },
    /// The clock moved (a timer fired).
    Tick {
        /// Now.
        now: DateTime<Utc>,
    },
    /// T could not be reached.
    TargetUnreachable {
        /// The transport's words, for the alert.
        detail: String,
    },
    /// The grant is committed.
    GrantDurable {
        /// T.
        to: ServerCode,
        /// T's epoch.
        epoch: Epoch,
    },
    /// Writing the grant failed and rolled back.
    GrantFailed {
        /// The store's words.
        detail: String,
    },
    /// A master token learned by replication (another server's grant or takeover).
    MasterLearned {
        /// The token.
        token: MasterToken,
    },
}

/// Why a handover request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoverRefusal {
    /// Only the master hands over; the caller forwards the request there.
    #[error("this server is not the master; the master is {master} (epoch {epoch})")]
    NotMaster {
        /// The master.
        master: ServerCode,
        /// Its epoch.
        epoch: Epoch,
    },
    /// Another handover is running.
    #[error("a handover to {target} is already in progress")]
    InProgress {
        /// Its target.
        target: ServerCode,
    },
    /// Handing over to oneself.
    #[error("this server is already the master")]
    TargetIsSelf,
    /// The target may not be master.
    #[error("{0} is not a web or reservation server of this environment, so it cannot be master")]
    NotEligible(ServerCode),
    /// Epochs are exhausted (u64::MAX); never in practice.
    #[error("no epoch is left above {0}")]
    EpochsExhausted(Epoch),
}

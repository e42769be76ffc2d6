//! The master token: who may write env-owned records, and how that right moves.
//!
//! - which env writes count after takeovers is not decided here but by the one fencing rule,
//!   `innsync_core::fencing`, which the store and the simulation both run;
//! - [`HandoverEngine`] is the handover state machine the current master runs for a target;
//! - [`force_takeover`] and [`Fence`] are the audited takeover when the master is gone, and the
//!   fencing of what the old master wrote after the new one last heard from it;
//! - [`Timetable`] says which scheduled handover is due now.
//!
//! Everything is sans-I/O: time arrives as arguments and decisions leave as commands.

mod handover;
mod signals;
mod takeover;
mod timetable;

#[cfg(test)]
mod handover_tests;

pub use handover::{
    HandoverEngine, HandoverSettings, HandoverState, DEFAULT_HANDOVER_TIMEOUT_SECS,
};
pub use signals::{AbortReason, Alert, HandoverCommand, HandoverEvent, HandoverRefusal};
pub use takeover::{
    force_takeover, Fence, Takeover, TakeoverAudit, TakeoverRefusal, TakeoverRequest,
};
pub use timetable::{
    Slot, Timetable, TimetableDecision, TimetableSettings, DEFAULT_MAX_LATENESS_SECS,
};

use innsync_core::ServerCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A master epoch. Exactly one server is master per epoch, and epochs only grow, so a higher
/// epoch always wins and a write stamped with an old epoch can be recognised as fenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch of the environment's `initial_master`, before any handover.
    pub const INITIAL: Epoch = Epoch(1);

    /// The epoch after this one; `None` only at `u64::MAX`, where no new master can be made.
    pub fn next(self) -> Option<Epoch> {
        self.0.checked_add(1).map(Epoch)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The record `master {server, epoch}`: the one server allowed to write env-owned records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MasterToken {
    /// The master.
    pub server: ServerCode,
    /// Its epoch.
    pub epoch: Epoch,
}

impl MasterToken {
    /// The token every server starts from: the file's `initial_master` at [`Epoch::INITIAL`].
    pub fn initial(env: &crate::Environment) -> Self {
        Self {
            server: env.initial_master.clone(),
            epoch: Epoch::INITIAL,
        }
    }
}

impl fmt::Display for MasterToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at epoch {}", self.server, self.epoch)
    }
}

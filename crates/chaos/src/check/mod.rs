//! The checker: the guarantees, judged over the history and every server's final database
//! after the faults are healed. Each check has a name; a violation says which check, where
//! and what.
//!
//! - `converged`: every server's digest is the same after heal;
//! - `pending_drained`: no pending operation is left waiting (each is done, failed or
//!   canceled);
//! - `invariants`: `innsync check` holds on every data directory — no night oversold (units
//!   sold never exceed rooms in service), no room taken twice, derived counters equal to the
//!   records;
//! - `acknowledged_bookings`: every booking a client was told was made (201/200), or that was
//!   queued (202) and whose pending operation completed, is on every server, in the state it
//!   was acknowledged in or a later one — unless a fence quarantined that write as a conflict;
//! - `booked_once`: no booking request (one idempotency key, one guest name) made two
//!   bookings, however it was retried, relayed or duplicated;
//! - `acknowledged_env_writes`: every env write acknowledged (a room added) is a record or a
//!   quarantined conflict on every server, never lost;
//! - `one_master_per_epoch`: the env writes that count (not fenced, not quarantined) of each
//!   epoch come from one of its claimants only — two claims of one epoch are settled by the
//!   store (the first-ranked claim is the master everywhere), so they are counted, not failed;
//! - `epochs_grow`: the tokens each server wrote have growing epochs.
//!
//! - `acknowledged_grants`: every allotment grant acknowledged is a record (or a conflict) on
//!   every server; that no holder gives or sells more than it holds is `innsync check`'s.
//! - `acknowledged_payments`: every ledger entry acknowledged (a deposit, charge or payment
//!   the workload adds after a confirm, check-in or check-out) is on every server
//!   ([`crate::money`]).

mod acknowledged;
mod db;
mod epochs;
mod servers;
mod stock;
#[cfg(test)]
mod tests;

pub use acknowledged::reachable;
pub use db::{read_db, DbState, ReadError};
pub use stock::{oversold, StockRule};

use acknowledged::{
    acknowledged, acknowledged_bookings, acknowledged_env_writes, acknowledged_grants, booked_once,
};
use epochs::{epochs_grow, one_master_per_epoch};
use servers::{converged, invariants, pending_drained};
use stock::no_night_oversold;

use crate::history::{completions, Event};
use innsync_core::BookingStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One server's end of the run.
#[derive(Clone, Debug)]
pub struct Final {
    /// Its code.
    pub code: String,
    /// Its database file.
    pub db: PathBuf,
    /// Its digest (empty if it did not answer).
    pub digest: String,
    /// What `innsync check --data-dir` said (Err: its message).
    pub invariants: Result<(), String>,
}

/// A guarantee broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which check.
    pub check: &'static str,
    /// What, where.
    pub detail: String,
}

/// What the checker looked at, for the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    /// Bookings acknowledged and found.
    pub acknowledged_bookings: usize,
    /// Booking writes found reverted by a fence (quarantined as conflicts).
    pub fenced_booking_writes: usize,
    /// Env writes acknowledged.
    pub acknowledged_env_writes: usize,
    /// Of those, quarantined as conflicts after a forced takeover.
    pub fenced_env_writes: usize,
    /// Pending operations seen.
    pub pending_operations: usize,
    /// Epochs seen.
    pub epochs: usize,
    /// Epochs claimed by two servers and settled.
    pub disputed_epochs: usize,
    /// Conflicts on the first server.
    pub conflicts: usize,
    /// Allotment grants acknowledged (and found on every server, or quarantined).
    pub acknowledged_grants: usize,
    /// Nights sold beyond the rooms by several authorities together, each within the rooms
    /// on its own: the gap before allotments (issue 4), counted instead of failing only with
    /// `lenient_stock`.
    pub cross_authority_oversold_nights: usize,
}

/// The checker's verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// Broken guarantees (empty: the run passed).
    pub violations: Vec<Violation>,
    /// What was looked at.
    pub checked: Checked,
}

/// Judges a run: `events` its history, `finals` each server after heal (databases read with
/// [`read_db`] into `states`, same order), `initial_master` the file's.
///
/// One function a check, in the order the module head lists them.
pub fn check(
    events: &[Event],
    finals: &[Final],
    states: &[DbState],
    initial_master: &str,
    stock: StockRule,
) -> Verdict {
    let mut v = Verdict::default();
    let found = no_night_oversold(&mut v, finals, states, stock);
    converged(&mut v, finals);
    invariants(&mut v, finals, &found);
    pending_drained(&mut v, finals, states);
    let done = completions(events);
    let conflict_records: BTreeSet<&str> = states
        .iter()
        .flat_map(|s| s.conflicts.iter().map(|c| c.2.as_str()))
        .collect();
    let (acked, refs_by_key) = acknowledged(&mut v, &done, states);
    booked_once(&mut v, &refs_by_key, finals, states);
    acknowledged_bookings(&mut v, &acked, &conflict_records, finals, states);
    acknowledged_env_writes(&mut v, &done, finals, states);
    acknowledged_grants(&mut v, &done, &conflict_records, finals, states);
    one_master_per_epoch(&mut v, finals, states, initial_master);
    epochs_grow(&mut v, finals, states);
    crate::money::acknowledged_payments(&mut v, events, finals);
    v.checked.conflicts = states.first().map_or(0, |s| s.conflicts.len());
    v
}

/// A booking's last acknowledged state and the op that acknowledged it, by reference.
type Acked = BTreeMap<String, (BookingStatus, u64)>;

impl Verdict {
    fn fail(&mut self, check: &'static str, detail: String) {
        self.violations.push(Violation { check, detail });
    }
}

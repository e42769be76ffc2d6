//! What the simulation of an environment carries (changes, messages, nodes) and what a
//! schedule reports (its outcome, or the invariant it broke).

use chrono::{DateTime, Utc};
use innsync_core::fencing::{Claim, Claims};
use innsync_core::ServerCode;
use innsync_environment::master::HandoverEngine;
use innsync_environment::{CursorMap, HoldBuffer, Sequenced};
use std::collections::{BTreeMap, BTreeSet};

/// A change as the simulation carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimChange {
    /// Writer.
    pub origin: ServerCode,
    /// Its place in the writer's log.
    pub seq: u64,
    /// The epoch it was written at.
    pub epoch: u64,
    /// An env-owned write (else the writer's own record).
    pub env: bool,
    /// A claim to be master written (a grant, or a takeover with its fence).
    pub token: Option<Claim>,
}

impl Sequenced for SimChange {
    fn origin(&self) -> &ServerCode {
        &self.origin
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

#[derive(Clone, Debug)]
pub(super) enum Msg {
    Pull(CursorMap),
    Batch(Vec<SimChange>),
}

/// What a schedule exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Forced takeovers happen.
    pub takeovers: bool,
    /// A timetable slot falls in the run, clocks skewed.
    pub timetable: bool,
    /// Crashes (volatile state lost; log, cursors and tokens kept).
    pub crashes: bool,
}

pub(super) struct Node {
    pub(super) code: ServerCode,
    pub(super) eligible: bool,
    pub(super) log: Vec<SimChange>,
    pub(super) applied: BTreeSet<(ServerCode, u64)>,
    pub(super) cursors: CursorMap,
    pub(super) holds: HoldBuffer<SimChange>,
    pub(super) claims: Claims,
    pub(super) engine: HandoverEngine,
    pub(super) frozen: bool,
    pub(super) timer: Option<DateTime<Utc>>,
    pub(super) last_pull_from: BTreeMap<ServerCode, u64>,
    pub(super) handover_since: u64,
    pub(super) last_run: Option<DateTime<Utc>>,
    pub(super) skew_ms: i64,
    pub(super) down_until: u64,
    pub(super) highest_epoch: u64,
}

/// What one schedule did, for the tests' assertions that faults happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Changes written.
    pub writes: u64,
    /// Handovers granted.
    pub grants: u64,
    /// Handovers aborted.
    pub aborts: u64,
    /// Forced takeovers.
    pub takeovers: u64,
    /// Timetable handovers started.
    pub timetable_handovers: u64,
    /// Crashes.
    pub crashes: u64,
    /// Changes held beyond a gap at least once.
    pub held: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
    /// Epochs claimed by more than one server (concurrent takeovers), settled by the rule.
    pub disputed: u64,
    /// Env writes judged not legitimate at the end (fenced, disputed).
    pub quarantined: u64,
    /// The highest epoch reached.
    pub epoch: u64,
}

/// A broken invariant, with the seed that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The seed.
    pub seed: u64,
    /// What broke.
    pub what: String,
}

//! A change as it travels between servers: a record's decided new state, stamped with where,
//! under which authority and epoch, by whom and why it was written. Never SQL.

use innsync_core::{Authority, Record, ServerCode};
use serde::{Deserialize, Serialize};

/// One entry of a change log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The server that wrote it.
    pub origin: ServerCode,
    /// Its place in the origin's log: dense, from 1, never reused.
    pub seq: u64,
    /// The master epoch it was written under.
    pub epoch: u64,
    /// The authority it was written under (the record's owner).
    pub authority: Authority,
    /// When (RFC 3339).
    pub at: String,
    /// Who.
    pub actor: String,
    /// What was done (`booking.cancel`).
    pub action: String,
    /// A human summary.
    pub detail: String,
    /// The record's new state.
    pub record: Record,
}

/// What applying a batch of replicated changes did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationReport {
    /// Changes applied (newer records written, or logged as older than what is stored).
    pub applied: u64,
    /// Changes already applied before (duplicates), skipped.
    pub duplicates: u64,
    /// Changes not applied because an earlier change of their origin is missing; pulled again.
    pub held: u64,
    /// Of the applied changes, those older than the stored record (kept in the log only).
    pub stale: u64,
    /// Changes that would break an invariant here, quarantined in `conflicts`.
    pub conflicts: u64,
}

//! innsync's environment of servers, as plain data and pure decisions (no I/O, no clock):
//!
//! - [`config`]: `environment.toml`, parsed and validated with the line and column of every
//!   problem, plus the fingerprint servers exchange to refuse syncing with a different file;
//! - [`master`]: the master token, fencing of changes written under a stale epoch, the handover
//!   state machine run by the current master, forced takeover and the master timetable;
//! - [`rules`]: distribution rules — which records go where, how and when — and partial
//!   replication, as pure decisions the server's queue runs on;
//! - [`cursor`]: replication cursors, deciding per incoming change whether to apply, skip or hold
//!   it, so that every change is applied exactly once and in order.
//!
//! The server drives these with its own clock, store and network; this crate only decides.

pub mod config;
pub mod cursor;
pub mod limits;
pub mod master;
pub mod rules;

pub use config::{
    ConfigError, Environment, Fingerprint, LoadError, ServerEntry, ServerRole, TimetableEntry,
};
pub use cursor::{BatchPlan, ChangeDecision, CursorMap, GarbledBatch, HoldBuffer, Sequenced};
pub use master::{Epoch, HandoverCommand, HandoverEngine, HandoverEvent, MasterToken, Timetable};
pub use url::Url;

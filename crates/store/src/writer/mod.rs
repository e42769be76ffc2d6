//! The single writer: one thread owns the write connection and group-commits.
//!
//! Requests queue in a bounded channel. The thread takes everything queued (up to
//! `max_batch`), opens one transaction, runs each command — decide with
//! the domain core, apply the records, append the change log, the audit log and the
//! idempotency key — then commits once. With `synchronous=FULL` that commit is one fsync for
//! the whole batch, and only after it do the callers get their answers. Deciding only reads,
//! so a refused command leaves nothing to undo and needs no savepoint; a statement that fails
//! mid-batch aborts the transaction, and the batch is re-run one request per transaction so
//! that only the bad request fails. Nothing is acknowledged before its commit.
//!
//! The module's rooms: [`job`] (what is asked and answered), [`handle`] (the [`Writer`] handle),
//! `batch` (the thread's loop and group commit), `command` (one domain command), `replicate`
//! (changes from other servers, with quarantine), `replica` (a cluster node's state machine and
//! snapshot install), `local` (this server's own tables), `state` (the thread's state and its
//! one derivation of the core's `Ctx`).

mod batch;
mod command;
pub mod handle;
pub mod job;
mod local;
mod replica;
mod replicate;
mod state;

/// Where a cluster node records which Raft entry the store applied (read by `backup`).
pub(crate) use batch::APPLIED_KEY;
pub use handle::Writer;
pub use job::{Batch, Job, LocalWrite, PauseGuard, Request, Skipped, WriteOutcome};
pub use replica::Replica;

use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The source of "now", injected so tests can drive time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Limits of the writer.
#[derive(Clone, Debug)]
pub struct WriterSettings {
    /// Most requests waiting; beyond it callers are told to retry (503), not queued forever.
    pub queue_limit: usize,
    /// Most commands in one transaction.
    pub max_batch: usize,
    /// The master a fresh database starts with (the environment's `initial_master`); this
    /// server itself when it is alone.
    pub initial_master: Option<ServerCode>,
    /// Properties owned by property servers, from the environment file.
    pub property_owners: Vec<(String, ServerCode)>,
    /// Servers that may hold allotments besides `env` (every server of the environment but
    /// the archive).
    pub holders: Vec<ServerCode>,
    /// The environment's archive servers (they own closed records and never edit).
    pub archives: Vec<ServerCode>,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            queue_limit: 8_192,
            max_batch: 2_048,
            initial_master: None,
            property_owners: Vec::new(),
            holders: Vec::new(),
            archives: Vec::new(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Commands run (applied or refused).
    pub commands: AtomicU64,
    /// Commands refused by the domain.
    pub refused: AtomicU64,
    /// Records written.
    pub changes: AtomicU64,
    /// Commits that failed (each failing its whole batch).
    pub commit_failures: AtomicU64,
    /// Whether the last transaction failed (a full disk, a read-only file): `/readyz` says
    /// not ready until a write succeeds again.
    pub last_write_failed: std::sync::atomic::AtomicBool,
    /// Largest batch seen.
    pub max_batch: AtomicU64,
}

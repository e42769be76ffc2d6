//! innsync's store: one SQLite file in WAL mode holding the records, the derived counters the
//! rules read (stock, room nights), the change log, the audit log and idempotency keys.
//!
//! All writes go through one [`Writer`] thread that group-commits: it drains many commands into
//! one transaction, decides each with the domain core (deciding only reads: a refusal writes
//! nothing and needs no savepoint), appends the
//! changes, and acknowledges only after the commit is on disk (`synchronous=FULL`). Readers use
//! a [`ReadPool`] of read-only connections that see the last committed state.

pub mod apply;
pub mod backup;
pub mod blocked;
pub mod change;
pub mod error;
pub mod fence;
pub mod fence_yield;
pub mod guests;
pub mod holdings;
pub mod ledger;
pub mod partial;
pub mod pending;
pub mod quote;
pub mod read;
pub mod reports;
mod reservation;
pub mod reservation_lines;
mod savepoint;
pub mod schema;
pub mod sql_view;
pub mod who_sells;
pub mod writer;

pub use change::{Change, ReplicationReport};
pub use error::StoreError;
pub use holdings::{HolderNight, Holdings, NightHoldings, RoomTypeHoldings};
pub use pending::{NewPending, PendingOp, PendingUpdate, QueueSummary};
pub use read::{
    AuditRow, Availability, BookingFilter, ConflictFilter, NightAvailability, OutboxEvent,
    PmsLinkRow, Position, ReadPool, RoomTypeNights,
};
pub use writer::{
    Batch, Clock, Job, LocalWrite, PauseGuard, Replica, Request, Skipped, WriteOutcome, Writer,
    WriterSettings, WriterStats,
};

/// The old path of [`sql_view`] (`fence.rs` and `apply.rs` still use it; their owners' branches
/// change them now): remove after they are merged.
#[doc(hidden)]
pub use sql_view as view;
pub use sql_view::time_text;

/// The database file inside a server's data directory.
pub const DB_FILE: &str = "innsync.db";

//! The Raft type configuration: what a log entry carries and what applying it answers.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A node's id inside its cluster (1, 2, 3…).
pub type NodeId = u64;

/// A node: the base URL it serves on (HTTP API and Raft RPCs alike).
pub type Node = openraft::BasicNode;

/// The payload of a normal log entry: one writer batch, as JSON, and who proposed it.
///
/// The batch travels as text so that the entry is plain, cloneable data (a writer job is not
/// `Clone`: a pause holds a channel); it is parsed once, when applied.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposing node's process nonce: only that process waits for the answers.
    pub proposer: u64,
    /// The proposal's number within that process.
    pub id: u64,
    /// `innsync_store::Batch` as JSON.
    pub batch: String,
}

/// What applying an entry answers through Raft: nothing but that it was applied. The jobs'
/// answers go to the proposer's waiters directly (they hold domain errors that never travel).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Receipt;

/// A snapshot: a consistent copy of the SQLite file on disk.
#[derive(Debug)]
pub struct SnapshotFile {
    /// Where the file is.
    pub path: PathBuf,
}

openraft::declare_raft_types!(
    /// innsync's Raft types.
    pub TypeConfig:
        D = Proposal,
        R = Receipt,
        NodeId = NodeId,
        Node = Node,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotFile,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of a node.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log id.
pub type LogId = openraft::LogId<NodeId>;
/// A vote.
pub type Vote = openraft::Vote<NodeId>;
/// A membership with its log id.
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
/// Openraft's storage error.
pub type StorageError = openraft::StorageError<NodeId>;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;

/// Turns anything displayable into openraft's error payload.
pub(crate) fn any(e: impl std::fmt::Display) -> openraft::AnyError {
    openraft::AnyError::error(e.to_string())
}

/// Openraft's storage errors from anything displayable.
pub(crate) mod fail {
    use super::{any, LogId, StorageError};
    use openraft::StorageIOError as Io;
    use std::fmt::Display;

    pub fn read_logs(e: impl Display) -> StorageError {
        Io::read_logs(any(e)).into()
    }
    pub fn write_logs(e: impl Display) -> StorageError {
        Io::write_logs(any(e)).into()
    }
    pub fn write_vote(e: impl Display) -> StorageError {
        Io::write_vote(any(e)).into()
    }
    pub fn apply(log_id: LogId, e: impl Display) -> StorageError {
        Io::apply(log_id, any(e)).into()
    }
    pub fn read_state_machine(e: impl Display) -> StorageError {
        Io::read_state_machine(any(e)).into()
    }
    pub fn write_snapshot(
        signature: Option<openraft::storage::SnapshotSignature<u64>>,
        e: impl Display,
    ) -> StorageError {
        Io::write_snapshot(signature, any(e)).into()
    }
}

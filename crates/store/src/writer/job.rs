//! What the writer is asked and what it answers: jobs, batches, local writes, outcomes. Every
//! job but a pause is plain data, so that an HA cluster can carry a batch in its Raft log.

use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use innsync_core::decide::Outcome;
use innsync_core::Command;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// The answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOutcome {
    /// Applied now and durable.
    Done(Outcome),
    /// The idempotency key was seen before: the first answer, nothing written now.
    Replayed(Outcome),
    /// A batch of replicated changes was applied.
    Replicated(ReplicationReport),
    /// A pending operation was queued with this id.
    Enqueued(i64),
}

impl WriteOutcome {
    /// The outcome, however it came.
    pub fn outcome(&self) -> &Outcome {
        const NOTHING: &Outcome = &Outcome::Expired { ids: vec![] };
        match self {
            Self::Done(o) | Self::Replayed(o) => o,
            Self::Replicated(_) | Self::Enqueued(_) => NOTHING,
        }
    }
}

/// One request to the writer. Everything but a pause is plain data, so that an HA cluster can
/// carry a batch of them in its Raft log (`innsync-cluster`) and apply it on every node.
#[derive(Debug, Serialize, Deserialize)]
pub enum Job {
    /// A domain command.
    Command {
        /// The command.
        cmd: Box<Command>,
        /// Who asked.
        actor: String,
        /// Its idempotency key, if any.
        idempotency_key: Option<String>,
    },
    /// A write to this server's own tables.
    Local(LocalWrite),
    /// Changes pulled from another server (and, from a partial-replication pull, how far the
    /// server looked for each origin).
    Replicate(Vec<Change>, Option<Skipped>),
    /// Freeze or thaw env writes (handover).
    Freeze(bool),
    /// This server's own changes recovered from a peer after a restore (see `backup.rs`).
    RecoverOwn(Vec<Change>),
    /// A pending operation's own command, committed with the operation's next state.
    PendingCommand {
        /// The operation.
        id: i64,
        /// Its command.
        cmd: Box<Command>,
        /// Who it runs as.
        actor: String,
        /// The operation's state once the command ran.
        done: crate::pending::PendingUpdate,
    },
    /// Holds the writer until the sender is dropped; never travels.
    #[serde(skip)]
    Pause(std::sync::mpsc::Receiver<()>),
}

/// For a partial-replication pull: the cursor the batch was asked from and, per origin, the
/// last change the server looked at; changes it left out were not for this server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Skipped {
    /// The cursor sent with the pull.
    pub from: std::collections::BTreeMap<String, u64>,
    /// Per origin, the last change looked at.
    pub scanned: std::collections::BTreeMap<String, u64>,
}

/// A batch as plain data: the jobs and the one "now" they are decided at. In an HA cluster the
/// leader stamps `now`, so every node applies the batch identically.
#[derive(Debug, Serialize, Deserialize)]
pub struct Batch {
    /// The batch's time.
    pub now: DateTime<Utc>,
    /// Its jobs, in order.
    pub jobs: Vec<Job>,
}

/// Holds the writer still until dropped (see [`Writer::pause`]).
pub struct PauseGuard {
    _release: std::sync::mpsc::Sender<()>,
}

impl PauseGuard {
    /// A guard that holds the writer until it is dropped.
    pub(super) fn new(release: std::sync::mpsc::Sender<()>) -> Self {
        Self { _release: release }
    }
}

/// Writes to this server's own tables, which are not records and never replicate to other
/// servers (within an HA cluster they travel in the Raft log like everything else).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LocalWrite {
    /// An API token's hash for a user.
    Token {
        /// SHA-256 of the token.
        hash: String,
        /// Its user.
        username: String,
        /// Where it came from (login, admin).
        label: String,
    },
    /// Create or replace a PMS link's settings (opaque JSON owned by the server).
    PmsLink {
        /// Link name.
        name: String,
        /// Settings as JSON.
        config: String,
    },
    /// Revokes an API token (logout).
    RevokeToken {
        /// SHA-256 of the token.
        hash: String,
    },
    /// Queues an operation for another server (or folds it into its unstarted duplicate).
    EnqueuePending(crate::pending::NewPending),
    /// Records what happened to a pending operation.
    PendingState(crate::pending::PendingUpdate),
    /// Records what happened to several, in one transaction.
    PendingStates(Vec<crate::pending::PendingUpdate>),
    /// The distribution rules have looked at this server's own changes up to `upto` and queued
    /// `ops` for them: both in one transaction, so no change is acted on twice or never.
    RulesScanned {
        /// The last own change looked at.
        upto: u64,
        /// The operations the rules asked for.
        ops: Vec<crate::pending::NewPending>,
    },
    /// An operator settled a conflict (`applied` or `discarded`).
    ConflictStatus {
        /// Its id.
        id: i64,
        /// New status.
        status: String,
    },
    /// A PMS link has delivered the outbox up to and including this id.
    PmsDelivered {
        /// Link name.
        name: String,
        /// Outbox id.
        upto: i64,
    },
    /// A restored server has recovered its own later changes: it takes commands again.
    Recovered,
    /// Number every change in local commit order from now on (`change_order`), for the
    /// change-log archive and point-in-time restore.
    TrackCommitOrder,
}

/// A job and where its answer goes.
#[derive(Debug)]
pub struct Request {
    /// The job.
    pub job: Job,
    /// Its answer.
    pub reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

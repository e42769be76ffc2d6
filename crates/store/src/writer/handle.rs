//! The writer's handle: what the rest of the server calls to queue a job and await its answer.

use super::batch::run;
use super::job::{Job, LocalWrite, PauseGuard, Request, Skipped, WriteOutcome};
use super::replica::Replica;
use super::state::{get_meta, open_state, State};
use super::{Clock, WriterSettings, WriterStats};
use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use crate::read::ReadPool;
use innsync_core::{Command, ServerCode};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    stats: Arc<WriterStats>,
    server: ServerCode,
    changed: tokio::sync::watch::Receiver<u64>,
    /// Set after a restore until this server's own later changes are recovered from its peers:
    /// commands are refused meanwhile, so no sequence number is used twice.
    recovering: Arc<std::sync::atomic::AtomicBool>,
}

impl Writer {
    /// Opens (or creates) the store in `data_dir` for `server`, starts the writer thread and
    /// returns its handle and a read pool.
    pub fn open(
        data_dir: &Path,
        server: ServerCode,
        clock: Clock,
        settings: WriterSettings,
    ) -> Result<(Writer, ReadPool), StoreError> {
        let (state, path) = open_state(data_dir, &server, clock, &settings)?;
        let (tx, rx) = mpsc::channel(settings.queue_limit.max(1));
        let writer = Writer::handle(&state, tx);
        let reads = ReadPool::fed_by(path, state.commits.clone());
        let max_batch = settings.max_batch.max(1);
        std::thread::Builder::new()
            .name("innsync-writer".into())
            .spawn(move || run(state, rx, max_batch))?;
        Ok((writer, reads))
    }

    /// Opens the store as the state machine of an HA cluster node. The returned [`Writer`]
    /// does not write: its requests arrive at the returned receiver, for the cluster to batch
    /// and propose; the [`Replica`] applies committed batches on the writer thread.
    pub fn open_replicated(
        data_dir: &Path,
        server: ServerCode,
        clock: Clock,
        settings: WriterSettings,
    ) -> Result<(Writer, ReadPool, Replica, mpsc::Receiver<Request>), StoreError> {
        let (mut state, path) = open_state(data_dir, &server, clock, &settings)?;
        // A cluster node's durability is the Raft log (fsynced by a quorum before anything is
        // acknowledged); the store only has to be replayable from it. WAL with NORMAL may lose,
        // on a power cut (not on kill -9), what followed the last sync, so the store is synced
        // after every snapshot is built or installed (`Replica::sync`), before openraft may
        // purge the log behind it: the log a node keeps always covers what it could lose.
        state.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The freeze is replicated state in a cluster: it survives a restart of a node.
        state.standing.frozen = get_meta(&state.conn, "frozen")?.as_deref() == Some("1");
        let (tx, rx) = mpsc::channel(settings.queue_limit.max(1));
        let writer = Writer::handle(&state, tx);
        let reads = ReadPool::fed_by(path, state.commits.clone());
        let replica = Replica::spawn(state)?;
        Ok((writer.clone(), reads, replica, rx))
    }

    fn handle(state: &State, tx: mpsc::Sender<Request>) -> Writer {
        let recovering = get_meta(&state.conn, crate::backup::RESTORED_KEY)
            .ok()
            .flatten()
            .is_some();
        Writer {
            tx,
            stats: state.stats.clone(),
            server: state.standing.server.clone(),
            changed: state.changed.subscribe(),
            recovering: Arc::new(std::sync::atomic::AtomicBool::new(recovering)),
        }
    }

    /// Whether this server was restored from a backup and has not yet recovered its own later
    /// changes from its peers (commands are refused until it has).
    pub fn is_recovering(&self) -> bool {
        self.recovering.load(Ordering::SeqCst)
    }

    /// Applies this server's own changes recovered from a peer after a restore, advancing its
    /// counters past them (they are its own log: nothing else may take them back).
    pub async fn recover_own(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.send(Job::RecoverOwn(changes)).await.map(|_| ())
    }

    /// Numbers every change in local commit order from now on (idempotent): a server with a
    /// change-log archive turns it on before it takes writes.
    pub async fn track_commit_order(&self) -> Result<(), StoreError> {
        self.send(Job::Local(LocalWrite::TrackCommitOrder))
            .await
            .map(|_| ())
    }

    /// Ends the recovery after a restore: commands are taken again.
    pub async fn finish_recovery(&self) -> Result<(), StoreError> {
        self.send(Job::Local(LocalWrite::Recovered)).await?;
        self.recovering.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// The server this store belongs to.
    pub fn server(&self) -> &ServerCode {
        &self.server
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Ticks after every commit that wrote changes, local or replicated: what a long-poll for
    /// new changes waits on.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.clone()
    }

    /// Stops the writer until the guard is dropped, so that everything submitted meanwhile is
    /// taken into one group commit: for deterministic tests of what one batch may hold, and for
    /// maintenance. Resolves once the writer is holding.
    pub async fn pause(&self) -> Result<PauseGuard, StoreError> {
        let (release, wait) = std::sync::mpsc::channel();
        let (reply, held) = oneshot::channel();
        self.tx
            .try_send(Request {
                job: Job::Pause(wait),
                reply,
            })
            .map_err(|_| StoreError::Unavailable("the write queue is full".into()))?;
        // The writer answers when it starts holding.
        let _ = held.await;
        Ok(PauseGuard::new(release))
    }

    /// Requests waiting for the writer.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Freezes (or thaws) env writes: while frozen they are refused `handover_in_progress`.
    pub async fn freeze(&self, on: bool) -> Result<(), StoreError> {
        self.send(Job::Freeze(on)).await.map(|_| ())
    }

    /// Applies changes pulled from another server, once each and in each origin's order.
    pub async fn replicate(&self, changes: Vec<Change>) -> Result<ReplicationReport, StoreError> {
        self.replicate_partial(changes, None).await
    }

    /// Like [`Writer::replicate`], from a server that left out changes not meant for this one:
    /// each origin's cursor moves past what was left out once the batch applied without a gap.
    pub async fn replicate_partial(
        &self,
        changes: Vec<Change>,
        skipped: Option<Skipped>,
    ) -> Result<ReplicationReport, StoreError> {
        match self.send(Job::Replicate(changes, skipped)).await? {
            WriteOutcome::Replicated(r) => Ok(r),
            _ => Err(StoreError::Unavailable("unexpected answer".into())),
        }
    }

    async fn send(&self, job: Job) -> Result<WriteOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .try_send(Request { job, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    StoreError::Unavailable("the write queue is full; retry shortly".into())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Unavailable("the writer has stopped".into())
                }
            })?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer stopped before answering".into()))?
    }

    /// Runs a command; answers once it is durable (or refused, with nothing written).
    pub async fn submit(
        &self,
        cmd: Command,
        actor: &str,
        idempotency_key: Option<String>,
    ) -> Result<WriteOutcome, StoreError> {
        if self.is_recovering() {
            return Err(StoreError::Unavailable(
                "this server was restored from a backup and is recovering its own later \
                 changes from its peers; it takes writes again once it has them"
                    .into(),
            ));
        }
        self.send(Job::Command {
            cmd: Box::new(cmd),
            actor: actor.to_string(),
            idempotency_key,
        })
        .await
    }

    /// Stores an API token's hash for `username` (tokens are local to this server).
    pub async fn add_token(
        &self,
        hash: String,
        username: String,
        label: String,
    ) -> Result<(), StoreError> {
        self.local(LocalWrite::Token {
            hash,
            username,
            label,
        })
        .await
    }

    /// Writes to this server's own tables (tokens, PMS links), durably.
    pub async fn local(&self, w: LocalWrite) -> Result<(), StoreError> {
        self.send(Job::Local(w)).await.map(|_| ())
    }

    /// Queues a pending operation durably (or folds it into its unstarted duplicate) and
    /// returns its id.
    pub async fn enqueue_pending(&self, op: crate::pending::NewPending) -> Result<i64, StoreError> {
        match self
            .send(Job::Local(LocalWrite::EnqueuePending(op)))
            .await?
        {
            WriteOutcome::Enqueued(id) => Ok(id),
            _ => Err(StoreError::Unavailable("unexpected answer".into())),
        }
    }

    /// Runs pending operation `id`'s command and, in the same transaction, moves the operation
    /// to `done` (or to `failed` with the refusal when the command is refused).
    pub async fn run_pending_command(
        &self,
        cmd: Command,
        actor: &str,
        done: crate::pending::PendingUpdate,
    ) -> Result<WriteOutcome, StoreError> {
        self.send(Job::PendingCommand {
            id: done.id,
            cmd: Box::new(cmd),
            actor: actor.to_string(),
            done,
        })
        .await
    }
}

//! The single writer: one thread owns the write connection and group-commits.
//!
//! Requests queue in a bounded channel. The thread takes everything queued (up to
//! `max_batch`), opens one transaction, runs each command in its own savepoint — decide with
//! the domain core, apply the records, append the change log, the audit log and the
//! idempotency key — then commits once. With `synchronous=FULL` that commit is one fsync for
//! the whole batch, and only after it do the callers get their answers. Deciding only reads,
//! so a refused command leaves nothing to undo and needs no savepoint; a statement that fails
//! mid-batch aborts the transaction, and the batch is re-run one request per transaction so
//! that only the bad request fails. Nothing is acknowledged before its commit.

use crate::apply::{apply_record, Applied, ChangeStamp, Novelty};
use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use crate::read::ReadPool;
use crate::schema::open_writer;
use crate::view::{time_text, ReferenceCache, SqlView};
use chrono::{DateTime, Utc};
use innsync_core::decide::{decide, Ctx, Outcome};
use innsync_core::{Command, IdSource, RecordId, ServerCode};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

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
    /// Largest batch seen.
    pub max_batch: AtomicU64,
}

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

/// Runs a local write; the id of the operation it queued, for `EnqueuePending`.
fn run_local(
    tx: &Transaction<'_>,
    w: &LocalWrite,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    match w {
        LocalWrite::Token {
            hash,
            username,
            label,
        } => {
            tx.execute(
                "INSERT INTO tokens (hash, username, label, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, username, label, time_text(now)],
            )?;
        }
        LocalWrite::EnqueuePending(op) => {
            let id = crate::pending::enqueue(tx, op, &time_text(now))?;
            return Ok(Some(id));
        }
        LocalWrite::PendingState(u) => crate::pending::update(tx, u, &time_text(now))?,
        LocalWrite::PendingStates(us) => {
            let at = time_text(now);
            for u in us {
                crate::pending::update(tx, u, &at)?;
            }
        }
        LocalWrite::RulesScanned { upto, ops } => {
            let at = time_text(now);
            for op in ops {
                crate::pending::enqueue(tx, op, &at)?;
            }
            set_meta(tx, "rules_cursor", &upto.to_string())?;
        }
        LocalWrite::ConflictStatus { id, status } => {
            tx.execute(
                "UPDATE conflicts SET status = ?2 WHERE id = ?1",
                params![id, status],
            )?;
        }
        LocalWrite::RevokeToken { hash } => {
            tx.execute("DELETE FROM tokens WHERE hash = ?1", [hash])?;
        }
        LocalWrite::PmsLink { name, config } => {
            // A new link starts after the events already queued: its first General Reset
            // carries the whole state anyway.
            tx.execute(
                "INSERT INTO pms_links (name, config, delivered)
                 VALUES (?1, ?2, (SELECT COALESCE(MAX(id), 0) FROM pms_outbox))
                 ON CONFLICT (name) DO UPDATE SET config = ?2",
                params![name, config],
            )?;
        }
        LocalWrite::PmsDelivered { name, upto } => {
            tx.execute(
                "UPDATE pms_links SET delivered = MAX(delivered, ?2) WHERE name = ?1",
                params![name, upto],
            )?;
        }
        LocalWrite::TrackCommitOrder => {
            tx.execute_batch(crate::schema::COMMIT_ORDER_TRIGGER)?;
            set_meta(tx, "commit_order", "1")?;
        }
        LocalWrite::Recovered => {
            tx.execute(
                "DELETE FROM meta WHERE key = ?1",
                [crate::backup::RESTORED_KEY],
            )?;
        }
    }
    Ok(None)
}

/// A job and where its answer goes.
#[derive(Debug)]
pub struct Request {
    /// The job.
    pub job: Job,
    /// Its answer.
    pub reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    last_id: u64,
    last_seq: u64,
}

struct State {
    conn: Connection,
    server: ServerCode,
    master: ServerCode,
    epoch: u64,
    counters: Counters,
    clock: Clock,
    stats: Arc<WriterStats>,
    cache: RefCell<ReferenceCache>,
    changed: tokio::sync::watch::Sender<u64>,
    property_owners: Vec<(String, ServerCode)>,
    holders: Vec<ServerCode>,
    archives: Vec<ServerCode>,
    /// Env writes refused while the master hands over.
    frozen: bool,
    /// A master token was written or applied in the current batch.
    master_moved: bool,
    /// Whether the last failed batch failed for a reason that may differ between two runs
    /// (I/O, a full disk, corruption) rather than for its content.
    failed_fatally: bool,
    /// Changes are numbered in local commit order (`meta.commit_order`): each batch records
    /// its time in `meta.batch_at`.
    commit_order: bool,
}

struct Ids<'a> {
    server: &'a ServerCode,
    last: &'a mut u64,
    /// The batch's transaction: the reservation counter lives in `meta` (reservation.rs).
    conn: &'a Connection,
}

impl IdSource for Ids<'_> {
    fn next_id(&mut self) -> RecordId {
        *self.last += 1;
        RecordId::new(self.server, *self.last)
    }

    fn next_reservation_number(
        &mut self,
    ) -> Result<innsync_core::ReservationNumber, innsync_core::ReservationNumberError> {
        crate::reservation::next(self.conn, self.server)
    }
}

fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
    )?
    .execute(params![key, value])?;
    Ok(())
}

fn meta_u64(conn: &Connection, key: &str) -> Result<u64, StoreError> {
    match get_meta(conn, key)? {
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta {key} = {v:?}"))),
        None => Ok(0),
    }
}

/// Most calls waiting for the writer thread of a cluster node (each a whole batch).
const REPLICA_QUEUE: usize = 64;

fn open_state(
    data_dir: &Path,
    server: &ServerCode,
    clock: Clock,
    settings: &WriterSettings,
) -> Result<(State, std::path::PathBuf), StoreError> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(crate::DB_FILE);
    let conn = open_writer(&path)?;
    match get_meta(&conn, "server")? {
        Some(s) if s != server.as_str() => {
            return Err(StoreError::Setup(format!(
                "{} holds the data of server {s}, not {server}",
                data_dir.display()
            )))
        }
        Some(_) => {}
        None => {
            let master = settings.initial_master.as_ref().unwrap_or(server);
            set_meta(&conn, "server", server.as_str())?;
            set_meta(&conn, "master", master.as_str())?;
            set_meta(&conn, "epoch", "1")?;
        }
    }
    let (changed_tx, _) = tokio::sync::watch::channel(0);
    let mut state = State {
        conn,
        server: server.clone(),
        master: server.clone(),
        epoch: 0,
        counters: Counters {
            last_id: 0,
            last_seq: 0,
        },
        clock,
        stats: Arc::new(WriterStats::default()),
        cache: RefCell::new(ReferenceCache::default()),
        changed: changed_tx,
        property_owners: settings.property_owners.clone(),
        holders: settings.holders.clone(),
        archives: settings.archives.clone(),
        frozen: false,
        master_moved: false,
        failed_fatally: false,
        commit_order: false,
    };
    reload_counters(&mut state)?;
    state.changed.send_replace(state.counters.last_seq);
    Ok((state, path))
}

/// Reads the counters, master and epoch from the meta table (at open, and after a snapshot
/// replaced the whole store).
fn reload_counters(st: &mut State) -> Result<(), StoreError> {
    st.counters = Counters {
        last_id: meta_u64(&st.conn, "last_id")?,
        last_seq: meta_u64(&st.conn, "last_seq")?,
    };
    st.master = get_meta(&st.conn, "master")?
        .map(|m| ServerCode::parse(&m).map_err(StoreError::Corrupt))
        .transpose()?
        .unwrap_or_else(|| st.server.clone());
    st.epoch = meta_u64(&st.conn, "epoch")?;
    st.commit_order = get_meta(&st.conn, "commit_order")?.is_some();
    Ok(())
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
        let max_batch = settings.max_batch.max(1);
        std::thread::Builder::new()
            .name("innsync-writer".into())
            .spawn(move || run(state, rx, max_batch))?;
        Ok((writer, ReadPool::new(path)))
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
        state.frozen = get_meta(&state.conn, "frozen")?.as_deref() == Some("1");
        let (tx, rx) = mpsc::channel(settings.queue_limit.max(1));
        let writer = Writer::handle(&state, tx);
        let (rtx, rrx) = mpsc::channel(REPLICA_QUEUE);
        std::thread::Builder::new()
            .name("innsync-writer".into())
            .spawn(move || run_replica(state, rrx))?;
        Ok((writer.clone(), ReadPool::new(path), Replica { tx: rtx }, rx))
    }

    fn handle(state: &State, tx: mpsc::Sender<Request>) -> Writer {
        let recovering = get_meta(&state.conn, crate::backup::RESTORED_KEY)
            .ok()
            .flatten()
            .is_some();
        Writer {
            tx,
            stats: state.stats.clone(),
            server: state.server.clone(),
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
        Ok(PauseGuard { _release: release })
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

fn run(mut st: State, mut rx: mpsc::Receiver<Request>, max_batch: usize) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        if let Job::Pause(wait) = first.job {
            let _ = first
                .reply
                .send(Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })));
            // Returns when the guard is dropped.
            let _ = wait.recv();
            continue;
        }
        jobs.push(first.job);
        replies.push(first.reply);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(r) => {
                    jobs.push(r.job);
                    replies.push(r.reply);
                }
                Err(_) => break,
            }
        }
        let now = (st.clock)();
        let results = execute(&mut st, now, &jobs, None).unwrap_or_else(|e| {
            let msg = e.to_string();
            jobs.iter()
                .map(|_| Err(StoreError::Unavailable(msg.clone())))
                .collect()
        });
        debug_assert_eq!(results.len(), jobs.len());
        jobs.clear();
        for (reply, res) in replies.drain(..).zip(results) {
            // The caller may have gone away; the write stands either way.
            let _ = reply.send(res);
        }
    }
    tracing::info!("writer stopped: every handle dropped");
}

/// Where a cluster node records, in the batch's own transaction, which Raft log entry the
/// store has applied (an opaque mark written by `innsync-cluster`).
const APPLIED_KEY: &str = "raft_applied";
/// With [`APPLIED_KEY`]: the last job applied of an entry that had to be run one job per
/// transaction, so a crash in between resumes after it, never applying a job twice.
const APPLIED_PART_KEY: &str = "raft_applied_part";

/// Runs jobs as one batch; when a statement fails mid-batch (nothing of it is on disk), runs
/// each job in a transaction of its own so one bad job cannot fail the others. With a mark
/// (a cluster node), every transaction also records how far the entry got, and jobs already
/// applied before a crash are skipped. `Err` only when the failure may not be reproducible
/// (I/O, a full disk, corruption): a cluster node must stop rather than diverge.
fn execute(
    st: &mut State,
    now: DateTime<Utc>,
    jobs: &[Job],
    mark: Option<&str>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let mut skip = 0;
    if let Some(m) = mark {
        if get_meta(&st.conn, APPLIED_KEY)?.as_deref() == Some(m) {
            match get_meta(&st.conn, APPLIED_PART_KEY)? {
                None => skip = jobs.len(),
                Some(p) => {
                    skip = p
                        .parse::<usize>()
                        .map_err(|_| StoreError::Corrupt(format!("meta {APPLIED_PART_KEY}")))?
                        + 1
                }
            }
        }
    }
    let already = || Err(StoreError::Unavailable("applied before a restart".into()));
    if skip == 0 {
        match run_batch(st, now, jobs, mark.map(|m| (m, None))) {
            Ok(results) => return Ok(results),
            Err(e) if st.failed_fatally && mark.is_some() => return Err(e),
            Err(e) if jobs.len() == 1 => return Ok(vec![Err(e)]),
            Err(_) => {}
        }
    }
    let mut out: Vec<_> = (0..skip.min(jobs.len())).map(|_| already()).collect();
    for (i, job) in jobs.iter().enumerate().skip(skip) {
        let last = i + 1 == jobs.len();
        let m = mark.map(|m| (m, if last { None } else { Some(i) }));
        match run_batch(st, now, std::slice::from_ref(job), m) {
            Ok(mut one) => out.push(
                one.pop()
                    .unwrap_or_else(|| Err(StoreError::Unavailable("no answer".into()))),
            ),
            Err(e) if st.failed_fatally && mark.is_some() => return Err(e),
            Err(e) => {
                if let Some((m, part)) = m {
                    // The failed job must still count as done, or a restart would retry it.
                    let tx = st.conn.transaction()?;
                    set_meta(&tx, APPLIED_KEY, m)?;
                    match part {
                        Some(p) => set_meta(&tx, APPLIED_PART_KEY, &p.to_string())?,
                        None => {
                            tx.execute("DELETE FROM meta WHERE key = ?1", [APPLIED_PART_KEY])?;
                        }
                    }
                    tx.commit()?;
                }
                out.push(Err(e))
            }
        }
    }
    Ok(out)
}

/// Whether a failure may not happen again on another run of the same batch (so a cluster node
/// cannot assume its peers failed the same way).
fn is_fatal(e: &StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            C::SystemIoFailure
                | C::DiskFull
                | C::DatabaseCorrupt
                | C::NotADatabase
                | C::CannotOpen
                | C::OutOfMemory
                | C::ReadOnly
                | C::PermissionDenied
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::FileLockingProtocolFailed
        ),
        StoreError::Setup(_) => true,
        _ => false,
    }
}

/// Calls into the writer thread of a cluster node.
enum ReplicaCall {
    Apply {
        batch: Batch,
        mark: String,
        reply: oneshot::Sender<Result<Vec<Result<WriteOutcome, StoreError>>, StoreError>>,
    },
    Install {
        path: std::path::PathBuf,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Mark {
        reply: oneshot::Sender<Result<Option<String>, StoreError>>,
    },
    Sync {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The state-machine side of a cluster node's store: applies committed batches on the writer
/// thread, replaces the store with a snapshot, and says which entry it applied last.
#[derive(Clone)]
pub struct Replica {
    tx: mpsc::Sender<ReplicaCall>,
}

impl Replica {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> ReplicaCall,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer stopped before answering".into()))?
    }

    /// Applies a committed batch and records `mark` in the same transaction. The answers are
    /// the jobs' answers; an `Err` is a failure that may differ on another node: stop.
    pub async fn apply(
        &self,
        batch: Batch,
        mark: String,
    ) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
        self.call(|reply| ReplicaCall::Apply { batch, mark, reply })
            .await
    }

    /// Replaces the whole store with the database file at `path` (a snapshot), then reloads
    /// the writer's counters and master from it.
    pub async fn install(&self, path: std::path::PathBuf) -> Result<(), StoreError> {
        self.call(|reply| ReplicaCall::Install { path, reply })
            .await
    }

    /// The mark of the last entry applied, if any.
    pub async fn applied_mark(&self) -> Result<Option<String>, StoreError> {
        self.call(|reply| ReplicaCall::Mark { reply }).await
    }

    /// Makes everything applied so far durable: done after a snapshot is built, so the Raft
    /// log purged behind it is never needed to rebuild the store after a power cut.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.call(|reply| ReplicaCall::Sync { reply }).await
    }
}

fn run_replica(mut st: State, mut rx: mpsc::Receiver<ReplicaCall>) {
    while let Some(call) = rx.blocking_recv() {
        match call {
            ReplicaCall::Apply { batch, mark, reply } => {
                let res = execute(&mut st, batch.now, &batch.jobs, Some(&mark));
                let _ = reply.send(res);
            }
            ReplicaCall::Install { path, reply } => {
                let res = install_snapshot(&mut st, &path);
                let _ = reply.send(res);
            }
            ReplicaCall::Mark { reply } => {
                let _ = reply.send(get_meta(&st.conn, APPLIED_KEY));
            }
            ReplicaCall::Sync { reply } => {
                let _ = reply.send(sync_store(&st.conn));
            }
        }
    }
    tracing::info!("writer stopped: every handle dropped");
}

/// One committed transaction with `synchronous=FULL`: the WAL is fsynced, and with it every
/// transaction before. The write changes nothing (same value), so every node stays identical.
fn sync_store(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let res = conn.execute_batch(
        "BEGIN IMMEDIATE; UPDATE meta SET value = value WHERE key = 'server'; COMMIT;",
    );
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(res?)
}

fn install_snapshot(st: &mut State, path: &Path) -> Result<(), StoreError> {
    st.conn.restore(
        rusqlite::MAIN_DB,
        path,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    reload_counters(st)?;
    st.frozen = get_meta(&st.conn, "frozen")?.as_deref() == Some("1");
    st.cache.borrow_mut().clear();
    st.changed.send_modify(|n| *n += 1);
    // openraft purges the log behind an installed snapshot: it must be durable first.
    sync_store(&st.conn)
}

/// Runs a batch in one transaction. Refusals are answers, not failures; an `Err` means a
/// statement or the commit failed and nothing of the batch is on disk.
fn run_batch(
    st: &mut State,
    now: DateTime<Utc>,
    batch: &[Job],
    mark: Option<(&str, Option<usize>)>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let before = st.counters;
    let n = batch.len();
    #[allow(
        clippy::type_complexity,
        reason = "the answers and whether remote changes landed"
    )]
    let attempt = (|| -> Result<(Vec<Result<WriteOutcome, StoreError>>, bool), StoreError> {
        let tx = st
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The batch's time, for the local commit order of the change log (backup.rs). An empty
        // batch (a cluster's blank or membership entry) has no time of its own.
        if st.commit_order && !batch.is_empty() {
            set_meta(&tx, "batch_at", &time_text(now))?;
        }
        let mut results = Vec::with_capacity(n);
        let mut wrote_remote = false;
        for job in batch {
            let res = match job {
                Job::Command {
                    cmd,
                    actor,
                    idempotency_key,
                } => {
                    let res = run_command(
                        &tx,
                        &st.cache,
                        Env {
                            frozen: st.frozen,
                            server: &st.server,
                            property_owners: &st.property_owners,
                            holders: &st.holders,
                            archives: &st.archives,
                            master: &st.master,
                            epoch: st.epoch,
                            now,
                        },
                        &mut st.counters,
                        cmd,
                        actor,
                        idempotency_key.as_deref(),
                    )?;
                    // A grant moves the master at once: the next command of this very batch
                    // is decided under the new token (the old master writes nothing env-owned
                    // after its grant, even without a freeze).
                    if let (Command::GrantMaster { to, epoch, .. }, Ok(_)) = (cmd.as_ref(), &res) {
                        st.master = to.clone();
                        st.epoch = *epoch;
                        st.frozen = false;
                    }
                    if let (Command::TakeOver { .. }, Ok(_)) = (cmd.as_ref(), &res) {
                        st.master = st.server.clone();
                        st.epoch += 1;
                    }
                    if matches!(
                        cmd.as_ref(),
                        Command::GrantMaster { .. } | Command::TakeOver { .. }
                    ) {
                        st.master_moved = true;
                    }
                    res
                }
                Job::Local(w) => {
                    let queued = match run_local(&tx, w, now) {
                        Ok(q) => q,
                        // A refused write (too large) is an answer; a statement failure aborts.
                        Err(StoreError::Refused(e)) => {
                            results.push(Err(StoreError::Refused(e)));
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    if matches!(w, LocalWrite::TrackCommitOrder) {
                        st.commit_order = true;
                    }
                    match queued {
                        Some(id) => Ok(WriteOutcome::Enqueued(id)),
                        None => Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })),
                    }
                }
                Job::PendingCommand {
                    id,
                    cmd,
                    actor,
                    done,
                } => {
                    // The operation's command and its new state commit together: a crash
                    // leaves both or neither, so the command is never run twice.
                    let res = run_command(
                        &tx,
                        &st.cache,
                        Env {
                            frozen: st.frozen,
                            server: &st.server,
                            property_owners: &st.property_owners,
                            holders: &st.holders,
                            archives: &st.archives,
                            master: &st.master,
                            epoch: st.epoch,
                            now,
                        },
                        &mut st.counters,
                        cmd,
                        actor,
                        None,
                    )?;
                    let update = match &res {
                        Ok(out) => crate::pending::PendingUpdate {
                            result: Some(serde_json::to_string(out)?),
                            ..done.clone()
                        },
                        Err(e) => crate::pending::PendingUpdate {
                            id: *id,
                            state: "failed".into(),
                            phase: None,
                            next_at: None,
                            error: Some(e.to_string()),
                            result: None,
                            attempted: true,
                        },
                    };
                    crate::pending::update(&tx, &update, &time_text(now))?;
                    res
                }
                // A pause behind other requests in a batch holds nothing: it is answered at once.
                Job::Pause(_) => Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })),
                Job::Freeze(on) => {
                    st.frozen = *on;
                    Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] }))
                }
                Job::Replicate(changes, skipped) => {
                    let token = changes
                        .iter()
                        .any(|c| matches!(c.record, innsync_core::Record::MasterToken(_)));
                    let report = run_replicate(&tx, &st.server, changes, skipped.as_ref(), now)?;
                    if token {
                        // A replicated token moves the master at once, like a local grant: the
                        // next command of this very batch is decided under it.
                        st.master_moved = true;
                        let (master, epoch) = master_in(&tx)?;
                        if let Some(m) = master {
                            st.master = m;
                        }
                        st.epoch = epoch;
                        if st.master != st.server {
                            st.frozen = false;
                        }
                    }
                    if report.applied > 0 {
                        st.cache.borrow_mut().clear();
                        wrote_remote = true;
                    }
                    Ok(WriteOutcome::Replicated(report))
                }
                Job::RecoverOwn(changes) => {
                    let report = crate::backup::replay_own(
                        &tx,
                        &st.server,
                        changes,
                        &mut st.counters.last_id,
                        &mut st.counters.last_seq,
                    )?;
                    st.cache.borrow_mut().clear();
                    st.master_moved = true;
                    wrote_remote = true;
                    Ok(WriteOutcome::Replicated(report))
                }
            };
            if matches!(res, Err(StoreError::Refused(_))) {
                st.stats.refused.fetch_add(1, Ordering::Relaxed);
            }
            results.push(res);
        }
        if st.counters != before {
            set_meta(&tx, "last_id", &st.counters.last_id.to_string())?;
            set_meta(&tx, "last_seq", &st.counters.last_seq.to_string())?;
        }
        if let Some((m, part)) = mark {
            // A cluster node: which entry this transaction applied, and the replicated freeze.
            set_meta(&tx, APPLIED_KEY, m)?;
            match part {
                Some(p) => set_meta(&tx, APPLIED_PART_KEY, &p.to_string())?,
                None => {
                    tx.execute("DELETE FROM meta WHERE key = ?1", [APPLIED_PART_KEY])?;
                }
            }
            set_meta(&tx, "frozen", if st.frozen { "1" } else { "0" })?;
        }
        tx.commit()?;
        Ok((results, wrote_remote))
    })();
    st.stats.commands.fetch_add(n as u64, Ordering::Relaxed);
    st.stats.max_batch.fetch_max(n as u64, Ordering::Relaxed);
    match attempt {
        Ok((results, wrote_remote)) => {
            if wrote_remote || st.counters.last_seq != before.last_seq {
                st.changed.send_modify(|n| *n += 1);
            }
            // A token written or received here moves the master this writer obeys.
            if std::mem::take(&mut st.master_moved) {
                if let Err(e) = reload_master(st) {
                    tracing::error!(error = %e, "could not reload the master token");
                }
            }
            st.stats.batches.fetch_add(1, Ordering::Relaxed);
            st.stats
                .changes
                .fetch_add(st.counters.last_seq - before.last_seq, Ordering::Relaxed);
            st.failed_fatally = false;
            Ok(results)
        }
        Err(e) => {
            st.failed_fatally = is_fatal(&e);
            st.commit_order = get_meta(&st.conn, "commit_order").ok().flatten().is_some();
            // Nothing of the batch is on disk: forget the ids and seqs it used, anything
            // cached from inside the failed transaction, and any master it moved.
            st.counters = before;
            st.master_moved = false;
            if let Err(e) = reload_master(st) {
                tracing::error!(error = %e, "could not reload the master token");
            }
            st.cache.borrow_mut().clear();
            st.stats.commit_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, commands = n, "batch failed; nothing of it acknowledged");
            Err(StoreError::Unavailable(format!("the write failed: {e}")))
        }
    }
}

#[derive(Clone, Copy)]
struct Env<'a> {
    frozen: bool,
    server: &'a ServerCode,
    property_owners: &'a [(String, ServerCode)],
    holders: &'a [ServerCode],
    archives: &'a [ServerCode],
    master: &'a ServerCode,
    epoch: u64,
    now: DateTime<Utc>,
}

fn fingerprint(actor: &str, cmd: &Command) -> Result<String, StoreError> {
    let mut h = Sha256::new();
    h.update(actor.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(cmd)?);
    Ok(hex::encode(h.finalize()))
}

/// Runs one command inside the batch's transaction. The inner `Result` is the command's
/// answer (a refusal writes nothing: deciding reads only); the outer one is a statement
/// failure that aborts the whole batch.
fn run_command(
    tx: &Transaction<'_>,
    cache: &RefCell<ReferenceCache>,
    env: Env<'_>,
    counters: &mut Counters,
    cmd: &Command,
    actor: &str,
    idempotency_key: Option<&str>,
) -> Result<Result<WriteOutcome, StoreError>, StoreError> {
    let idem = match idempotency_key {
        Some(k) => {
            let key = format!("{actor}\u{0}{k}");
            let fp = fingerprint(actor, cmd)?;
            let seen: Option<(String, String)> = tx
                .prepare_cached("SELECT fingerprint, outcome FROM idempotency WHERE key = ?1")?
                .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((seen_fp, outcome)) = seen {
                if seen_fp != fp {
                    return Ok(Err(StoreError::Refused(
                        innsync_core::DomainError::InvalidInput(format!(
                            "Idempotency-Key {k:?} was already used for a different request"
                        )),
                    )));
                }
                return Ok(Ok(WriteOutcome::Replayed(serde_json::from_str(&outcome)?)));
            }
            Some((key, fp))
        }
        None => None,
    };
    let saved = *counters;
    let ctx = Ctx {
        now: env.now,
        server: env.server,
        master: Some(env.master),
        actor,
        property_owners: env.property_owners,
        holders: env.holders,
        archives: env.archives,
        epoch: env.epoch,
        frozen: env.frozen,
    };
    let decided = {
        let mut ids = Ids {
            server: env.server,
            last: &mut counters.last_id,
            conn: tx,
        };
        decide(cmd, &SqlView::cached(tx, cache), &mut ids, &ctx)
    };
    let decision = match decided {
        Ok(d) => d,
        Err(innsync_core::DomainError::Storage(e)) => return Err(StoreError::Corrupt(e.0)),
        Err(e) => {
            // Refused: nothing was written; the ids it drew are handed out again.
            *counters = saved;
            return Ok(Err(StoreError::Refused(e)));
        }
    };
    let at = time_text(env.now);
    for rec in &decision.writes {
        counters.last_seq += 1;
        let entry = decision.audit.iter().find(|a| a.record == rec.meta().id);
        let stamp = ChangeStamp {
            origin: env.server,
            seq: counters.last_seq,
            epoch: env.epoch,
            at: &at,
            actor,
            action: entry.map_or(cmd.name(), |a| a.action.as_str()),
            detail: entry.map_or("", |a| a.detail.as_str()),
        };
        let novelty = if rec.meta().version == 1 {
            Novelty::Created
        } else {
            Novelty::Unknown
        };
        let applied = apply_record(tx, rec, &stamp, novelty)?;
        if applied != Applied::Written {
            // The decision read a state older than the one it writes over: a bug, but one
            // command's, not the writer's — the batch fails and is re-run one request at a time.
            return Err(StoreError::Corrupt(format!(
                "{} {} was decided at version {} but a newer one is stored",
                rec.kind().as_str(),
                rec.key(),
                rec.meta().version
            )));
        }
        if ReferenceCache::caches(rec.kind().as_str()) {
            cache.borrow_mut().forget(rec.kind().as_str(), &rec.key());
        }
    }
    if let Some((key, fp)) = &idem {
        tx.prepare_cached(
            "INSERT INTO idempotency (key, fingerprint, outcome, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            key,
            fp,
            serde_json::to_string(&decision.outcome)?,
            time_text(env.now)
        ])?;
    }
    Ok(Ok(WriteOutcome::Done(decision.outcome)))
}

/// Applies replicated changes inside the batch's transaction. The cursor of each origin is
/// read and advanced here, in the same transaction as the changes, so a change is applied
/// exactly once and never before the changes of its origin that precede it; a change beyond a
/// gap is not applied (it is pulled again once the gap is filled).
fn run_replicate(
    tx: &Transaction<'_>,
    me: &ServerCode,
    changes: &[Change],
    skipped: Option<&Skipped>,
    now: DateTime<Utc>,
) -> Result<ReplicationReport, StoreError> {
    let mut report = ReplicationReport::default();
    let mut cursors: std::collections::HashMap<ServerCode, u64> = Default::default();
    let mut gapped: std::collections::HashSet<ServerCode> = Default::default();
    for c in changes {
        if &c.origin == me {
            // Our own log is ours alone: never take it back from a peer.
            report.duplicates += 1;
            continue;
        }
        let cursor = match cursors.get(&c.origin) {
            Some(s) => *s,
            None => tx
                .prepare_cached("SELECT seq FROM cursors WHERE origin = ?1")?
                .query_row([c.origin.as_str()], |r| r.get::<_, i64>(0))
                .optional()?
                .map_or(0, |s| s as u64),
        };
        if c.seq <= cursor {
            report.duplicates += 1;
            cursors.insert(c.origin.clone(), cursor);
            continue;
        }
        if c.seq > cursor + 1 {
            report.held += 1;
            gapped.insert(c.origin.clone());
            cursors.insert(c.origin.clone(), cursor);
            continue;
        }
        if c.record.meta().owner != c.authority {
            let reason = format!(
                "change {}#{} claims authority {} for a record owned by {}",
                c.origin,
                c.seq,
                c.authority,
                c.record.meta().owner
            );
            quarantine(tx, c, &reason, now)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
            continue;
        }
        // The one date horizon: a night this store could not keep is never applied.
        if let Err(why) = innsync_core::record_dates::check_storable(&c.record) {
            quarantine(tx, c, &format!("cannot be applied here: {why}"), now)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
            continue;
        }
        let stamp = ChangeStamp {
            origin: &c.origin,
            seq: c.seq,
            epoch: c.epoch,
            at: &c.at,
            actor: &c.actor,
            action: &c.action,
            detail: &c.detail,
        };
        // An env write of a fenced old master: kept as a conflict, never applied; but logged,
        // so the log re-served to others has no holes. A master token is the exception: it is
        // a claim, and the token record is the first-ranked claim of the highest epoch on
        // every server, fenced writer or not, so it is always applied (and noted as a claim).
        if c.authority == innsync_core::Authority::Env
            && !matches!(c.record, innsync_core::Record::MasterToken(_))
            && crate::fence::is_fenced(tx, &c.origin, c.epoch, c.seq)?
        {
            let reason = format!(
                "written by {} at epoch {} after a forced takeover fenced it",
                c.origin, c.epoch
            );
            quarantine(tx, c, &reason, now)?;
            crate::apply::log_change(tx, &c.record, &stamp, &serde_json::to_string(&c.record)?)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
            continue;
        }
        // Each change in its own savepoint: one that would break an invariant here (a room
        // taken twice on a night) is quarantined as a conflict, and replication goes on.
        tx.execute_batch("SAVEPOINT replicated")?;
        match apply_record(tx, &c.record, &stamp, Novelty::Unknown) {
            Ok(applied) => {
                tx.execute_batch("RELEASE replicated")?;
                if applied == Applied::Stale {
                    report.stale += 1;
                }
                report.applied += 1;
            }
            Err(StoreError::Sqlite(e)) => {
                tx.execute_batch("ROLLBACK TO replicated; RELEASE replicated")?;
                crate::blocked::quarantine(tx, c, &e.to_string(), &time_text(now))?;
                tracing::warn!(origin = %c.origin, seq = c.seq, error = %e, "replicated change quarantined as a conflict");
                report.conflicts += 1;
            }
            Err(other) => return Err(other),
        }
        cursors.insert(c.origin.clone(), c.seq);
    }
    // A change blocked earlier (a room taken by a stay that has gone since) is applied once it
    // no longer breaks anything, so arrival order does not decide what a server ends with.
    if report.applied > 0 {
        report.applied += crate::blocked::retry(tx)?;
    }
    // What the serving server left out was not for this server: move past it, unless a gap
    // means something before it is still missing.
    if let Some(s) = skipped {
        for (origin, last) in &s.scanned {
            let Ok(o) = ServerCode::parse(origin) else {
                continue;
            };
            if &o == me || gapped.contains(&o) {
                continue;
            }
            let cur = match cursors.get(&o) {
                Some(c) => *c,
                None => tx
                    .prepare_cached("SELECT seq FROM cursors WHERE origin = ?1")?
                    .query_row([origin.as_str()], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map_or(0, |s| s as u64),
            };
            if cur >= s.from.get(origin).copied().unwrap_or(0) {
                cursors.insert(o, cur.max(*last));
            }
        }
    }
    let mut up = tx.prepare_cached(
        "INSERT INTO cursors (origin, seq) VALUES (?1, ?2)
         ON CONFLICT (origin) DO UPDATE SET seq = MAX(seq, ?2)",
    )?;
    for (origin, seq) in cursors {
        up.execute(params![origin.as_str(), seq as i64])?;
    }
    Ok(report)
}

/// Reads the master and epoch back from the meta table after a commit.
/// The master and epoch as the transaction `conn` is in sees them.
fn master_in(conn: &Connection) -> Result<(Option<ServerCode>, u64), StoreError> {
    let master = get_meta(conn, "master")?
        .map(|m| ServerCode::parse(&m).map_err(StoreError::Corrupt))
        .transpose()?;
    Ok((master, meta_u64(conn, "epoch")?))
}

fn reload_master(st: &mut State) -> Result<(), StoreError> {
    if let Some(m) = get_meta(&st.conn, "master")? {
        st.master = ServerCode::parse(&m).map_err(StoreError::Corrupt)?;
    }
    st.epoch = meta_u64(&st.conn, "epoch")?;
    if st.master != st.server {
        // No longer master: nothing left to freeze here.
        st.frozen = false;
    }
    Ok(())
}

/// Keeps a replicated change that cannot be applied here, with the version it would have
/// replaced, for an operator: never applied silently, never lost.
fn quarantine(
    tx: &Transaction<'_>,
    c: &Change,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::fence::record_conflict(tx, &c.origin, c.seq, &c.record, reason, &time_text(now))
}

#[cfg(test)]
mod fatal_tests {
    use super::*;

    #[test]
    fn only_failures_that_may_not_repeat_elsewhere_stop_a_cluster_node() {
        let sqlite = |code| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code,
                    extended_code: 0,
                },
                None,
            ))
        };
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::SystemIoFailure)));
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::DiskFull)));
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::DatabaseCorrupt)));
        assert!(is_fatal(&StoreError::Setup("no space".into())));
        // The batch's own content fails the same way on every node.
        assert!(!is_fatal(&sqlite(rusqlite::ErrorCode::ConstraintViolation)));
        assert!(!is_fatal(&StoreError::Corrupt("bad body".into())));
    }
}

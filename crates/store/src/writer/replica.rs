//! A cluster node's store: the writer thread applies the batches the cluster committed,
//! installs snapshots and says which Raft entry it applied last.

use super::batch::{execute, execute_entries, SegmentAnswers, APPLIED_KEY};
use super::job::{Batch, WriteOutcome};
use super::state::{get_meta, reload_counters, State};
use crate::error::StoreError;
use rusqlite::Connection;
use std::path::Path;
use tokio::sync::{mpsc, oneshot};

/// Most calls waiting for the writer thread of a cluster node (each a whole batch).
const REPLICA_QUEUE: usize = 64;

/// Calls into the writer thread of a cluster node.
enum ReplicaCall {
    Apply {
        batch: Batch,
        mark: String,
        reply: oneshot::Sender<Result<Vec<Result<WriteOutcome, StoreError>>, StoreError>>,
    },
    ApplyEntries {
        entries: Vec<(Batch, String)>,
        reply: oneshot::Sender<Result<SegmentAnswers, StoreError>>,
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
    /// Starts the writer thread of a cluster node over `state`.
    pub(super) fn spawn(state: State) -> Result<Replica, StoreError> {
        let (tx, rx) = mpsc::channel(REPLICA_QUEUE);
        std::thread::Builder::new()
            .name("innsync-writer".into())
            .spawn(move || run_replica(state, rx))?;
        Ok(Replica { tx })
    }

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

    /// Applies committed batches, each with its mark, in as few transactions as gives the same
    /// store as applying them one by one (one commit instead of one per entry); the answers
    /// of each. An `Err` is a failure that may differ on another node: stop.
    pub async fn apply_entries(
        &self,
        entries: Vec<(Batch, String)>,
    ) -> Result<SegmentAnswers, StoreError> {
        self.call(|reply| ReplicaCall::ApplyEntries { entries, reply })
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
            ReplicaCall::ApplyEntries { entries, reply } => {
                let segments: Vec<_> = entries
                    .iter()
                    .map(|(b, m)| (b.now, b.jobs.as_slice(), Some(m.as_str())))
                    .collect();
                let _ = reply.send(execute_entries(&mut st, &segments));
            }
            ReplicaCall::Install { path, reply } => {
                let res = install_snapshot(&mut st, &path);
                // Counted even when the install failed half-way: the file may have changed.
                st.commits.committed();
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
    st.standing.frozen = get_meta(&st.conn, "frozen")?.as_deref() == Some("1");
    st.cache.borrow_mut().clear();
    st.changed.send_modify(|n| *n += 1);
    // openraft purges the log behind an installed snapshot: it must be durable first.
    sync_store(&st.conn)
}

//! The state machine: the SQLite store. Applying an entry runs the writer's batch code on the
//! writer thread, in one transaction that also records the entry's log id and the membership
//! (the "mark"), so after a crash openraft resumes exactly after the last entry applied.
//! Snapshots are consistent copies of the database file made with SQLite's backup API; the
//! mark inside the copy says which entry it ends at.

use crate::proposer::Waiters;
use crate::types::{
    fail, Entry, LogId, Receipt, SnapshotFile, StorageError, StoredMembership, TypeConfig,
};
use innsync_store::{Batch, Replica};
use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, Snapshot, SnapshotMeta};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the store records about the Raft log, in the transaction of each applied entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AppliedMark {
    /// The last entry applied.
    pub log_id: Option<LogId>,
    /// The membership as of that entry.
    pub membership: StoredMembership,
}

/// The store as openraft's state machine; clones share everything.
#[derive(Clone)]
pub struct StateMachine {
    replica: Replica,
    db: PathBuf,
    dir: PathBuf,
    waiters: Arc<Waiters>,
    nonce: u64,
    membership: StoredMembership,
}

/// Meta of the current snapshot, beside its file.
#[derive(Serialize, Deserialize)]
struct CurrentSnapshot {
    meta: SnapshotMeta<u64, openraft::BasicNode>,
    file: String,
}

fn sm_err(e: impl std::fmt::Display) -> StorageError {
    fail::read_state_machine(e)
}

fn snap_err(e: impl std::fmt::Display) -> StorageError {
    fail::write_snapshot(None, e)
}

impl StateMachine {
    /// The state machine over `replica`, whose database is `db`; snapshots live in `dir`.
    pub async fn open(
        replica: Replica,
        db: PathBuf,
        dir: PathBuf,
        waiters: Arc<Waiters>,
        nonce: u64,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir.join("snapshots")).map_err(snap_err)?;
        let mut sm = Self {
            replica,
            db,
            dir,
            waiters,
            nonce,
            membership: StoredMembership::default(),
        };
        sm.membership = sm.mark().await?.membership;
        Ok(sm)
    }

    async fn mark(&self) -> Result<AppliedMark, StorageError> {
        match self.replica.applied_mark().await.map_err(sm_err)? {
            Some(m) => serde_json::from_str(&m).map_err(sm_err),
            None => Ok(AppliedMark::default()),
        }
    }

    fn current_path(&self) -> PathBuf {
        self.dir.join("snapshots").join("current.json")
    }

    fn save_current(
        &self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        file: &Path,
    ) -> Result<(), StorageError> {
        let cur = CurrentSnapshot {
            meta: meta.clone(),
            file: file.display().to_string(),
        };
        let tmp = self.current_path().with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&cur).map_err(snap_err)?).map_err(snap_err)?;
        std::fs::rename(&tmp, self.current_path()).map_err(snap_err)?;
        // Older snapshot files are no longer offered.
        if let Ok(rd) = std::fs::read_dir(self.dir.join("snapshots")) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "db") && p != file {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Ok(())
    }
}

/// Copies the database at `db` to `to` consistently (one backup step under one read
/// transaction) and returns the mark the copy holds.
fn copy_db(db: &Path, to: &Path) -> Result<AppliedMark, String> {
    innsync_store::backup::copy_consistent(db, to).map_err(|e| e.to_string())?;
    let mark = innsync_store::backup::applied_mark(to).map_err(|e| e.to_string())?;
    match mark {
        Some(m) => serde_json::from_str(&m).map_err(|e| e.to_string()),
        None => Ok(AppliedMark::default()),
    }
}

/// Most jobs applied in one call to the store (one transaction when nothing stops it).
const GROUP_JOBS: usize = 4_096;
/// Most entries applied in one call to the store.
const GROUP_ENTRIES: usize = 256;

/// Committed entries applied together: their batches with marks, and whose answers wait here.
#[derive(Default)]
struct Group {
    entries: Vec<(Batch, String)>,
    ids: Vec<(LogId, Option<u64>)>,
    jobs: usize,
}

impl StateMachine {
    /// Applies a group of committed entries in as few transactions as the store allows, and
    /// hands this process's proposals their answers.
    async fn apply_group(&mut self, group: Group) -> Result<Vec<Receipt>, StorageError> {
        let Some(last) = group.ids.last().map(|i| i.0) else {
            return Ok(Vec::new());
        };
        // An Err here may not happen on the other nodes (I/O, a full disk): stop this node
        // rather than let its store diverge; it resumes from the mark after a restart.
        let answers = self
            .replica
            .apply_entries(group.entries)
            .await
            .map_err(|e| {
                tracing::error!(%last, error = %e, "applying committed entries failed; stopping");
                fail::apply(last, format!("applying entries up to {last}: {e}"))
            })?;
        if answers.len() != group.ids.len() {
            return Err(fail::apply(
                last,
                "the store answered for fewer entries than it was given",
            ));
        }
        let n = answers.len();
        for ((_, mine), answers) in group.ids.into_iter().zip(answers) {
            if let Some(id) = mine {
                self.waiters.complete(id, answers);
            }
        }
        Ok(std::iter::repeat_with(|| Receipt).take(n).collect())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let tmp = self
            .dir
            .join("snapshots")
            .join(format!("building-{:016x}.part", rand::random::<u64>()));
        let (db, t) = (self.db.clone(), tmp.clone());
        let mark = tokio::task::spawn_blocking(move || copy_db(&db, &t))
            .await
            .map_err(snap_err)?
            .map_err(snap_err)?;
        let id = match &mark.log_id {
            Some(l) => format!(
                "{}-{}-{:08x}",
                l.leader_id.term,
                l.index,
                rand::random::<u32>()
            ),
            None => format!("0-0-{:08x}", rand::random::<u32>()),
        };
        // The store durable at least up to the copy before openraft may purge the log behind it
        // (the store itself is not fsynced per entry on a cluster node).
        self.replica.sync().await.map_err(snap_err)?;
        let file = self.dir.join("snapshots").join(format!("snap-{id}.db"));
        std::fs::rename(&tmp, &file).map_err(snap_err)?;
        let meta = SnapshotMeta {
            last_log_id: mark.log_id,
            last_membership: mark.membership,
            snapshot_id: id,
        };
        self.save_current(&meta, &file)?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotFile { path: file }),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let m = self.mark().await?;
        self.membership = m.membership.clone();
        Ok((m.log_id, m.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Receipt>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut group = Group::default();
        for e in entries {
            let log_id = e.log_id;
            let fail = |why: String| fail::apply(log_id, why);
            let (batch, mine) = match e.payload {
                EntryPayload::Blank => (None, None),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(log_id), m);
                    (None, None)
                }
                EntryPayload::Normal(p) => {
                    let batch: Batch = serde_json::from_str(&p.batch)
                        .map_err(|e| fail(format!("entry {log_id} holds no batch: {e}")))?;
                    let mine = (p.proposer == self.nonce).then_some(p.id);
                    (Some(batch), mine)
                }
            };
            // A blank or membership entry is an empty batch: it decides nothing, so its time is
            // never read (and the machine's clock is not asked).
            let batch = batch.unwrap_or_else(|| Batch {
                now: chrono::DateTime::UNIX_EPOCH,
                jobs: vec![],
            });
            let mark = serde_json::to_string(&AppliedMark {
                log_id: Some(log_id),
                membership: self.membership.clone(),
            })
            .map_err(|e| fail(e.to_string()))?;
            group.jobs += batch.jobs.len();
            group.entries.push((batch, mark));
            group.ids.push((log_id, mine));
            if group.jobs >= GROUP_JOBS || group.entries.len() >= GROUP_ENTRIES {
                out.extend(self.apply_group(std::mem::take(&mut group)).await?);
            }
        }
        out.extend(self.apply_group(group).await?);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotFile>, StorageError> {
        Ok(Box::new(SnapshotFile {
            path: self
                .dir
                .join("snapshots")
                .join(format!("incoming-{:016x}.part", rand::random::<u64>())),
        }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError> {
        let file = self
            .dir
            .join("snapshots")
            .join(format!("snap-{}.db", meta.snapshot_id));
        std::fs::rename(&snapshot.path, &file).map_err(snap_err)?;
        self.replica
            .install(file.clone())
            .await
            .map_err(|e| fail::write_snapshot(Some(meta.signature()), e))?;
        self.membership = meta.last_membership.clone();
        self.save_current(meta, &file)?;
        tracing::info!(snapshot = %meta.snapshot_id, "installed a snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Ok(text) = std::fs::read(self.current_path()) else {
            return Ok(None);
        };
        let cur: CurrentSnapshot = serde_json::from_slice(&text).map_err(sm_err)?;
        let path = PathBuf::from(cur.file);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(Snapshot {
            meta: cur.meta,
            snapshot: Box::new(SnapshotFile { path }),
        }))
    }
}

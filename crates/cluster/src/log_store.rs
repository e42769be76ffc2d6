//! The Raft log and vote, durable in their own SQLite file (`cluster/raft.db`), apart from the
//! store: an append is fsynced (`synchronous=FULL`) before openraft is told it is flushed, and
//! a vote is durable before it is answered.
//!
//! The entries appended last are also kept parsed in memory ([`Recent`]): openraft reads every
//! entry back once per follower (to send it) and once more to apply it, and those reads would
//! otherwise parse JSON again and wait behind the append's fsync on the one connection.

use crate::types::{fail, Entry, LogId, StorageError, TypeConfig, Vote};
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The log store; cheap to clone (readers share the connections and the recent entries).
#[derive(Clone)]
pub struct LogStore {
    /// Appends, truncations, purges, the vote.
    conn: Arc<Mutex<Connection>>,
    /// Reads of entries no longer in [`Recent`]: a connection of its own, so a read never
    /// waits for an append's fsync (WAL readers see the last commit).
    reader: Arc<Mutex<Connection>>,
    recent: Arc<Mutex<Recent>>,
}

/// Most entries kept parsed in memory. Enough for the entries in flight to a follower and the
/// ones waiting to be applied; an older read (a follower far behind) goes to the file.
const RECENT_ENTRIES: usize = 4_096;

/// The entries appended last, by index: always one run of consecutive indexes ending at the
/// last entry appended (appends only extend it, a truncation cuts its end, a purge or the
/// bound its start), so an index at or past its first is either here or not in the log.
#[derive(Default)]
struct Recent {
    entries: BTreeMap<u64, Entry>,
}

impl Recent {
    fn first(&self) -> Option<u64> {
        self.entries.keys().next().copied()
    }

    fn append(&mut self, entries: &[Entry]) {
        for e in entries {
            self.entries.insert(e.log_id.index, e.clone());
        }
        while self.entries.len() > RECENT_ENTRIES {
            self.entries.pop_first();
        }
    }

    fn truncate(&mut self, from: u64) {
        drop(self.entries.split_off(&from));
    }

    fn purge(&mut self, upto: u64) {
        self.entries = self.entries.split_off(&(upto.saturating_add(1)));
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
";

fn read_err(e: impl std::fmt::Display) -> StorageError {
    fail::read_logs(e)
}

fn write_err(e: impl std::fmt::Display) -> StorageError {
    fail::write_logs(e)
}

impl LogStore {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let reader = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            recent: Arc::new(Mutex::new(Recent::default())),
        })
    }

    fn recent(&self) -> Result<std::sync::MutexGuard<'_, Recent>, StorageError> {
        self.recent
            .lock()
            .map_err(|_| read_err("log cache lock poisoned"))
    }

    /// Whether this node has ever held any Raft state (a vote or a log entry).
    pub fn is_empty(&self) -> Result<bool, rusqlite::Error> {
        let c = self
            .conn
            .lock()
            .map_err(|_| rusqlite::Error::InvalidQuery)?;
        let n: i64 = c.query_row(
            "SELECT (SELECT COUNT(*) FROM log) + (SELECT COUNT(*) FROM state)",
            [],
            |r| r.get(0),
        )?;
        Ok(n == 0)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        Self::blocking_on(self.conn.clone(), f).await
    }

    async fn blocking_on<T: Send + 'static>(
        conn: Arc<Mutex<Connection>>,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        tokio::task::spawn_blocking(move || {
            let mut c = conn
                .lock()
                .map_err(|_| write_err("log store lock poisoned"))?;
            f(&mut c)
        })
        .await
        .map_err(write_err)?
    }

    fn get_state<T: serde::de::DeserializeOwned>(
        c: &Connection,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let v: Option<String> = c
            .query_row("SELECT value FROM state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(read_err)?;
        v.map(|v| serde_json::from_str(&v).map_err(read_err))
            .transpose()
    }

    fn put_state<T: serde::Serialize>(
        c: &Connection,
        key: &str,
        value: &T,
    ) -> Result<(), StorageError> {
        let v = serde_json::to_string(value).map_err(write_err)?;
        c.execute(
            "INSERT INTO state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, v],
        )
        .map_err(write_err)?;
        Ok(())
    }
}

fn bounds(range: &impl RangeBounds<u64>) -> (i64, i64) {
    let lo = match range.start_bound() {
        Bound::Included(i) => *i as i64,
        Bound::Excluded(i) => *i as i64 + 1,
        Bound::Unbounded => 0,
    };
    let hi = match range.end_bound() {
        Bound::Included(i) => *i as i64,
        Bound::Excluded(i) => *i as i64 - 1,
        Bound::Unbounded => i64::MAX,
    };
    (lo, hi)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (lo, hi) = bounds(&range);
        if hi < lo {
            return Ok(Vec::new());
        }
        // The part at or past the first recent entry comes from memory; only what lies before
        // it (a follower far behind, the log after a restart) is read from the file.
        let (first, tail): (i64, Vec<Entry>) = {
            let recent = self.recent()?;
            match recent.first() {
                Some(f) if (f as i64) <= hi => {
                    let from = lo.max(f as i64) as u64;
                    let tail = recent
                        .entries
                        .range(from..=hi as u64)
                        .map(|(_, e)| e.clone())
                        .collect();
                    (f as i64, tail)
                }
                _ => (i64::MAX, Vec::new()),
            }
        };
        if lo >= first {
            return Ok(tail);
        }
        let upto = hi.min(first - 1);
        let mut out = Self::blocking_on(self.reader.clone(), move |c| {
            let mut st = c
                .prepare_cached("SELECT body FROM log WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx")
                .map_err(read_err)?;
            let mut rows = st.query(params![lo, upto]).map_err(read_err)?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().map_err(read_err)? {
                let body: String = r.get(0).map_err(read_err)?;
                out.push(serde_json::from_str::<Entry>(&body).map_err(read_err)?);
            }
            Ok(out)
        })
        .await?;
        // Only a run without holes is an answer: the file's part must reach the memory's.
        if out.last().map(|e| e.log_id.index as i64) == Some(first - 1) || out.is_empty() {
            out.extend(tail);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        self.blocking(|c| {
            let last_purged: Option<LogId> = Self::get_state(c, "last_purged")?;
            let last: Option<String> = c
                .query_row("SELECT body FROM log ORDER BY idx DESC LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(read_err)?;
            let last_log_id = match last {
                Some(b) => Some(serde_json::from_str::<Entry>(&b).map_err(read_err)?.log_id),
                None => last_purged,
            };
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.blocking(move |c| Self::put_state(c, "vote", &vote).map_err(fail::write_vote))
            .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.blocking(|c| Self::get_state(c, "vote")).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.blocking(move |c| Self::put_state(c, "committed", &committed))
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.blocking(|c| Ok(Self::get_state::<Option<LogId>>(c, "committed")?.flatten()))
            .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let rows: Vec<(i64, String)> = entries
            .iter()
            .map(|e| serde_json::to_string(e).map(|b| (e.log_id.index as i64, b)))
            .collect::<Result<_, _>>()
            .map_err(write_err)?;
        // Readable at once (openraft reads only what it appended; it counts an entry as this
        // node's vote for a commit only once the callback below says it is durable).
        self.recent()?.append(&entries);
        let res = self
            .blocking(move |c| {
                let tx = c.transaction().map_err(write_err)?;
                {
                    let mut st = tx
                        .prepare_cached("INSERT OR REPLACE INTO log (idx, body) VALUES (?1, ?2)")
                        .map_err(write_err)?;
                    for (i, b) in &rows {
                        st.execute(params![i, b]).map_err(write_err)?;
                    }
                }
                // synchronous=FULL: durable once the commit returns.
                tx.commit().map_err(write_err)
            })
            .await;
        match &res {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        res
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.recent()?.truncate(log_id.index);
        self.blocking(move |c| {
            c.execute("DELETE FROM log WHERE idx >= ?1", [log_id.index as i64])
                .map_err(write_err)?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.recent()?.purge(log_id.index);
        self.blocking(move |c| {
            let tx = c.transaction().map_err(write_err)?;
            Self::put_state(&tx, "last_purged", &log_id)?;
            tx.execute("DELETE FROM log WHERE idx <= ?1", [log_id.index as i64])
                .map_err(write_err)?;
            tx.commit().map_err(write_err)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload};

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    #[tokio::test]
    async fn appends_survive_a_reopen_and_purge_keeps_the_last_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raft.db");
        {
            let mut s = LogStore::open(&path).unwrap();
            assert!(s.is_empty().unwrap());
            let c = s.clone();
            c.blocking(|c| {
                let tx = c.transaction().map_err(write_err)?;
                for e in [entry(1, 1), entry(1, 2), entry(2, 3)] {
                    tx.execute(
                        "INSERT INTO log (idx, body) VALUES (?1, ?2)",
                        params![e.log_id.index as i64, serde_json::to_string(&e).unwrap()],
                    )
                    .map_err(write_err)?;
                }
                tx.commit().map_err(write_err)
            })
            .await
            .unwrap();
            s.save_vote(&Vote::new(2, 1)).await.unwrap();
        }
        let mut s = LogStore::open(&path).unwrap();
        assert!(!s.is_empty().unwrap());
        assert_eq!(s.read_vote().await.unwrap(), Some(Vote::new(2, 1)));
        let st = s.get_log_state().await.unwrap();
        assert_eq!(st.last_log_id.map(|l| l.index), Some(3));
        assert_eq!(s.try_get_log_entries(2..).await.unwrap().len(), 2);
        s.truncate(entry(2, 3).log_id).await.unwrap();
        assert_eq!(s.try_get_log_entries(..).await.unwrap().len(), 2);
        s.purge(entry(1, 2).log_id).await.unwrap();
        let st = s.get_log_state().await.unwrap();
        assert_eq!(st.last_purged_log_id.map(|l| l.index), Some(2));
        assert_eq!(st.last_log_id.map(|l| l.index), Some(2));
        assert!(s.try_get_log_entries(..).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reads_join_the_file_and_the_recent_entries_and_follow_truncation_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = LogStore::open(&dir.path().join("raft.db")).unwrap();
        // 1..=3 only in the file (as after a restart), 4..=6 appended since (memory and file).
        let c = s.clone();
        c.blocking(|c| {
            for e in (1..=6).map(|i| entry(1, i)) {
                c.execute(
                    "INSERT INTO log (idx, body) VALUES (?1, ?2)",
                    params![e.log_id.index as i64, serde_json::to_string(&e).unwrap()],
                )
                .map_err(write_err)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        s.recent()
            .unwrap()
            .append(&[entry(1, 4), entry(1, 5), entry(1, 6)]);
        let idx = |v: Vec<Entry>| v.iter().map(|e| e.log_id.index).collect::<Vec<_>>();
        assert_eq!(
            idx(s.try_get_log_entries(2..=5).await.unwrap()),
            [2, 3, 4, 5]
        );
        assert_eq!(idx(s.try_get_log_entries(5..).await.unwrap()), [5, 6]);
        assert_eq!(idx(s.try_get_log_entries(..3).await.unwrap()), [1, 2]);
        assert!(s.try_get_log_entries(7..).await.unwrap().is_empty());
        s.truncate(entry(1, 6).log_id).await.unwrap();
        assert_eq!(idx(s.try_get_log_entries(3..).await.unwrap()), [3, 4, 5]);
        s.purge(entry(1, 4).log_id).await.unwrap();
        assert_eq!(idx(s.try_get_log_entries(..).await.unwrap()), [5]);
    }
}

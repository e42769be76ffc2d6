//! Backups, the change-log archive and restore (DESIGN.md §11).
//!
//! - A **backup** is a consistent copy of the database taken with SQLite's online backup API
//!   from a read-only connection (WAL: the writer is never blocked), plus `manifest.json`: the
//!   server, schema version, cursors, last seq, the time of the last batch it holds, its
//!   position in the local commit order and the file's SHA-256.
//! - The **archive** is the change log in local commit order, in segment files
//!   (`seg-FIRST-LAST.jsonl`, one change a line and a closing line with the SHA-256 of the
//!   lines before it). The commit order comes from `change_order`, which a trigger fills for
//!   every row of `changes` with the time of the batch that wrote it (`meta.batch_at`, set by
//!   the writer at the start of every transaction, the leader's time in a cluster).
//! - **Restore** copies a verified backup into an empty data directory and, for a
//!   point-in-time restore, replays the archived changes committed after the backup and no
//!   later than the time asked for, through [`apply_record`], so it lands on a batch boundary.
//!   The restored store is marked `restored_from`: the server refuses commands until it has
//!   recovered its own later changes from its peers (sequence numbers are never reused).

use crate::apply::{apply_record, ChangeStamp, Novelty};
use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use crate::read::ReadPool;
use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Meta key present while a restored store has not yet recovered its own later changes.
pub const RESTORED_KEY: &str = "restored_from";
/// The manifest's file name inside a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Most changes in one archive segment.
pub const SEGMENT_LIMIT: usize = 10_000;

/// Why a backup, archive or restore step failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The backup is damaged or not a backup.
    #[error("backup {dir} is not usable: {why}")]
    Damaged {
        /// The backup directory.
        dir: String,
        /// What is wrong.
        why: String,
    },
    /// The request cannot be done as asked (a non-empty target, a time before the backup).
    #[error("{0}")]
    Refused(String),
    /// The store or the file system failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for BackupError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        Self::Store(e.into())
    }
}

/// What a backup holds, written beside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of this manifest.
    pub format: u32,
    /// The server whose data it is.
    pub server: String,
    /// The schema version of the file.
    pub schema_version: i64,
    /// When the backup was taken (RFC 3339).
    pub created_at: String,
    /// The time of the last batch it holds (RFC 3339), if any.
    pub last_batch_at: Option<String>,
    /// Its position in the local commit order (`change_order.n`).
    pub order_upto: i64,
    /// This server's own last seq.
    pub last_seq: u64,
    /// How far it holds every origin's log (its own included).
    pub cursors: BTreeMap<String, u64>,
    /// Size of the database file in bytes.
    pub bytes: u64,
    /// SHA-256 of the database file (hex).
    pub sha256: String,
}

fn sha256_file(path: &Path) -> Result<String, std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename).
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(d) = path.parent() {
        sync_dir(d);
    }
    Ok(())
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Takes an online, consistent backup of the database at `db` into the directory `to`
/// (created; it must not hold a backup already) and returns its manifest, stamped `now`.
pub fn create(db: &Path, to: &Path, now: DateTime<Utc>) -> Result<Manifest, BackupError> {
    if !db.exists() {
        return Err(BackupError::Refused(format!(
            "no database at {}",
            db.display()
        )));
    }
    if to.join(MANIFEST_FILE).exists() || to.join(crate::DB_FILE).exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a backup; choose a new directory",
            to.display()
        )));
    }
    std::fs::create_dir_all(to)?;
    let target = to.join(crate::DB_FILE);
    copy_consistent(db, &target)?;
    let manifest = describe(&target, to, now)?;
    let json = serde_json::to_vec_pretty(&manifest).map_err(StoreError::from)?;
    write_durably(&to.join(MANIFEST_FILE), &json)?;
    Ok(manifest)
}

/// Copies the database at `db` to `target` as one consistent, self-contained, synced file: one
/// backup step under one read transaction (the writer is not blocked), journal mode DELETE (no
/// WAL beside it). What a backup holds, and a cluster node's snapshot.
pub fn copy_consistent(db: &Path, target: &Path) -> Result<(), BackupError> {
    let src = crate::schema::open_reader(db)?;
    // One step copies every page under one read transaction: a consistent image.
    {
        let mut dst = Connection::open(target)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        backup.step(-1)?;
    }
    {
        // The copy is a self-contained file: no WAL beside it.
        let c = Connection::open(target)?;
        c.pragma_update(None, "journal_mode", "DELETE")?;
    }
    if let Ok(f) = std::fs::File::open(target) {
        f.sync_all()?;
    }
    Ok(())
}

/// The mark of the last Raft entry applied (opaque, written by `innsync-cluster`) that the
/// database file `file` holds, if any: a cluster snapshot's position.
pub fn applied_mark(file: &Path) -> Result<Option<String>, BackupError> {
    let c = Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(meta(&c, crate::writer::APPLIED_KEY)?)
}

/// Reads what a database file holds into a manifest (checksum included), made at `now`.
fn describe(file: &Path, dir: &Path, now: DateTime<Utc>) -> Result<Manifest, BackupError> {
    let c = Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let server = meta(&c, "server")?.ok_or_else(|| BackupError::Damaged {
        dir: dir.display().to_string(),
        why: "the database names no server".into(),
    })?;
    let schema_version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let last_seq = meta(&c, "last_seq")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut cursors = BTreeMap::new();
    {
        let mut st = c.prepare("SELECT origin, seq FROM cursors")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            cursors.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64);
        }
    }
    cursors.insert(server.clone(), last_seq);
    let order_upto: i64 = c.query_row("SELECT COALESCE(MAX(n), 0) FROM change_order", [], |r| {
        r.get(0)
    })?;
    let last_batch_at = meta(&c, "batch_at")?;
    drop(c);
    Ok(Manifest {
        format: 1,
        server,
        schema_version,
        created_at: crate::time_text(now),
        last_batch_at,
        order_upto,
        last_seq,
        cursors,
        bytes: std::fs::metadata(file)?.len(),
        sha256: sha256_file(file)?,
    })
}

/// Checks a backup: manifest readable, checksum equal, SQLite's integrity check clean, every
/// invariant holding. Returns its manifest.
pub fn verify(dir: &Path) -> Result<Manifest, BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        dir: dir.display().to_string(),
        why,
    };
    let text = std::fs::read(dir.join(MANIFEST_FILE))
        .map_err(|e| damaged(format!("{MANIFEST_FILE}: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| damaged(format!("{MANIFEST_FILE} is not a manifest: {e}")))?;
    let file = dir.join(crate::DB_FILE);
    let sum = sha256_file(&file).map_err(|e| damaged(format!("{}: {e}", crate::DB_FILE)))?;
    if sum != manifest.sha256 {
        return Err(damaged(format!(
            "{} has checksum {sum}, the manifest says {}: the file is corrupted",
            crate::DB_FILE,
            manifest.sha256
        )));
    }
    if manifest.schema_version > crate::schema::SCHEMA_VERSION {
        return Err(damaged(format!(
            "schema version {} is newer than this innsync understands ({})",
            manifest.schema_version,
            crate::schema::SCHEMA_VERSION
        )));
    }
    let c = Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| damaged(e.to_string()))?;
    let integrity: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| damaged(format!("integrity check: {e}")))?;
    if integrity != "ok" {
        return Err(damaged(format!("integrity check: {integrity}")));
    }
    drop(c);
    ReadPool::new(file)
        .check_invariants()
        .map_err(|e| damaged(format!("invariant violated: {e}")))?;
    Ok(manifest)
}

/// One archived change, as a line of a segment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchivedChange {
    /// Its position in the local commit order.
    pub n: i64,
    /// The time of the batch that committed it here (RFC 3339).
    pub committed_at: String,
    /// It was logged but quarantined (not applied to its record).
    #[serde(default)]
    pub quarantined: bool,
    /// The change.
    pub change: Change,
}

#[derive(Serialize, Deserialize)]
struct SegmentEnd {
    sha256: String,
    count: usize,
}

fn segment_name(first: i64, last: i64) -> String {
    format!("seg-{first:012}-{last:012}.jsonl")
}

fn segment_range(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("seg-")?.strip_suffix(".jsonl")?;
    let (a, b) = rest.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The segments in an archive directory, in order.
fn segments(archive: &Path) -> Result<Vec<(i64, i64, PathBuf)>, std::io::Error> {
    let mut out = Vec::new();
    if !archive.exists() {
        return Ok(out);
    }
    for e in std::fs::read_dir(archive)? {
        let e = e?;
        if let Some((a, b)) = e.file_name().to_str().and_then(segment_range) {
            out.push((a, b, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Appends to `archive` every change committed since the last segment, as new segments
/// (at most [`SEGMENT_LIMIT`] changes each). Returns how many changes were archived.
pub fn archive(pool: &ReadPool, archive: &Path) -> Result<usize, BackupError> {
    std::fs::create_dir_all(archive)?;
    let mut after = segments(archive)?.last().map_or(0, |s| s.1);
    let mut total = 0;
    loop {
        let rows = pool.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT o.n, o.committed_at, c.origin, c.seq, c.epoch, c.authority, c.at,
                        c.actor, c.action, c.detail, c.body,
                        EXISTS (SELECT 1 FROM conflicts k WHERE k.origin = c.origin AND k.seq = c.seq)
                 FROM change_order o JOIN changes c ON c.origin = o.origin AND c.seq = o.seq
                 WHERE o.n > ?1 ORDER BY o.n LIMIT ?2",
            )?;
            let mut rows = st.query(params![after, SEGMENT_LIMIT as i64])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let body: String = r.get(10)?;
                let authority: String = r.get(5)?;
                out.push(ArchivedChange {
                    n: r.get(0)?,
                    committed_at: r.get(1)?,
                    quarantined: r.get(11)?,
                    change: Change {
                        origin: ServerCode::parse(&r.get::<_, String>(2)?)
                            .map_err(StoreError::Corrupt)?,
                        seq: r.get::<_, i64>(3)? as u64,
                        epoch: r.get::<_, i64>(4)? as u64,
                        authority: innsync_core::Authority::parse(&authority)
                            .map_err(StoreError::Corrupt)?,
                        at: r.get(6)?,
                        actor: r.get(7)?,
                        action: r.get(8)?,
                        detail: r.get(9)?,
                        record: serde_json::from_str(&body)?,
                    },
                });
            }
            Ok(out)
        })?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(total);
        };
        let (first, last) = (first.n, last.n);
        let mut text = Vec::new();
        for r in &rows {
            serde_json::to_writer(&mut text, r).map_err(StoreError::from)?;
            text.push(b'\n');
        }
        let end = SegmentEnd {
            sha256: hex::encode(Sha256::digest(&text)),
            count: rows.len(),
        };
        serde_json::to_writer(&mut text, &end).map_err(StoreError::from)?;
        text.push(b'\n');
        write_durably(&archive.join(segment_name(first, last)), &text)?;
        total += rows.len();
        after = last;
    }
}

/// Reads one segment, checking its checksum.
fn read_segment(path: &Path) -> Result<Vec<ArchivedChange>, BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        dir: path.display().to_string(),
        why,
    };
    let text = std::fs::read(path)?;
    let body_end = text[..text.len().saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let (body, tail) = text.split_at(body_end);
    let end: SegmentEnd = serde_json::from_slice(tail)
        .map_err(|_| damaged("the segment has no closing checksum line (truncated?)".into()))?;
    if hex::encode(Sha256::digest(body)) != end.sha256 {
        return Err(damaged(
            "checksum mismatch: the segment is corrupted".into(),
        ));
    }
    let mut out = Vec::with_capacity(end.count);
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        out.push(serde_json::from_slice(line).map_err(|e| damaged(e.to_string()))?);
    }
    if out.len() != end.count {
        return Err(damaged(format!(
            "{} changes, the closing line says {}",
            out.len(),
            end.count
        )));
    }
    Ok(out)
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Archived changes replayed on top of it.
    pub replayed: usize,
    /// The time of the last batch the restored store holds.
    pub lands_at: Option<String>,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Restores the backup in `from` into `data_dir` (which must hold no database), replaying the
/// changes archived in `archive` that were committed after the backup and no later than
/// `until`. Refuses a damaged backup, a non-empty target, and a time before the backup.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    until: Option<DateTime<Utc>>,
    archive_dir: Option<&Path>,
) -> Result<RestoreReport, BackupError> {
    let manifest = verify(from)?;
    let target = data_dir.join(crate::DB_FILE);
    if target.exists() || data_dir.join(format!("{}-wal", crate::DB_FILE)).exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a database: stop the server and restore into an empty data \
             directory (move the old one aside first)",
            data_dir.display()
        )));
    }
    if let (Some(t), Some(base)) = (
        until,
        manifest.last_batch_at.as_deref().and_then(parse_time),
    ) {
        if t < base {
            return Err(BackupError::Refused(format!(
                "{} is before this backup (it holds everything up to {}): restore an older \
                 backup to reach that time",
                crate::time_text(t),
                crate::time_text(base)
            )));
        }
    }
    if until.is_some() && archive_dir.is_none() {
        return Err(BackupError::Refused(
            "--until needs the change-log archive (--archive DIR)".into(),
        ));
    }
    std::fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!("{}.restoring", crate::DB_FILE));
    std::fs::copy(from.join(crate::DB_FILE), &tmp)?;
    let mut replayed = 0;
    let mut lands_at = manifest.last_batch_at.clone();
    {
        let mut c = crate::schema::open_writer(&tmp)?;
        if let Some(archive) = archive_dir {
            let me = ServerCode::parse(&manifest.server).map_err(StoreError::Corrupt)?;
            let mut next = manifest.order_upto + 1;
            'segments: for (_, last, path) in segments(archive)? {
                if last < next {
                    continue;
                }
                let changes = read_segment(&path)?;
                let tx = c.transaction()?;
                for a in changes {
                    if a.n < next {
                        continue;
                    }
                    if a.n > next {
                        return Err(BackupError::Damaged {
                            dir: archive.display().to_string(),
                            why: format!("change {next} of the commit order is missing"),
                        });
                    }
                    if let Some(t) = until {
                        if parse_time(&a.committed_at).is_none_or(|at| at > t) {
                            tx.commit()?;
                            break 'segments;
                        }
                    }
                    replay_one(&tx, &me, &a)?;
                    lands_at = Some(a.committed_at.clone());
                    replayed += 1;
                    next += 1;
                }
                tx.commit()?;
            }
        }
        let tx = c.transaction()?;
        if let Some(at) = &lands_at {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('batch_at', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
                [at],
            )?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![RESTORED_KEY, manifest.created_at],
        )?;
        // A restored store starts a new Raft history: the old cluster's marks mean nothing.
        tx.execute(
            "DELETE FROM meta WHERE key IN ('raft_applied', 'raft_applied_part', 'frozen')",
            [],
        )?;
        tx.commit()?;
        c.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
        let _ = &mut c;
    }
    std::fs::rename(&tmp, &target)?;
    for suffix in ["-wal", "-shm"] {
        let side = data_dir.join(format!("{}.restoring{suffix}", crate::DB_FILE));
        let _ = std::fs::remove_file(side);
    }
    sync_dir(data_dir);
    Ok(RestoreReport {
        manifest,
        replayed,
        lands_at,
    })
}

/// Replays one archived change as it was applied here: the record (unless it was quarantined),
/// the log, and the counters or cursor of its origin.
fn replay_one(
    tx: &rusqlite::Transaction<'_>,
    me: &ServerCode,
    a: &ArchivedChange,
) -> Result<(), BackupError> {
    let c = &a.change;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('batch_at', ?1)
         ON CONFLICT (key) DO UPDATE SET value = ?1",
        [&a.committed_at],
    )?;
    let stamp = stamp_of(c);
    if a.quarantined {
        crate::apply::log_change(
            tx,
            &c.record,
            &stamp,
            &serde_json::to_string(&c.record).map_err(StoreError::from)?,
        )?;
    } else {
        apply_record(tx, &c.record, &stamp, Novelty::Unknown)?;
    }
    if &c.origin == me {
        let mut last_id = meta(tx, "last_id")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        bump_id(me, &c.record, &mut last_id);
        for (k, v) in [("last_seq", c.seq), ("last_id", last_id)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), ?2)",
                params![k, v as i64],
            )?;
        }
    } else {
        tx.execute(
            "INSERT INTO cursors (origin, seq) VALUES (?1, ?2)
             ON CONFLICT (origin) DO UPDATE SET seq = MAX(seq, ?2)",
            params![c.origin.as_str(), c.seq as i64],
        )?;
    }
    Ok(())
}

/// The stamp a change is logged with, as it was written at its origin.
fn stamp_of(c: &Change) -> ChangeStamp<'_> {
    ChangeStamp {
        origin: &c.origin,
        seq: c.seq,
        epoch: c.epoch,
        at: &c.at,
        actor: &c.actor,
        action: &c.action,
        detail: &c.detail,
    }
}

/// Keeps `last_id` at or beyond the number of a record this server created.
fn bump_id(me: &ServerCode, rec: &innsync_core::Record, last_id: &mut u64) {
    let id = rec.meta().id.to_string();
    if let Some(n) = id
        .strip_prefix(me.as_str())
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse::<u64>().ok())
    {
        *last_id = (*last_id).max(n);
    }
}

/// Applies this server's own changes recovered from a peer after a restore, inside the
/// writer's transaction: each exactly at the next seq, advancing the counters past it.
pub(crate) fn replay_own(
    tx: &rusqlite::Transaction<'_>,
    me: &ServerCode,
    changes: &[Change],
    last_id: &mut u64,
    last_seq: &mut u64,
) -> Result<ReplicationReport, StoreError> {
    let mut report = ReplicationReport::default();
    for c in changes {
        if &c.origin != me || c.seq <= *last_seq {
            report.duplicates += 1;
            continue;
        }
        if c.seq > *last_seq + 1 {
            report.held += 1;
            continue;
        }
        let stamp = stamp_of(c);
        apply_record(tx, &c.record, &stamp, Novelty::Unknown)?;
        *last_seq = c.seq;
        bump_id(me, &c.record, last_id);
        report.applied += 1;
    }
    Ok(report)
}

/// Takes a backup into a new timestamped directory under `root` and removes the oldest so that
/// at most `keep` remain (scheduled backups). Returns the new directory, named after `now`.
pub fn scheduled(
    db: &Path,
    root: &Path,
    keep: usize,
    now: DateTime<Utc>,
) -> Result<PathBuf, BackupError> {
    let name = format!("backup-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    // Two in the same millisecond (a short interval in a test): a suffix keeps them apart and
    // in order.
    let mut dir = root.join(&name);
    let mut n = 1;
    while dir.exists() {
        dir = root.join(format!("{name}-{n:03}"));
        n += 1;
    }
    create(db, &dir, now)?;
    let mut all: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("backup-"))
                && p.join(MANIFEST_FILE).exists()
        })
        .collect();
    all.sort();
    while all.len() > keep.max(1) {
        let old = all.remove(0);
        std::fs::remove_dir_all(&old)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_and_parse() {
        let n = segment_name(1, 10_000);
        assert_eq!(segment_range(&n), Some((1, 10_000)));
        assert!(segment_name(9, 9) < segment_name(10, 12));
        assert_eq!(segment_range("manifest.json"), None);
    }

    #[test]
    fn scheduled_backups_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("innsync.db");
        {
            let c = crate::schema::open_writer(&db).unwrap();
            c.execute("INSERT INTO meta (key, value) VALUES ('server', 'WB')", [])
                .unwrap();
        }
        let root = dir.path().join("backups");
        let made: Vec<PathBuf> = (0..4)
            .map(|_| scheduled(&db, &root, 2, Utc::now()).unwrap())
            .collect();
        let mut left: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        left.sort();
        assert_eq!(left, made[2..].to_vec(), "the two newest are kept");
        for d in &left {
            assert_eq!(verify(d).unwrap().server, "WB");
        }
    }

    #[test]
    fn a_damaged_segment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"not\":\"a change\"}\n".to_vec();
        let mut text = body.clone();
        let end = SegmentEnd {
            sha256: hex::encode(Sha256::digest(&body)),
            count: 1,
        };
        text.extend(serde_json::to_vec(&end).unwrap());
        text.push(b'\n');
        let p = dir.path().join(segment_name(1, 1));
        std::fs::write(&p, &text).unwrap();
        // Checksum right, content not a change: refused with the reason.
        assert!(matches!(read_segment(&p), Err(BackupError::Damaged { .. })));
        // One byte flipped: the checksum catches it.
        text[3] ^= 1;
        std::fs::write(&p, &text).unwrap();
        let err = read_segment(&p).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        // Truncated: no closing line.
        std::fs::write(&p, &body).unwrap();
        assert!(read_segment(&p).is_err());
    }
}

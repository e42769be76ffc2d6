//! Taking a backup: one consistent copy of the database with its manifest, verified the same
//! way before any restore, and the scheduled backups that keep the newest few.

use super::{meta, sha256_file, write_durably, BackupError, MANIFEST_FILE};
use crate::error::StoreError;
use crate::read::ReadPool;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    use std::path::PathBuf;

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
}

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

//!
//! The files: [`copy`] takes, describes and verifies a backup (and keeps the scheduled ones),
//! [`segments`] writes and reads the archive, [`restore`] puts a backup (and the archive after
//! it) back into a data directory.

mod copy;
mod restore;
mod segments;

pub use copy::{applied_mark, copy_consistent, create, scheduled, verify, Manifest};
pub(crate) use restore::replay_own;
pub use restore::{restore, RestoreReport};
pub use segments::{
    archive, commit_order_head, decode_segment, encode_segment, next_segment, segment_name,
    segment_range, ArchivedChange, OrderHead, SegmentBytes,
};

use crate::error::StoreError;
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

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

pub(super) fn sha256_file(path: &Path) -> Result<String, std::io::Error> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically and durably (temp file, fsync, rename).
pub(super) fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
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

pub(super) fn meta(conn: &Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

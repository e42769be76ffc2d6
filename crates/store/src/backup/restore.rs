//! Restore: a verified backup copied into an empty data directory, the archived changes after
//! it replayed up to the time asked for, and the store marked as recovering its own later
//! changes from its peers.

use super::segments::{read_segment, segments};
use super::{meta, sync_dir, verify, ArchivedChange, BackupError, Manifest, RESTORED_KEY};
use crate::apply::{apply_record, ChangeStamp, Novelty};
use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use rusqlite::params;
use serde::Serialize;
use std::path::Path;

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

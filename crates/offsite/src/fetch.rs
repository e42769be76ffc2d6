//! What a restore from the bucket downloads, and `backup verify` of the remote copy.
//!
//! A restore picks the newest backup that is not after the time asked for, downloads it and
//! every segment after it, opening each with the key (integrity of every byte) and checking each
//! segment's own SHA-256 and count; the store's restore then checks the backup's checksum,
//! integrity and invariants and that no position of the commit order is missing.

use crate::bucket::{backup_object, BACKUPS};
use crate::{Bucket, OffsiteError};
use chrono::{DateTime, Utc};
use innsync_store::backup::{decode_segment, segment_name, verify, Manifest, MANIFEST_FILE};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// An RFC 3339 time, as the store writes them.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What was downloaded for a restore.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The backup, as a local backup directory.
    pub backup_dir: PathBuf,
    /// The segments after it, as a local archive directory.
    pub archive_dir: PathBuf,
    /// The backup's name in the bucket.
    pub backup: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Sealed bytes downloaded.
    pub bytes: u64,
    /// Segments downloaded.
    pub segments: usize,
}

/// Downloads into `into` (created, emptied) the newest backup not after `until` and every
/// segment after it.
pub async fn fetch(
    bucket: &Bucket,
    until: Option<DateTime<Utc>>,
    into: &Path,
) -> Result<Fetched, OffsiteError> {
    let backups = bucket.backups().await?;
    if backups.is_empty() {
        return Err(OffsiteError::Damaged(format!(
            "{} holds no backup to restore from",
            bucket.url()
        )));
    }
    let mut chosen = None;
    for name in backups.iter().rev() {
        let m = match bucket.manifest(name).await {
            // Removed by retention since it was listed: an older one may fit.
            Err(OffsiteError::Storage(object_store::Error::NotFound { .. })) => continue,
            r => r?,
        };
        let fits = match (until, m.last_batch_at.as_deref().and_then(parse_time)) {
            (Some(t), Some(at)) => at <= t,
            _ => true,
        };
        if fits {
            chosen = Some((name.clone(), m));
            break;
        }
    }
    let Some((backup, manifest)) = chosen else {
        return Err(OffsiteError::Damaged(format!(
            "every backup in {} is after the time asked for (retention removed older ones)",
            bucket.url()
        )));
    };
    let _ = tokio::fs::remove_dir_all(into).await;
    let backup_dir = into.join("backup");
    let archive_dir = into.join("archive");
    tokio::fs::create_dir_all(&backup_dir).await?;
    tokio::fs::create_dir_all(&archive_dir).await?;
    let mut bytes = 0u64;
    for file in [innsync_store::DB_FILE, MANIFEST_FILE] {
        let plain = bucket.get_opened(&backup_object(&backup, file)).await?;
        bytes += plain.len() as u64;
        tokio::fs::write(backup_dir.join(file), plain).await?;
    }
    let mut segments = 0;
    for (first, last, name) in bucket.segments().await? {
        if last <= manifest.order_upto {
            continue;
        }
        let plain = bucket.get_opened(&name).await?;
        decode_segment(&plain, &name)?;
        bytes += plain.len() as u64;
        tokio::fs::write(archive_dir.join(segment_name(first, last)), plain).await?;
        segments += 1;
    }
    Ok(Fetched {
        backup_dir,
        archive_dir,
        backup,
        manifest,
        bytes,
        segments,
    })
}

/// What `backup verify` found in the bucket.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteReport {
    /// Every backup, verified (checksum, integrity, invariants), oldest first.
    pub backups: Vec<(String, Manifest)>,
    /// Segments opened and checked.
    pub segments: usize,
    /// The positions of the commit order they cover without a gap, from the oldest backup.
    pub covers: (i64, i64),
}

/// Downloads and checks everything in the bucket: every backup as `backup verify` checks a
/// local one, every segment's seal and checksum, and that the segments leave no gap after the
/// oldest backup. Uses `scratch` (removed after) for the backups.
pub async fn verify_remote(bucket: &Bucket, scratch: &Path) -> Result<RemoteReport, OffsiteError> {
    let names = bucket.backups().await?;
    if names.is_empty() {
        return Err(OffsiteError::Damaged(format!(
            "{} holds no backup",
            bucket.url()
        )));
    }
    let mut backups = Vec::new();
    'backups: for name in &names {
        let dir = scratch.join(BACKUPS).join(name);
        tokio::fs::create_dir_all(&dir).await?;
        for file in [innsync_store::DB_FILE, MANIFEST_FILE] {
            let plain = match bucket.get_opened(&backup_object(name, file)).await {
                // Removed by retention since it was listed (a live archive): not verified,
                // and the gap check below starts at a backup still present.
                Err(OffsiteError::Storage(object_store::Error::NotFound { .. })) => {
                    let _ = tokio::fs::remove_dir_all(&dir).await;
                    continue 'backups;
                }
                r => r?,
            };
            tokio::fs::write(dir.join(file), plain).await?;
        }
        let d = dir.clone();
        let m = tokio::task::spawn_blocking(move || verify(&d))
            .await
            .map_err(|e| OffsiteError::Task(e.to_string()))??;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        backups.push((name.clone(), m));
    }
    // A live archive changes while it is verified: retention removes a backup (manifest first)
    // before the segments only it needed. So the gap check starts at the oldest verified
    // backup still listed after the segments were listed, never at one removed meanwhile.
    let listed = bucket.segments().await?;
    let present = bucket.backups().await?;
    let Some(start) = backups
        .iter()
        .find(|(name, _)| present.contains(name))
        .map(|(_, m)| m.order_upto)
    else {
        return Err(OffsiteError::Damaged(
            "every backup was replaced while it was verified (a live archive): run verify again"
                .into(),
        ));
    };
    let mut upto = start;
    let mut segments = 0;
    for (first, last, name) in listed {
        let plain = match bucket.get_opened(&name).await {
            // Removed by retention since it was listed: the gap check below says whether it
            // was still needed.
            Err(OffsiteError::Storage(object_store::Error::NotFound { .. })) => continue,
            r => r?,
        };
        let changes = decode_segment(&plain, &name)?;
        if changes.first().map(|c| c.n) != Some(first) || changes.last().map(|c| c.n) != Some(last)
        {
            return Err(OffsiteError::Damaged(format!(
                "{name} does not hold the changes its name says"
            )));
        }
        if last > upto && first > upto + 1 {
            return Err(OffsiteError::Damaged(format!(
                "changes {}..{} of the commit order are missing before {name}",
                upto + 1,
                first - 1
            )));
        }
        upto = upto.max(last);
        segments += 1;
    }
    let _ = tokio::fs::remove_dir_all(scratch).await;
    Ok(RemoteReport {
        backups,
        segments,
        covers: (start + 1, upto),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> crate::SealKey {
        crate::SealKey::from_hex(&"ab".repeat(32)).expect("a key")
    }

    /// Retention removes a backup (manifest first, then its file) while `backup verify` reads
    /// the bucket: a backup listed by its manifest whose file is already gone is a backup
    /// removed meanwhile, not damage — verify says to run again instead of failing on a 404.
    #[tokio::test]
    async fn a_backup_removed_while_it_is_verified_is_not_reported_as_missing() {
        let bucket = Bucket::in_memory(key());
        bucket
            .put_sealed(&backup_object("backup-A", MANIFEST_FILE), b"{}")
            .await
            .expect("put");
        let scratch = tempfile::tempdir().expect("tempdir");
        let err = verify_remote(&bucket, scratch.path())
            .await
            .expect_err("nothing was verified");
        assert!(
            matches!(&err, OffsiteError::Damaged(m) if m.contains("run verify again")),
            "{err}"
        );
    }
}

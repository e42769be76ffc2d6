//! The shipper a server runs when `archive_url` is set: every `archive_ship_interval` it seals
//! the changes committed since the last round into one segment (or a few, bounded) and writes
//! them to the bucket; when the bucket holds no backup it first ships one as the restore base,
//! then a new one every `archive_backup_interval`; every `archive_compact_interval` it applies
//! retention. It measures how far the bucket is behind the store (changes and seconds).
//!
//! Why no local staging directory: the store's change log is itself the durable queue. A round
//! reads the changes after the last position shipped, so a crash, a slow bucket or an outage
//! only delays shipping; nothing is lost or shipped out of order, and memory stays bounded by
//! `archive_max_segments_per_round` × `archive_segment_changes`.

use crate::bucket::{backup_object, segment_object};
use crate::{retention, Bucket, OffsiteError, OffsiteSettings};
use chrono::{DateTime, Utc};
use innsync_store::backup::{commit_order_head, create, next_segment, Manifest, MANIFEST_FILE};
use innsync_store::ReadPool;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// How far the bucket is behind the store, updated after every round (read by the metrics).
#[derive(Debug, Default)]
pub struct ArchiveLag {
    changes_behind: AtomicI64,
    millis_behind: AtomicI64,
    shipped_upto: AtomicI64,
    segments_shipped: AtomicU64,
    bytes_shipped: AtomicU64,
    backups_shipped: AtomicU64,
    failures: AtomicU64,
    failing: std::sync::atomic::AtomicBool,
}

impl ArchiveLag {
    /// Changes committed here and not yet in the bucket.
    pub fn changes_behind(&self) -> i64 {
        self.changes_behind.load(Ordering::Relaxed)
    }
    /// Age of the oldest change not yet in the bucket, in seconds (0 when none is waiting).
    pub fn seconds_behind(&self) -> f64 {
        self.millis_behind.load(Ordering::Relaxed) as f64 / 1000.0
    }
    /// The last position of the commit order known to be in the bucket.
    pub fn shipped_upto(&self) -> i64 {
        self.shipped_upto.load(Ordering::Relaxed)
    }
    /// Segments written to the bucket by this process.
    pub fn segments_shipped(&self) -> u64 {
        self.segments_shipped.load(Ordering::Relaxed)
    }
    /// Sealed bytes written to the bucket by this process.
    pub fn bytes_shipped(&self) -> u64 {
        self.bytes_shipped.load(Ordering::Relaxed)
    }
    /// Backups written to the bucket by this process.
    pub fn backups_shipped(&self) -> u64 {
        self.backups_shipped.load(Ordering::Relaxed)
    }
    /// Rounds that failed (each retried at the next interval).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
    /// Whether the last round failed (the bucket is unreachable or refuses): shown as such
    /// on the dashboard until a round succeeds.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
    /// Counts a failed round.
    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.failing.store(true, Ordering::Relaxed);
    }
}

/// What one round did.
#[derive(Clone, Debug, Default)]
pub struct ShipReport {
    /// Segments written.
    pub segments: usize,
    /// Changes in them.
    pub changes: i64,
    /// A backup written, by folder name.
    pub backup: Option<String>,
    /// What retention removed or merged, when it ran.
    pub retention: Option<retention::RetentionReport>,
}

/// Ships one server's archive to its bucket.
pub struct Shipper {
    bucket: Bucket,
    pool: Arc<ReadPool>,
    db: PathBuf,
    scratch: PathBuf,
    settings: OffsiteSettings,
    shipped: Option<i64>,
    last_backup: Option<DateTime<Utc>>,
    last_retention: Option<DateTime<Utc>>,
    lag: Arc<ArchiveLag>,
    /// Backups and retention run beside the rounds (a backup of a large store takes seconds;
    /// segments must keep going meanwhile): at most one such task at a time.
    housekeeping: Option<tokio::task::JoinHandle<Result<ShipReport, OffsiteError>>>,
}

impl Shipper {
    /// A shipper of the store in `data_dir` (read through `pool`) to `bucket`. It learns where
    /// the bucket is on its first round.
    pub fn new(
        bucket: Bucket,
        pool: Arc<ReadPool>,
        data_dir: &Path,
        settings: OffsiteSettings,
    ) -> Self {
        Self {
            bucket,
            pool,
            db: data_dir.join(innsync_store::DB_FILE),
            scratch: data_dir.join("offsite-scratch"),
            settings,
            shipped: None,
            last_backup: None,
            last_retention: None,
            lag: Arc::new(ArchiveLag::default()),
            housekeeping: None,
        }
    }

    /// The lag this shipper measures, to export.
    pub fn lag(&self) -> Arc<ArchiveLag> {
        self.lag.clone()
    }

    /// Forgets where the bucket is (this node stopped leading: another may ship meanwhile), so
    /// the next round looks again.
    pub fn forget(&mut self) {
        self.shipped = None;
    }

    /// One round: resume from the bucket if needed, ship what is new (bounded), a backup and
    /// retention when due, then measure the lag.
    pub async fn round(&mut self, now: DateTime<Utc>) -> Result<ShipReport, OffsiteError> {
        let mut report = ShipReport::default();
        let mut shipped = match self.shipped {
            Some(s) => s,
            None => self.resume(now, &mut report).await?,
        };
        // Measured before shipping: the data at risk at this moment (the worst of the round).
        self.measure(shipped, now).await?;
        for _ in 0..self.settings.max_segments_per_round {
            let (pool, limit) = (self.pool.clone(), self.settings.segment_changes);
            let seg = blocking(move || next_segment(&pool, shipped, limit)).await??;
            let Some(seg) = seg else { break };
            let n = self
                .bucket
                .put_sealed(&segment_object(seg.first, seg.last), &seg.bytes)
                .await?;
            report.segments += 1;
            report.changes += seg.last - shipped.max(seg.first - 1);
            shipped = seg.last;
            self.shipped = Some(shipped);
            self.lag.shipped_upto.store(shipped, Ordering::Relaxed);
            self.lag.segments_shipped.fetch_add(1, Ordering::Relaxed);
            self.lag
                .bytes_shipped
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        if report.segments == 0 {
            self.measure(shipped, now).await?;
        }
        if self.housekeeping.as_ref().is_some_and(|t| t.is_finished()) {
            if let Some(task) = self.housekeeping.take() {
                let done = task
                    .await
                    .map_err(|e| OffsiteError::Task(e.to_string()))??;
                report.backup = done.backup;
                report.retention = done.retention;
            }
        }
        if self.housekeeping.is_none() {
            self.start_housekeeping(now);
        }
        self.lag.failing.store(false, Ordering::Relaxed);
        Ok(report)
    }

    /// Starts, beside the rounds, a backup and retention when they are due.
    fn start_housekeeping(&mut self, now: DateTime<Utc>) {
        let due = |last: Option<DateTime<Utc>>, every: std::time::Duration| {
            last.is_none_or(|t| (now - t).to_std().unwrap_or_default() >= every)
        };
        let backup = due(self.last_backup, self.settings.backup_interval);
        let retain = due(self.last_retention, self.settings.compact_interval);
        if !backup && !retain {
            return;
        }
        if backup {
            self.last_backup = Some(now);
        }
        if retain {
            self.last_retention = Some(now);
        }
        let (bucket, db, scratch, lag) = (
            self.bucket.clone(),
            self.db.clone(),
            self.scratch.clone(),
            self.lag.clone(),
        );
        let (keep, limit) = (self.settings.keep_backups, self.settings.segment_changes);
        self.housekeeping = Some(tokio::spawn(async move {
            let mut report = ShipReport::default();
            if backup {
                report.backup = Some(ship_backup(&bucket, &db, &scratch, &lag, now).await?.0);
            }
            if retain {
                report.retention = Some(retention::apply(&bucket, keep, limit).await?);
            }
            Ok(report)
        }));
    }

    /// Where the bucket is: after its last segment or its newest backup; ships a base backup
    /// when it holds none (a restore needs one to replay segments onto).
    async fn resume(
        &mut self,
        now: DateTime<Utc>,
        report: &mut ShipReport,
    ) -> Result<i64, OffsiteError> {
        let pool = self.pool.clone();
        let local = blocking(move || commit_order_head(&pool, 0)).await??;
        if !local.tracking {
            return Err(OffsiteError::Task(
                "changes are not numbered in commit order yet (waiting for the writer)".into(),
            ));
        }
        let last_segment = self.bucket.segments().await?.last().map_or(0, |s| s.1);
        let backups = self.bucket.backups().await?;
        let newest = match backups.last() {
            Some(name) => self.bucket.manifest(name).await?,
            None => {
                let (name, m) =
                    ship_backup(&self.bucket, &self.db, &self.scratch, &self.lag, now).await?;
                report.backup = Some(name);
                m
            }
        };
        self.last_backup = self
            .last_backup
            .max(crate::fetch::parse_time(&newest.created_at));
        let at = last_segment.max(newest.order_upto);
        if at > local.head {
            return Err(OffsiteError::Ahead {
                bucket: at,
                store: local.head,
            });
        }
        self.shipped = Some(at);
        self.lag.shipped_upto.store(at, Ordering::Relaxed);
        Ok(at)
    }

    /// After a failed round: the lag from the last position known to be in the bucket, so
    /// the gauges keep growing during an outage instead of showing the last good round's.
    pub async fn measure_stalled(&self, now: DateTime<Utc>) -> Result<(), OffsiteError> {
        self.measure(self.lag.shipped_upto(), now).await
    }

    async fn measure(&self, shipped: i64, now: DateTime<Utc>) -> Result<(), OffsiteError> {
        let pool = self.pool.clone();
        let h = blocking(move || commit_order_head(&pool, shipped + 1)).await??;
        let (head, oldest) = (h.head, h.at);
        let behind = (head - shipped).max(0);
        let millis = match (behind, oldest.as_deref().and_then(crate::fetch::parse_time)) {
            (0, _) | (_, None) => 0,
            (_, Some(t)) => (now - t).num_milliseconds().max(0),
        };
        self.lag.changes_behind.store(behind, Ordering::Relaxed);
        self.lag.millis_behind.store(millis, Ordering::Relaxed);
        Ok(())
    }
}

/// Takes a backup of `db` into scratch space and writes it to the bucket, the manifest last.
async fn ship_backup(
    bucket: &Bucket,
    db: &Path,
    scratch: &Path,
    lag: &ArchiveLag,
    now: DateTime<Utc>,
) -> Result<(String, Manifest), OffsiteError> {
    let name = format!("backup-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let dir = scratch.join(&name);
    let (db, d) = (db.to_path_buf(), dir.clone());
    let manifest = blocking(move || {
        let _ = std::fs::remove_dir_all(&d);
        create(&db, &d, now)
    })
    .await??;
    let file = tokio::fs::read(dir.join(innsync_store::DB_FILE)).await?;
    let manifest_bytes = tokio::fs::read(dir.join(MANIFEST_FILE)).await?;
    let mut n = bucket
        .put_sealed(&backup_object(&name, innsync_store::DB_FILE), &file)
        .await?;
    n += bucket
        .put_sealed(&backup_object(&name, MANIFEST_FILE), &manifest_bytes)
        .await?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    lag.backups_shipped.fetch_add(1, Ordering::Relaxed);
    lag.bytes_shipped.fetch_add(n as u64, Ordering::Relaxed);
    tracing::info!(backup = %name, bytes = n, "backup shipped to the off-site archive");
    Ok((name, manifest))
}

/// Runs blocking store work (SQLite, files) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OffsiteError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OffsiteError::Task(e.to_string()))
}

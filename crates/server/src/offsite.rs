//! The off-site archive job (issue 21): when `archive_url` is set, ships the change log and
//! backups to object storage through `innsync_offsite::Shipper` every `archive_ship_interval`,
//! on a single node or on the cluster's leader only (every node holds the same history; one
//! writer keeps the bucket free of duplicates), and exports the lag as metrics.

use crate::state::AppState;
use crate::ServeError;
use innsync_offsite::{Bucket, Remote, SealKey, Shipper};
use std::path::Path;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Checks the settings (a misconfigured archive stops the start, not the first round) and
/// starts the job; `None` when no `archive_url` is set.
pub fn spawn(
    state: &AppState,
    data_dir: &Path,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>, ServeError> {
    let settings = state.settings.offsite.clone();
    let Some(remote) = Remote::from_settings(&settings) else {
        return Ok(None);
    };
    let key_file = settings.key_file.clone().ok_or_else(|| {
        ServeError::Offsite("archive_url needs archive_key_file (64 hex digits)".into())
    })?;
    let key = SealKey::from_file(&key_file).map_err(|e| ServeError::Offsite(e.to_string()))?;
    let bucket = Bucket::connect(&remote, key).map_err(|e| ServeError::Offsite(e.to_string()))?;
    let mut shipper = Shipper::new(bucket, state.reads.clone(), data_dir, settings.clone());
    let lag = shipper.lag();
    let state = state.clone();
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.ship_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if state.cluster.as_ref().is_some_and(|n| !n.is_leader()) {
                shipper.forget();
                continue;
            }
            match shipper.round((state.clock)()).await {
                Ok(r) if r.segments > 0 || r.backup.is_some() || r.retention.is_some() => {
                    tracing::debug!(
                        segments = r.segments,
                        changes = r.changes,
                        backup = ?r.backup,
                        retention = ?r.retention,
                        "shipped to the off-site archive"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    lag.failed();
                    shipper.forget();
                    tracing::warn!(error = %e, "off-site archive round failed; retrying");
                    if let Err(e) = shipper.measure_stalled((state.clock)()).await {
                        tracing::warn!(error = %e, "could not measure the off-site archive's lag");
                    }
                }
            }
            state.metrics.set_archive(&lag);
        }
    })))
}

//! The server's backup jobs (DESIGN.md §11): the change-log archiver (segments for
//! point-in-time restore), scheduled backups with retention, and, after a restore, the
//! recovery of this server's own later changes from its peers before it takes commands again.

use crate::replication::auth::{peer_token, FINGERPRINT_HEADER, SERVER_HEADER};
use crate::replication::endpoint::{PullAnswer, PullRequest};
use crate::state::AppState;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts the jobs the settings ask for; each stops when `stop` turns true.
pub fn spawn(
    state: &AppState,
    data_dir: &Path,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut jobs = Vec::new();
    let db = data_dir.join(innsync_store::DB_FILE);
    if let Some(dir) = state.settings.archive_dir.clone() {
        let (state, mut stop) = (state.clone(), stop.clone());
        jobs.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.settings.archive_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let (pool, dir) = (state.reads.clone(), dir.clone());
                match tokio::task::spawn_blocking(move || {
                    innsync_store::backup::archive(&pool, &dir)
                })
                .await
                {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::debug!(changes = n, "changes archived"),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "archiving the change log failed; will retry")
                    }
                    Err(e) => tracing::error!(error = %e, "archiver task failed"),
                }
            }
        }));
    }
    if let Some(root) = state.settings.backup_dir.clone() {
        let (state, mut stop) = (state.clone(), stop.clone());
        jobs.push(tokio::spawn(async move {
            let every = state.settings.backup_interval;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
                let (db, root, keep) = (db.clone(), root.clone(), state.settings.backup_keep);
                let now = (state.clock)();
                match tokio::task::spawn_blocking(move || {
                    innsync_store::backup::scheduled(&db, &root, keep, now)
                })
                .await
                {
                    Ok(Ok(dir)) => tracing::info!(dir = %dir.display(), "scheduled backup taken"),
                    Ok(Err(e)) => tracing::error!(error = %e, "scheduled backup failed"),
                    Err(e) => tracing::error!(error = %e, "backup task failed"),
                }
            }
        }));
    }
    if state.writer.is_recovering() {
        jobs.push(tokio::spawn(recover(state.clone(), stop)));
    }
    jobs
}

/// After a restore: asks every peer for this server's own changes beyond its last seq and
/// applies them, until every peer has answered and none holds more; only then are commands
/// taken again (so no sequence number is used twice). A server alone has no peer that could
/// hold its changes and resumes at once.
async fn recover(state: AppState, mut stop: watch::Receiver<bool>) {
    let me = state.writer.server().clone();
    let Some(ctx) = state.env.clone() else {
        finish(&state).await;
        return;
    };
    let client =
        crate::tls::peer_client_builder(state.peer_tls.as_deref(), state.settings.peer_h2c)
            .connect_timeout(state.settings.peer_connect_timeout)
            .build()
            .unwrap_or_default();
    let token = peer_token(ctx.env.secret.expose(), me.as_str());
    tracing::warn!("restored from a backup: recovering this server's own later changes from its peers before taking writes");
    loop {
        let mut all_done = true;
        for (peer, base) in &ctx.peer_urls {
            match recover_from(&state, &client, &token, &ctx.fingerprint, base).await {
                Ok(true) => {}
                Ok(false) => all_done = false,
                Err(why) => {
                    tracing::warn!(%peer, %why, "peer not reachable for recovery; still refusing writes");
                    all_done = false;
                }
            }
        }
        if all_done {
            finish(&state).await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(state.settings.restore_recovery_retry) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One round with one peer: `Ok(true)` when it holds nothing more of ours.
async fn recover_from(
    state: &AppState,
    client: &reqwest::Client,
    token: &str,
    fingerprint: &str,
    base: &str,
) -> Result<bool, String> {
    let me = state.writer.server().clone();
    let cursor = state.read(|r| r.cursors()).await.map_err(|p| p.detail)?;
    let mine = cursor.get(me.as_str()).copied().unwrap_or(0);
    let answer: PullAnswer = client
        .post(format!("{base}/api/v1/replication/pull"))
        .bearer_auth(token)
        .header(SERVER_HEADER, me.as_str())
        .header(FINGERPRINT_HEADER, fingerprint)
        .json(&PullRequest {
            cursor,
            limit: state.settings.pull_batch,
            wait_ms: 0,
        })
        .timeout(state.settings.peer_request_timeout)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let held = answer.holds.get(me.as_str()).copied().unwrap_or(0);
    if held <= mine {
        return Ok(true);
    }
    let own: Vec<_> = answer
        .changes
        .into_iter()
        .filter(|c| c.origin == me)
        .collect();
    let n = own.len();
    crate::write::recover_own(state, own)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        recovered = n,
        upto = held,
        "recovered own changes from a peer"
    );
    Ok(false)
}

async fn finish(state: &AppState) {
    loop {
        match crate::write::finish_recovery(state).await {
            Ok(()) => {
                tracing::info!("recovery after restore complete: taking writes again");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not end the recovery yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

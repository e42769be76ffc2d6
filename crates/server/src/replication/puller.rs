//! The pull loop towards one peer: long-poll for changes beyond our cursor, check the batch's
//! shape, apply it through the writer, record how far behind we are; back off while the peer
//! is unreachable and resume from the cursor when it returns.

use super::auth::{peer_token, FINGERPRINT_HEADER, SERVER_HEADER};
use super::endpoint::{PullAnswer, PullRequest};
use crate::state::AppState;
use innsync_core::ServerCode;
use innsync_environment::cursor::{plan_batch, Batch, CursorMap, Sequenced};
use innsync_environment::Fingerprint;
use innsync_store::Change;
use std::collections::BTreeSet;
use std::io::Read;
use std::time::Instant;
use tokio::sync::watch;

/// Most bytes a pull answer may inflate to: a peer's gzip cannot exhaust memory.
pub const MAX_PULL_ANSWER_BYTES: u64 = 256 * 1024 * 1024;

/// A change seen by the cursor planner.
struct Seq<'a>(&'a Change);

impl Sequenced for Seq<'_> {
    fn origin(&self) -> &ServerCode {
        &self.0.origin
    }
    fn seq(&self) -> u64 {
        self.0.seq
    }
}

fn cursor_map(m: &std::collections::BTreeMap<String, u64>) -> CursorMap {
    let mut c = CursorMap::new();
    for (o, s) in m {
        if let Ok(code) = ServerCode::parse(o) {
            let _ = c.set(code, *s);
        }
    }
    c
}

/// Why one pull failed.
#[derive(Debug)]
enum PullError {
    /// No answer: the peer is unreachable.
    Unreachable(String),
    /// The peer answered but refused, or sent something unusable.
    Refused(String),
    /// The pull ran out of time: on a slow link, the answer may be too big to arrive in time.
    TimedOut(String),
}

/// Fewest changes a pull asks for after timeouts have halved its batch.
pub const MIN_PULL_LIMIT: usize = 10;

/// The batch of the next pull: halved after a timeout (a slow link cannot carry the answer in
/// time, and starting over with the same batch would never finish), doubled back towards
/// `max` after a pull that got a full batch, kept otherwise.
pub fn next_limit(current: usize, max: usize, timed_out: bool, got: usize) -> usize {
    if timed_out {
        (current / 2).max(MIN_PULL_LIMIT).min(max)
    } else if got >= current {
        current.saturating_mul(2).min(max)
    } else {
        current.min(max)
    }
}

fn reach_error(e: &reqwest::Error) -> PullError {
    if e.is_timeout() {
        PullError::TimedOut(e.to_string())
    } else {
        PullError::Unreachable(e.to_string())
    }
}

/// Pulls from `peer` until `stop` turns true.
pub async fn run(state: AppState, peer: ServerCode, mut stop: watch::Receiver<bool>) {
    let Some(ctx) = state.env.clone() else { return };
    let Some(base) = ctx.peer_urls.get(&peer).cloned() else {
        return;
    };
    let s = state.settings.clone();
    let client =
        match crate::tls::peer_client_builder(state.peer_tls.as_deref(), state.settings.peer_h2c)
            .connect_timeout(s.peer_connect_timeout)
            .tcp_nodelay(true)
            // Inflated here, so the link's bytes are counted as they travel.
            .no_gzip()
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(%peer, error = %e, "no HTTP client; not pulling");
                return;
            }
        };
    let url = format!("{base}/api/v1/replication/pull");
    let token = peer_token(ctx.env.secret.expose(), ctx.me.code.as_str());
    let mut backoff = s.peer_retry_min;
    let mut limit = s.pull_batch;
    // The first pull, and the first after a failure, is answered at once: whether the peer is
    // reachable is known in one round trip, not after a whole long-poll (`pull_wait`, 30 s).
    let mut wait = std::time::Duration::ZERO;
    loop {
        if *stop.borrow() {
            return;
        }
        let attempt = pull_once(&state, &client, &url, &token, &peer, wait, limit);
        let result = tokio::select! {
            r = attempt => r,
            _ = stop.changed() => return,
        };
        match result {
            Ok(r) => {
                let got = r.applied + r.duplicates + r.held;
                limit = next_limit(
                    limit,
                    s.pull_batch,
                    false,
                    usize::try_from(got).unwrap_or(usize::MAX),
                );
                backoff = s.peer_retry_min;
                wait = s.pull_wait;
            }
            Err(e) => {
                wait = std::time::Duration::ZERO;
                let (reachable, why) = match e {
                    PullError::Unreachable(w) => (false, w),
                    PullError::TimedOut(w) => {
                        limit = next_limit(limit, s.pull_batch, true, 0);
                        (false, format!("{w} (next pull asks for {limit} changes)"))
                    }
                    PullError::Refused(w) => (true, w),
                };
                ctx.peer(&peer, |p| {
                    p.reachable = reachable;
                    p.last_error = Some(why.clone());
                });
                super::link_served::failed(&state, &peer);
                tracing::debug!(%peer, error = %why, "pull failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(s.peer_retry_max);
            }
        }
    }
}

/// One pull's HTTP exchange: sends `body`, reads the answer (inflating gzip here, so the
/// link's bytes are counted as they travel), and counts both ways in the peer's link meter.
async fn exchange(
    state: &AppState,
    client: &reqwest::Client,
    url: &str,
    token: &str,
    peer: &ServerCode,
    body: &PullRequest,
    wait: std::time::Duration,
) -> Result<(reqwest::StatusCode, Vec<u8>, std::time::Duration), PullError> {
    let Some(ctx) = &state.env else {
        return Err(PullError::Refused("no environment".into()));
    };
    let s = &state.settings;
    let req = client
        .post(url)
        .bearer_auth(token)
        .header(SERVER_HEADER, ctx.me.code.as_str())
        .header(FINGERPRINT_HEADER, &ctx.fingerprint)
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .json(body)
        .timeout(wait + s.peer_request_timeout)
        .build()
        .map_err(|e| PullError::Refused(e.to_string()))?;
    // `POST /path HTTP/1.1\r\n`, headers (with the host and length the client adds), body.
    let sent = (req.url().path().len() + 16) as u64
        + super::link_served::header_bytes(req.headers())
        + 40
        + req
            .body()
            .and_then(|b| b.as_bytes())
            .map_or(0, |b| b.len() as u64);
    let started = Instant::now();
    let resp = client.execute(req).await.map_err(|e| reach_error(&e))?;
    let status = resp.status();
    let head = 17 + super::link_served::header_bytes(resp.headers());
    let gzipped = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let wire = resp.bytes().await.map_err(|e| reach_error(&e))?;
    let took = started.elapsed();
    super::link_served::record(state, peer, head + wire.len() as u64, sent);
    let bytes = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&wire[..])
            .take(MAX_PULL_ANSWER_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| PullError::Refused(format!("garbled gzip from {peer}: {e}")))?;
        out
    } else {
        wire.to_vec()
    };
    Ok((status, bytes, took))
}

async fn pull_once(
    state: &AppState,
    client: &reqwest::Client,
    url: &str,
    token: &str,
    peer: &ServerCode,
    wait: std::time::Duration,
    limit: usize,
) -> Result<innsync_store::ReplicationReport, PullError> {
    let Some(ctx) = &state.env else {
        return Ok(Default::default());
    };
    let cursor = state
        .read(|r| r.cursors())
        .await
        .map_err(|p| PullError::Refused(p.detail))?;
    let body = PullRequest {
        cursor: cursor.clone(),
        limit,
        wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
    };
    let (status, bytes, took) = exchange(state, client, url, token, peer, &body, wait).await?;
    if !status.is_success() {
        let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or_else(|| status.to_string());
        tracing::warn!(%peer, %status, %detail, "pull refused");
        return Err(PullError::Refused(detail));
    }
    let answer: PullAnswer = serde_json::from_slice(&bytes)
        .map_err(|e| PullError::Refused(format!("garbled answer from {peer}: {e}")))?;
    // Refuse a garbled batch whole, before anything of it is applied.
    let fingerprint = Fingerprint::parse(&answer.fingerprint)
        .map_err(|e| PullError::Refused(format!("garbled fingerprint from {peer}: {e}")))?;
    let ours = Fingerprint::parse(&ctx.fingerprint).map_err(PullError::Refused)?;
    let known: BTreeSet<ServerCode> = ctx.env.servers.iter().map(|s| s.code.clone()).collect();
    let batch = Batch {
        fingerprint,
        changes: answer.changes.iter().map(Seq).collect(),
    };
    if fingerprint != ours {
        return Err(PullError::Refused(format!(
            "{peer}'s environment file differs from ours"
        )));
    }
    plan_batch(&cursor_map(&cursor), &ours, &known, &batch).map_err(|e| {
        state.metrics.replication_refused.inc();
        PullError::Refused(format!("garbled batch from {peer}: {e}"))
    })?;
    drop(batch);
    let n = answer.changes.len();
    let skipped = (!answer.scanned.is_empty()).then(|| innsync_store::Skipped {
        from: cursor.clone(),
        scanned: answer.scanned.clone(),
    });
    let report = if n > 0 || skipped.is_some() {
        crate::write::replicate_partial(state, answer.changes, skipped)
            .await
            .map_err(|e| PullError::Refused(format!("applying {n} changes from {peer}: {e}")))?
    } else {
        Default::default()
    };
    state.metrics.replication_applied.inc_by(report.applied);
    let after = state
        .read(|r| r.cursors())
        .await
        .map_err(|p| PullError::Refused(p.detail))?;
    let behind: u64 = answer
        .holds
        .iter()
        .map(|(o, held)| held.saturating_sub(after.get(o).copied().unwrap_or(0)))
        .sum();
    let waited = std::time::Duration::from_millis(answer.waited_ms);
    ctx.peer(peer, |p| {
        p.link.pulled(Instant::now(), took, waited, n as u64);
        p.reachable = true;
        p.last_sync = Some((state.clock)());
        p.behind = behind;
        p.applied += report.applied;
        p.last_error = None;
    });
    if report.held > 0 {
        tracing::debug!(%peer, held = report.held, "changes beyond a gap held; pulling again");
    }
    Ok(report)
}

/// What a transfer with one peer moved.
#[derive(Debug, Default, serde::Serialize)]
pub struct Transfer {
    /// The peer.
    pub with: String,
    /// Changes received from it and applied here.
    pub received: u64,
    /// Of those, changes older than what was stored (kept in the log only).
    pub stale: u64,
    /// Changes it had already (duplicates), skipped.
    pub duplicates: u64,
    /// Changes this server holds that the peer had not pulled yet at its last pull (it pulls
    /// them by itself; `innsync transfer` on the peer pulls them now).
    pub peer_behind: u64,
}

/// Pulls from `peer` now, without waiting, until it has nothing more: `innsync transfer`.
pub async fn transfer_now(
    state: &AppState,
    peer: &ServerCode,
) -> Result<Transfer, crate::problem::Problem> {
    use crate::problem::Problem;
    let ctx = state
        .env
        .clone()
        .ok_or_else(|| Problem::invalid("this server is not part of an environment"))?;
    let base = ctx
        .peer_urls
        .get(peer)
        .cloned()
        .ok_or_else(|| Problem::invalid(format!("{peer} is not a peer of {}", ctx.me.code)))?;
    let client =
        crate::tls::peer_client_builder(state.peer_tls.as_deref(), state.settings.peer_h2c)
            .connect_timeout(state.settings.peer_connect_timeout)
            .no_gzip()
            .build()
            .map_err(|e| Problem::unavailable(e.to_string()))?;
    let url = format!("{base}/api/v1/replication/pull");
    let token = peer_token(ctx.env.secret.expose(), ctx.me.code.as_str());
    let mut t = Transfer {
        with: peer.to_string(),
        ..Transfer::default()
    };
    for _ in 0..crate::replication::MAX_TRANSFER_ROUNDS {
        let r = pull_once(
            state,
            &client,
            &url,
            &token,
            peer,
            std::time::Duration::ZERO,
            state.settings.pull_batch,
        )
        .await
        .map_err(|e| Problem::unavailable(format!("{peer}: {e:?}")))?;
        t.received += r.applied;
        t.stale += r.stale;
        t.duplicates += r.duplicates;
        if r.applied == 0 {
            break;
        }
    }
    let ours = state.read(|r| r.cursors()).await?;
    let theirs = ctx.peer_snapshot(peer).cursor;
    t.peer_behind = ours
        .iter()
        .map(|(o, s)| s.saturating_sub(theirs.get(o).copied().unwrap_or(0)))
        .sum();
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_halves_the_batch_and_full_batches_grow_it_back() {
        assert_eq!(next_limit(1_000, 1_000, true, 0), 500);
        assert_eq!(next_limit(500, 1_000, true, 0), 250);
        assert_eq!(next_limit(12, 1_000, true, 0), MIN_PULL_LIMIT);
        assert_eq!(next_limit(MIN_PULL_LIMIT, 1_000, true, 0), MIN_PULL_LIMIT);
        // A full batch: the link carried it in time; ask for more next.
        assert_eq!(next_limit(250, 1_000, false, 250), 500);
        assert_eq!(next_limit(800, 1_000, false, 800), 1_000);
        // Less than a batch: nothing more was there; keep the size.
        assert_eq!(next_limit(250, 1_000, false, 3), 250);
        assert_eq!(next_limit(1_000, 1_000, false, 1_000), 1_000);
    }
}

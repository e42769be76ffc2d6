//! The pull loop towards one peer: long-poll for changes beyond our cursor, check the batch's
//! shape, apply it through the writer, record how far behind we are; back off while the peer
//! is unreachable and resume from the cursor when it returns.

use super::auth::{peer_token, FINGERPRINT_HEADER, SERVER_HEADER};
use super::endpoint::{PullAnswer, PullRequest};
use super::wire_count::{header_value, PeerHttp, WireError};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use innsync_core::ServerCode;
use innsync_environment::cursor::{plan_batch, Batch, CursorMap, Sequenced};
use innsync_environment::Fingerprint;
use innsync_store::Change;
use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;
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

/// The pause between failed pulls: `min` after the first failure, doubled after each further
/// one, never above `max`. The cap is what bounds how long a returned link stays idle: after a
/// day of failures the next attempt is still at most `max` away (issue 22). Pure, so its
/// schedule is tested in simulated time.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    min: std::time::Duration,
    max: std::time::Duration,
    next: std::time::Duration,
}

impl Backoff {
    /// A back-off between `min` and `max` (`peer_retry_min`, `peer_retry_max`).
    pub fn new(min: std::time::Duration, max: std::time::Duration) -> Backoff {
        let min = min.min(max);
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The pause after this failure; the next one is twice as long, up to the cap.
    pub fn failed(&mut self) -> std::time::Duration {
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        pause
    }

    /// A pull succeeded: the next failure pauses `min` again.
    pub fn succeeded(&mut self) {
        self.next = self.min;
    }
}

/// Pulls from `peer` until `stop` turns true.
pub async fn run(state: AppState, peer: ServerCode, mut stop: watch::Receiver<bool>) {
    let Some(ctx) = state.env.clone() else { return };
    let Some(base) = ctx.peer_urls.get(&peer).cloned() else {
        return;
    };
    let s = state.settings.clone();
    let client = peer_http(&state, &peer);
    let url = format!("{base}/api/v1/replication/pull");
    let token = peer_token(ctx.env.secret.expose(), ctx.me.code.as_str());
    let mut backoff = Backoff::new(s.peer_retry_min, s.peer_retry_max);
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
                backoff.succeeded();
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
                    _ = tokio::time::sleep(backoff.failed()) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// The pull client towards `peer`: its connections' bytes, as they travel, go to the peer's
/// link meter (HTTP/2's compressed headers and TLS records counted as sent, not estimated).
fn peer_http(state: &AppState, peer: &ServerCode) -> PeerHttp {
    let (st, p) = (state.clone(), peer.clone());
    PeerHttp::new(
        state.peer_tls.as_deref(),
        state.settings.peer_h2c,
        state.settings.peer_connect_timeout,
        Arc::new(move |bytes_in, bytes_out| {
            super::link_served::record(&st, &p, bytes_in, bytes_out);
        }),
    )
}

fn wire_error(e: WireError) -> PullError {
    match e {
        WireError::Unreachable(w) => PullError::Unreachable(w),
        WireError::TimedOut(t) => PullError::TimedOut(format!("no whole answer within {t:?}")),
        WireError::Refused(w) => PullError::Refused(w),
    }
}

/// One pull's HTTP exchange: sends `body`, reads the answer and inflates gzip here. The bytes
/// are counted by the client's connections as they travel ([`PeerHttp`]).
async fn exchange(
    state: &AppState,
    client: &PeerHttp,
    url: &str,
    token: &str,
    body: &PullRequest,
    wait: std::time::Duration,
) -> Result<(StatusCode, Vec<u8>, std::time::Duration), PullError> {
    let Some(ctx) = &state.env else {
        return Err(PullError::Refused("no environment".into()));
    };
    let s = &state.settings;
    let mut headers = HeaderMap::new();
    let h = |v: &str| header_value(v).map_err(wire_error);
    headers.insert(header::AUTHORIZATION, h(&format!("Bearer {token}"))?);
    headers.insert(SERVER_HEADER, h(ctx.me.code.as_str())?);
    headers.insert(FINGERPRINT_HEADER, h(&ctx.fingerprint)?);
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json = serde_json::to_vec(body).map_err(|e| PullError::Refused(e.to_string()))?;
    let started = Instant::now();
    let (status, answer_headers, wire) = client
        .post(
            url,
            headers,
            json,
            wait + s.peer_request_timeout,
            usize::try_from(MAX_PULL_ANSWER_BYTES).unwrap_or(usize::MAX),
        )
        .await
        .map_err(wire_error)?;
    let took = started.elapsed();
    let gzipped = answer_headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let bytes = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&wire[..])
            .take(MAX_PULL_ANSWER_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| PullError::Refused(format!("garbled gzip: {e}")))?;
        out
    } else {
        wire.to_vec()
    };
    Ok((status, bytes, took))
}

async fn pull_once(
    state: &AppState,
    client: &PeerHttp,
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
    let (status, bytes, took) = exchange(state, client, url, token, &body, wait).await?;
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
    let client = peer_http(state, peer);
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

    /// A link down for a simulated day, failing every attempt after `cost` (a refused or
    /// timed-out connect), then back at a seeded moment: the first attempt after its return
    /// comes within the cap (plus one attempt's cost), and attempts while it was down were
    /// spaced at the cap, not ever further apart.
    #[test]
    fn a_link_back_after_a_day_down_is_retried_within_the_cap() {
        use std::time::Duration;
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(3));
        for (seed, cost) in [(1u64, Duration::ZERO), (2, Duration::from_secs(5))] {
            // Seeded moment of return, within the day's last hour.
            let day = Duration::from_secs(24 * 3600);
            let back_at = day - Duration::from_millis(seed.wrapping_mul(2_654_435_761) % 3_600_000);
            let mut b = Backoff::new(min, max);
            let mut now = Duration::ZERO;
            let mut longest = Duration::ZERO;
            // Attempts fail until one starts after the link is back.
            while now < back_at {
                now += cost;
                let pause = b.failed();
                longest = longest.max(pause);
                now += pause;
            }
            assert_eq!(longest, max, "the pauses grow to the cap and no further");
            assert!(
                now - back_at <= max + cost,
                "seed {seed}: the returned link waited {:?} for its first attempt",
                now - back_at
            );
        }
        // A success resets it: the next failure pauses `min`, as for a fresh link.
        let mut b = Backoff::new(min, max);
        for _ in 0..50 {
            b.failed();
        }
        b.succeeded();
        assert_eq!(b.failed(), min);
        assert_eq!(b.failed(), min * 2);
    }
}

//! An HTTP middlebox on one directed link between two servers, in front of the TCP fault proxy.
//! It passes requests through untouched until told to mistreat them (seeded):
//!
//! - **replay stale**: a pull is answered with an earlier answer of the same link instead of
//!   being forwarded — a delayed duplicate delivery. Every change in it is genuine and one the
//!   puller already had, or had been offered: applying any of them twice would show.
//! - **reorder**: a pull's answer arrives with the head of one origin's run cut off (its later
//!   changes first, beyond a gap; the head comes with a later pull) and with origins
//!   interleaved in another order — what a store-and-forward path can do. The request is
//!   never altered: what the puller claims to hold reaches the peer as it said it.
//! - **duplicate relays**: a relayed write (`?forward=true`, a pending operation's delivery) is
//!   delivered twice at once; the owner must apply it once.
//!
//! Requests are never forged: the middlebox models the network and stores-and-forwards, not a
//! lying server.

use crate::plan::MangleMode;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest body relayed (a pull answer of 1,000 changes is a few MB at most).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Earlier pull answers kept for stale replays.
pub const KEPT_ANSWERS: usize = 8;
/// Share of pulls mistreated while a mode is on.
pub const MANGLE_RATE: f64 = 0.4;
/// Longest a relayed request may take (pulls long-poll for up to their wait).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

const PULL: &str = "/api/v1/replication/pull";
const RELAY: &str = "/api/v1/replication/relay";

/// Counters of what the middlebox did, for the run's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MangleStats {
    /// Requests relayed upstream.
    pub forwarded: u64,
    /// Pulls answered with an earlier answer.
    pub replayed: u64,
    /// Pull answers delivered with a gap or reinterleaved.
    pub reordered: u64,
    /// Relays delivered twice.
    pub duplicated: u64,
    /// Requests that could not reach the upstream (answered 502).
    pub upstream_errors: u64,
}

struct Inner {
    mode: Option<(MangleMode, StdRng)>,
    answers: VecDeque<(HeaderMap, Bytes)>,
    stats: MangleStats,
}

struct Shared {
    upstream: SocketAddr,
    http: reqwest::Client,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running middlebox; dropping it stops it.
pub struct Mangler {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

/// Why the middlebox could not start.
#[derive(Debug, thiserror::Error)]
#[error("middlebox: {0}")]
pub struct MangleError(String);

impl Mangler {
    /// Listens on a free loopback port and relays to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self, MangleError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| MangleError(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| MangleError(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(UPSTREAM_TIMEOUT)
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| MangleError(e.to_string()))?;
        let shared = Arc::new(Shared {
            upstream,
            http,
            inner: Mutex::new(Inner {
                mode: None,
                answers: VecDeque::new(),
                stats: MangleStats::default(),
            }),
        });
        let app = axum::Router::new()
            .fallback(relay)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// Where the puller connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts mistreating requests in `mode`, with a generator seeded by `seed`.
    pub fn set(&self, mode: MangleMode, seed: u64) {
        self.shared.lock().mode = Some((mode, StdRng::seed_from_u64(seed)));
    }

    /// Passes everything through untouched again.
    pub fn clear(&self) {
        self.shared.lock().mode = None;
    }

    /// What it did so far.
    pub fn stats(&self) -> MangleStats {
        self.shared.lock().stats
    }
}

impl Drop for Mangler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What to do with one request.
enum Treatment {
    Pass,
    Replay(HeaderMap, Bytes),
    Reorder(StdRng),
    Twice,
}

fn treatment(shared: &Shared, path: &str) -> Treatment {
    let mut g = shared.lock();
    let Some((mode, rng)) = g.mode.as_mut() else {
        return Treatment::Pass;
    };
    let mode = *mode;
    // Relays are rare, so every one is duplicated while that mode is on; pulls are many.
    if mode != MangleMode::DuplicateRelays && !rng.gen_bool(MANGLE_RATE) {
        return Treatment::Pass;
    }
    match (mode, path) {
        (MangleMode::ReplayStale, PULL) => {
            let n = g.answers.len();
            if n == 0 {
                return Treatment::Pass;
            }
            let i = g.mode.as_mut().map_or(0, |(_, r)| r.gen_range(0..n));
            let (h, b) = g.answers[i].clone();
            g.stats.replayed += 1;
            Treatment::Replay(h, b)
        }
        (MangleMode::Reorder, PULL) => {
            let seed = rng.gen();
            Treatment::Reorder(StdRng::seed_from_u64(seed))
        }
        (MangleMode::DuplicateRelays, RELAY) => {
            g.stats.duplicated += 1;
            Treatment::Twice
        }
        _ => Treatment::Pass,
    }
}

async fn relay(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large for the middlebox",
        )
            .into_response();
    };
    let path = parts.uri.path().to_string();
    let pq = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_string());
    let send = || {
        let mut rb = shared
            .http
            .request(
                parts.method.clone(),
                format!("http://{}{pq}", shared.upstream),
            )
            .body(bytes.clone());
        for (k, v) in &parts.headers {
            if !hop_by_hop(k) {
                rb = rb.header(k, v);
            }
        }
        rb.send()
    };
    let mut reorder_with = None;
    let answer = match treatment(&shared, &path) {
        Treatment::Replay(headers, body) => return build(StatusCode::OK, &headers, body),
        Treatment::Twice => {
            let (a, _b) = futures::join!(send(), send());
            a
        }
        Treatment::Reorder(rng) => {
            reorder_with = Some(rng);
            send().await
        }
        Treatment::Pass => send().await,
    };
    let resp = match answer {
        Ok(r) => r,
        Err(e) => {
            shared.lock().stats.upstream_errors += 1;
            return (StatusCode::BAD_GATEWAY, format!("middlebox: upstream: {e}")).into_response();
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let Ok(mut body) = resp.bytes().await else {
        shared.lock().stats.upstream_errors += 1;
        return (StatusCode::BAD_GATEWAY, "middlebox: upstream body lost").into_response();
    };
    shared.lock().stats.forwarded += 1;
    if path == PULL && status == StatusCode::OK {
        {
            let mut g = shared.lock();
            if g.answers.len() >= KEPT_ANSWERS {
                g.answers.pop_front();
            }
            g.answers.push_back((headers.clone(), body.clone()));
        }
        if let Some(mut rng) = reorder_with {
            if let Some(b) = reorder(&body, &mut rng) {
                shared.lock().stats.reordered += 1;
                body = b;
            }
        }
    }
    build(status, &headers, body)
}

/// The answer with the head of one origin's run removed and the origins reinterleaved (each
/// origin's own changes stay in order); `None` when there is nothing to reorder.
fn reorder(body: &[u8], rng: &mut StdRng) -> Option<Bytes> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let changes = v.get_mut("changes")?.as_array_mut()?;
    if changes.len() < 2 {
        return None;
    }
    let mut runs: std::collections::BTreeMap<String, VecDeque<serde_json::Value>> =
        Default::default();
    for c in changes.drain(..) {
        let origin = c
            .get("origin")
            .and_then(|o| o.as_str())
            .unwrap_or("")
            .to_string();
        runs.entry(origin).or_default().push_back(c);
    }
    // Cut the head off one run of two or more changes.
    let long: Vec<String> = runs
        .iter()
        .filter(|(_, r)| r.len() >= 2)
        .map(|(o, _)| o.clone())
        .collect();
    if let Some(o) = long.get(rng.gen_range(0..long.len().max(1))) {
        if let Some(run) = runs.get_mut(o) {
            let cut = rng.gen_range(1..run.len());
            run.drain(..cut);
        }
    }
    // Interleave the runs in a random order, each run in its own order.
    let mut out = Vec::new();
    loop {
        let live: Vec<String> = runs
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(o, _)| o.clone())
            .collect();
        if live.is_empty() {
            break;
        }
        let o = &live[rng.gen_range(0..live.len())];
        if let Some(c) = runs.get_mut(o).and_then(VecDeque::pop_front) {
            out.push(c);
        }
    }
    *changes = out;
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

fn hop_by_hop(h: &HeaderName) -> bool {
    matches!(
        h.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection" | "keep-alive"
    )
}

fn build(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (k, v) in headers {
        if !hop_by_hop(k) {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reorder_keeps_each_origin_in_order_and_cuts_one_head() {
        let body = json!({"server": "WB", "changes": [
            {"origin": "WB", "seq": 1}, {"origin": "WB", "seq": 2}, {"origin": "WB", "seq": 3},
            {"origin": "PA", "seq": 7}, {"origin": "PA", "seq": 8},
        ]});
        let bytes = serde_json::to_vec(&body).unwrap();
        for seed in 0..50 {
            let out = reorder(&bytes, &mut StdRng::seed_from_u64(seed)).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let changes = v["changes"].as_array().unwrap();
            assert!(changes.len() < 5, "a head was cut");
            for origin in ["WB", "PA"] {
                let seqs: Vec<u64> = changes
                    .iter()
                    .filter(|c| c["origin"] == origin)
                    .map(|c| c["seq"].as_u64().unwrap())
                    .collect();
                assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
                // Only a head is cut: the run still ends where it ended.
                if let Some(last) = seqs.last() {
                    assert_eq!(*last, if origin == "WB" { 3 } else { 8 });
                }
            }
        }
        assert!(reorder(br#"{"changes": []}"#, &mut StdRng::seed_from_u64(1)).is_none());
    }
}

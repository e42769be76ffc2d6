//! Data transfer between the servers of an environment: each server pulls every reachable
//! peer's changes by cursor over HTTP (long-poll), applies them through the store's writer
//! (once each, in each origin's order), and re-serves what it holds so changes travel along
//! chains. Servers prove who they are with a token derived from the environment's secret and
//! refuse peers whose environment file differs.

pub mod auth;
pub mod conflicts;
pub mod endpoint;
pub mod environment_view;
pub mod handover;
pub mod link_meter;
pub mod link_served;
pub mod owner_relay;
pub mod ownership;
pub mod peer_client;
pub mod pending_ops;
pub mod puller;
pub mod queue;
pub mod relay_refused;
pub mod serving;
pub mod timetable;
pub mod wire_count;

use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use innsync_environment::{Environment, ServerEntry};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Most changes one pull answers with.
pub const MAX_PULL_CHANGES: usize = 2_000;
/// Longest a pull may wait for new changes.
pub const MAX_PULL_WAIT_MS: u64 = 30_000;
/// Most pulls one `innsync transfer` makes before it reports.
pub const MAX_TRANSFER_ROUNDS: usize = 10_000;

/// What an operator sees of one peer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PeerStatus {
    /// The peer's code.
    pub code: String,
    /// Its role.
    pub role: String,
    /// Where it is reached.
    pub url: String,
    /// Whether the last pull got an answer.
    pub reachable: bool,
    /// When a pull last succeeded.
    pub last_sync: Option<DateTime<Utc>>,
    /// Changes the peer holds that this server has not applied yet (at the last pull).
    pub behind: u64,
    /// Changes applied from this peer since start.
    pub applied: u64,
    /// The last error, if the last pull failed.
    pub last_error: Option<String>,
    /// When a write forwarded to it last succeeded.
    pub last_forward: Option<DateTime<Utc>>,
    /// The peer's cursor, from its last pull of our changes (a handover waits on it).
    #[serde(skip)]
    pub cursor: BTreeMap<String, u64>,
    /// When the peer last pulled from us.
    #[serde(skip)]
    pub last_pull: Option<std::time::Instant>,
    /// What the link to the peer carries and how it behaves (issue 22).
    #[serde(skip)]
    pub link: link_meter::LinkMeter,
}

/// This server's place in its environment.
#[derive(Debug)]
pub struct EnvContext {
    /// The parsed environment file.
    pub env: Environment,
    /// This server's entry.
    pub me: ServerEntry,
    /// The environment's fingerprint, exchanged with every pull.
    pub fingerprint: String,
    /// Where to reach each peer (the file's URL unless overridden on the command line).
    pub peer_urls: BTreeMap<ServerCode, String>,
    /// Peers as last seen.
    pub peers: Mutex<BTreeMap<ServerCode, PeerStatus>>,
    /// Held while a handover runs here: one at a time.
    pub handover_lock: tokio::sync::Mutex<()>,
    handing_over: std::sync::atomic::AtomicBool,
    /// Bumped to make every pull waiting here answer at once ([`EnvContext::nudge_pulls`]).
    pull_nudge: tokio::sync::watch::Sender<u64>,
}

impl EnvContext {
    /// Builds the context for `me`; `overrides` replace peers' URLs (test proxies, tunnels).
    pub fn new(env: Environment, me: ServerEntry, overrides: BTreeMap<ServerCode, String>) -> Self {
        let fingerprint = env.fingerprint().to_string();
        let mut peer_urls = BTreeMap::new();
        let mut peers = BTreeMap::new();
        for p in env.peers(&me.code) {
            let url = overrides
                .get(&p.code)
                .cloned()
                .unwrap_or_else(|| p.url.as_str().trim_end_matches('/').to_string());
            peer_urls.insert(p.code.clone(), url.clone());
            peers.insert(
                p.code.clone(),
                PeerStatus {
                    code: p.code.to_string(),
                    role: p.role.to_string(),
                    url,
                    ..PeerStatus::default()
                },
            );
        }
        Self {
            env,
            me,
            fingerprint,
            peer_urls,
            peers: Mutex::new(peers),
            handover_lock: tokio::sync::Mutex::new(()),
            handing_over: std::sync::atomic::AtomicBool::new(false),
            pull_nudge: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Makes every pull waiting here (long-poll) answer now, so its caller pulls again at once
    /// and shows its current cursor. A handover needs the target's cursor as it is, and a
    /// target's pull is not woken by the target's own changes (they are never sent back to
    /// it), so the handover asks for it.
    pub fn nudge_pulls(&self) {
        self.pull_nudge.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What a waiting pull watches for [`EnvContext::nudge_pulls`].
    pub fn pull_nudges(&self) -> tokio::sync::watch::Receiver<u64> {
        self.pull_nudge.subscribe()
    }

    /// Marks env writes frozen for a handover (shown as state `handing_over`).
    pub fn set_handing_over(&self, on: bool) {
        self.handing_over
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether a handover has env writes frozen now.
    pub fn is_handing_over(&self) -> bool {
        self.handing_over.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A copy of one peer's status.
    pub fn peer_snapshot(&self, code: &ServerCode) -> PeerStatus {
        self.peers
            .lock()
            .ok()
            .and_then(|p| p.get(code).cloned())
            .unwrap_or_default()
    }

    /// Updates one peer's status.
    pub fn peer(&self, code: &ServerCode, f: impl FnOnce(&mut PeerStatus)) {
        if let Ok(mut p) = self.peers.lock() {
            if let Some(s) = p.get_mut(code) {
                f(s);
            }
        }
    }

    /// Every peer's status.
    pub fn peer_statuses(&self) -> Vec<PeerStatus> {
        self.peers
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The URL of a server (this one's own, or a peer's) for problem documents.
    pub fn url_of(&self, code: &ServerCode) -> Option<String> {
        if *code == self.me.code {
            return Some(self.me.url.as_str().trim_end_matches('/').to_string());
        }
        self.env
            .server(code)
            .map(|s| s.url.as_str().trim_end_matches('/').to_string())
    }
}

//! innsync's HA cluster (DESIGN.md §7): a server run as three nodes that replicate the
//! writer's batches through Raft (openraft), with the SQLite store as the state machine.
//!
//! - A writer request on a node goes to the [`proposer`], which batches requests, stamps the
//!   batch with the leader's time and proposes it; it is answered once a quorum has the entry
//!   and this node applied it ([`state_machine`]), with the same batch code a single server
//!   runs, so every node's store is the same and so is its change log.
//! - The Raft log and vote are durable in their own file ([`log_store`]); RPCs travel over
//!   HTTP between the nodes ([`network`], [`routes`]) with a token derived from the cluster
//!   secret ([`auth`]).
//! - Snapshots are consistent copies of the database file; a node that lags behind the
//!   compacted log, or lost its data directory, is brought back by one.

#![allow(
    clippy::result_large_err,
    reason = "openraft's StorageError, the error its storage traits require, is large"
)]

pub mod auth;
pub mod log_store;
pub mod network;
pub mod proposer;
pub mod routes;
pub mod state_machine;
pub mod types;

use crate::types::{NodeId, Raft};
use innsync_store::{Clock, Replica, Request};
use openraft::{BasicNode, ChangeMembers, ServerState};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The directory inside a node's data directory that holds the Raft log and snapshots.
pub const CLUSTER_DIR: &str = "cluster";

/// Why a cluster node could not start or a membership change failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The Raft log could not be opened.
    #[error("the Raft log: {0}")]
    Log(#[from] rusqlite::Error),
    /// Openraft refused or failed.
    #[error("{0}")]
    Raft(String),
}

/// Every timeout and limit of a cluster node (named settings of `innsync serve`).
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// Shortest time without a leader before a follower starts an election.
    pub election_min: Duration,
    /// Longest such time (the timeout is random in between).
    pub election_max: Duration,
    /// Entries applied since the last snapshot before a new one is built (log compaction).
    pub snapshot_logs: u64,
    /// Entries kept in the log behind a snapshot (so a slightly lagging follower needs none).
    pub keep_logs: u64,
    /// How long connecting to a peer may take.
    pub connect_timeout: Duration,
    /// How long a proposed write may wait for its commit before its outcome is unknown.
    pub write_timeout: Duration,
    /// Most batches proposed and not yet committed.
    pub in_flight: usize,
    /// Most jobs in one entry.
    pub max_batch: usize,
    /// Largest Raft RPC body accepted.
    pub max_rpc_bytes: usize,
    /// A leader that has not heard from a quorum for this long reports itself not ready.
    /// Shorter than `election_min`, so an old leader cut off from the others has stopped
    /// reporting ready before a new one can be elected: never two ready leaders.
    pub ready_quorum_age: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(500),
            election_max: Duration::from_millis(1000),
            snapshot_logs: 5_000,
            keep_logs: 1_000,
            connect_timeout: Duration::from_millis(500),
            write_timeout: Duration::from_secs(5),
            in_flight: 4,
            max_batch: 2_048,
            max_rpc_bytes: 64 * 1024 * 1024,
            ready_quorum_age: Duration::from_millis(400),
        }
    }
}

/// How a node is configured.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's id.
    pub node: NodeId,
    /// Every node's URL as this node reaches it (its own: the URL it is reached at).
    pub peers: BTreeMap<NodeId, String>,
    /// The cluster secret (the environment's secret when there is one).
    pub secret: String,
    /// On first start only: initialise the cluster with `peers` as its voters, unless a peer
    /// says it already belongs to an initialised cluster.
    pub bootstrap: bool,
    /// Timeouts and limits.
    pub settings: ClusterSettings,
    /// TLS to the other nodes (the environment's CA, this node's certificate); `None`: plain
    /// HTTP, as the peers' URLs say.
    pub tls: Option<rustls::ClientConfig>,
}

/// A client for talking to the other nodes: TLS when configured.
pub fn node_client(tls: Option<&rustls::ClientConfig>) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder();
    match tls {
        Some(c) => b.use_preconfigured_tls(c.clone()),
        None => b,
    }
}

/// A running node.
pub struct ClusterNode {
    /// This node's id.
    pub id: NodeId,
    /// The Raft handle.
    pub raft: Raft,
    /// Peers' URLs as this node reaches them.
    pub peers: BTreeMap<NodeId, String>,
    pub(crate) token: String,
    pub(crate) settings: ClusterSettings,
    tls: Option<rustls::ClientConfig>,
    leader: watch::Receiver<bool>,
    fatal: watch::Receiver<Option<String>>,
    store_has_data: bool,
}

/// A node's view of its cluster, for `/readyz`, `innsync cluster status` and operators.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterStatus {
    /// This node.
    pub node: NodeId,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: String,
    /// The current term.
    pub term: u64,
    /// The leader this node knows of.
    pub leader: Option<NodeId>,
    /// The leader's URL as this node reaches it.
    pub leader_url: Option<String>,
    /// The last log index.
    pub last_log_index: Option<u64>,
    /// The last entry applied to the store.
    pub last_applied: Option<u64>,
    /// The last entry covered by a snapshot.
    pub snapshot: Option<u64>,
    /// The voters, with their URLs.
    pub voters: BTreeMap<NodeId, String>,
    /// Non-voting members catching up.
    pub learners: BTreeMap<NodeId, String>,
    /// On the leader: milliseconds since a quorum last acknowledged it.
    pub quorum_ack_ms: Option<u64>,
    /// Whether this node can take writes now (leader with a fresh quorum).
    pub writable: bool,
    /// Why this node stopped, if it did.
    pub stopped: Option<String>,
}

fn role(s: ServerState) -> &'static str {
    match s {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

impl ClusterNode {
    /// Starts the node: opens its Raft log in `data_dir/cluster`, the state machine over
    /// `replica` (the store at `db`), the proposer reading `requests`, and bootstraps the
    /// cluster when asked to and nobody else has.
    #[allow(
        clippy::too_many_lines,
        reason = "the node's start-up in order (log, state machine, network, bootstrap decision); one place to read it"
    )]
    pub async fn start(
        config: ClusterConfig,
        data_dir: &Path,
        db: PathBuf,
        replica: Replica,
        requests: mpsc::Receiver<Request>,
        clock: Clock,
    ) -> Result<Arc<Self>, ClusterError> {
        let s = &config.settings;
        if !config.peers.contains_key(&config.node) {
            return Err(ClusterError::Config(format!(
                "--cluster-peers names no URL for this node ({})",
                config.node
            )));
        }
        if s.ready_quorum_age >= s.election_min || s.election_min <= s.heartbeat {
            return Err(ClusterError::Config(
                "cluster_ready_quorum_age must be shorter than cluster_election_min, and the \
                 heartbeat shorter than both"
                    .into(),
            ));
        }
        if config.secret.len() < 16 {
            return Err(ClusterError::Config(
                "the cluster secret must be at least 16 characters".into(),
            ));
        }
        let dir = data_dir.join(CLUSTER_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| ClusterError::Config(e.to_string()))?;
        let log = log_store::LogStore::open(&dir.join("raft.db"))?;
        let fresh = log.is_empty()?;
        let nonce: u64 = rand::random();
        let waiters = Arc::new(proposer::Waiters::default());
        let sm = state_machine::StateMachine::open(replica, db, dir, waiters.clone(), nonce)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let raft_config = openraft::Config {
            cluster_name: "innsync".into(),
            heartbeat_interval: s.heartbeat.as_millis() as u64,
            election_timeout_min: s.election_min.as_millis() as u64,
            election_timeout_max: s.election_max.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(s.snapshot_logs),
            max_in_snapshot_log_to_keep: s.keep_logs,
            install_snapshot_timeout: 60_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Config(e.to_string()))?;
        // The server code is in the token, so two clusters sharing a secret cannot mix.
        let server = innsync_store::ReadPool::new(sm_db_path(data_dir))
            .with(|c| {
                Ok(
                    c.query_row("SELECT value FROM meta WHERE key = 'server'", [], |r| {
                        r.get::<_, String>(0)
                    })?,
                )
            })
            .map_err(|e| ClusterError::Config(e.to_string()))?;
        let token = auth::cluster_token(&config.secret, &server);
        let net = network::Network::new(
            config.peers.clone(),
            token.clone(),
            s.connect_timeout,
            config.tls.as_ref(),
        );
        let raft = Raft::new(config.node, Arc::new(raft_config), net, log, sm)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        tokio::spawn(proposer::run(
            raft.clone(),
            requests,
            waiters,
            nonce,
            clock,
            proposer::ProposerSettings {
                max_batch: s.max_batch,
                in_flight: s.in_flight,
                write_timeout: s.write_timeout,
            },
        ));
        let (leader_tx, leader) = watch::channel(false);
        let (fatal_tx, fatal) = watch::channel(None);
        let mut metrics = raft.metrics();
        tokio::spawn(async move {
            loop {
                let (is_leader, stopped) = {
                    let m = metrics.borrow_and_update();
                    (
                        m.state == ServerState::Leader,
                        m.running_state.as_ref().err().map(|e| e.to_string()),
                    )
                };
                leader_tx.send_if_modified(|l| std::mem::replace(l, is_leader) != is_leader);
                if let Some(why) = stopped {
                    let _ = leader_tx.send(false);
                    let _ = fatal_tx.send(Some(why));
                    return;
                }
                if metrics.changed().await.is_err() {
                    let _ = fatal_tx.send(Some("the Raft core stopped".into()));
                    return;
                }
            }
        });
        let store_has_data = innsync_store::ReadPool::new(sm_db_path(data_dir))
            .with(|c| {
                Ok(
                    c.query_row("SELECT EXISTS (SELECT 1 FROM records)", [], |r| {
                        r.get::<_, bool>(0)
                    })?,
                )
            })
            .unwrap_or(false);
        let node = Arc::new(Self {
            store_has_data,
            id: config.node,
            raft,
            peers: config.peers.clone(),
            token,
            settings: config.settings.clone(),
            tls: config.tls.clone(),
            leader,
            fatal,
        });
        if config.bootstrap && fresh {
            node.bootstrap().await?;
        }
        Ok(node)
    }

    /// Initialises a new cluster of every peer, unless one of them already belongs to an
    /// initialised cluster (then this node is a wiped member and waits to be caught up).
    async fn bootstrap(&self) -> Result<(), ClusterError> {
        let http = node_client(self.tls.as_ref())
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        for (id, url) in &self.peers {
            if *id == self.id {
                continue;
            }
            let answer = http
                .get(format!("{}/cluster/raft/state", url.trim_end_matches('/')))
                .header(auth::TOKEN_HEADER, &self.token)
                .send()
                .await;
            if let Ok(r) = answer {
                if let Ok(v) = r.json::<serde_json::Value>().await {
                    if v["initialized"] == true {
                        tracing::warn!(peer = id, "a peer already belongs to an initialised cluster: not bootstrapping; waiting to be caught up");
                        return Ok(());
                    }
                }
            }
        }
        let all: BTreeMap<NodeId, BasicNode> = self
            .peers
            .iter()
            .map(|(id, url)| (*id, BasicNode::new(url.trim_end_matches('/'))))
            .collect();
        // A store that already holds data (restored from a backup) is not what the log from
        // its first entry would build: start alone, compact the log into a snapshot, then add
        // the others, so each of them is given that snapshot rather than the bare log.
        let seeded = self.store_has_data;
        let members = if seeded {
            all.iter()
                .filter(|(id, _)| **id == self.id)
                .map(|(id, n)| (*id, n.clone()))
                .collect()
        } else {
            all.clone()
        };
        if seeded {
            tracing::warn!("bootstrapping from a store that holds data: starting alone, then adding the peers through a snapshot");
        }
        let init = self.raft.initialize(members).await;
        if seeded && init.is_ok() {
            let (raft, me) = (self.raft.clone(), self.id);
            let others: Vec<(NodeId, String)> = all
                .into_iter()
                .filter(|(id, _)| *id != me)
                .map(|(id, n)| (id, n.addr))
                .collect();
            tokio::spawn(seed_members(raft, others));
        }
        match init {
            Ok(()) => {
                tracing::info!(voters = ?self.peers.keys().collect::<Vec<_>>(), "cluster initialised");
                Ok(())
            }
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(ClusterError::Raft(e.to_string())),
        }
    }

    /// Whether a request carries this cluster's node token (a call from another node).
    pub fn from_a_node(&self, headers: &axum::http::HeaderMap) -> bool {
        headers
            .get(auth::TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| auth::same(t, &self.token))
    }

    /// The token this node presents to the others (for calls besides Raft's own).
    pub fn node_token(&self) -> &str {
        &self.token
    }

    /// Whether this node is the leader now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Ticks when this node becomes or stops being the leader.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    /// Set when the node stopped for good (a storage failure): the process should exit.
    pub fn stopped(&self) -> watch::Receiver<Option<String>> {
        self.fatal.clone()
    }

    /// The leader's id and its URL as this node reaches it, if a leader is known.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        let url = self.peers.get(&id).cloned().or_else(|| {
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        })?;
        Some((id, url.trim_end_matches('/').to_string()))
    }

    /// Whether this node can take writes now: the leader, heard from by a quorum recently.
    pub fn writable(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        m.state == ServerState::Leader
            && m.running_state.is_ok()
            && m.millis_since_quorum_ack
                .is_some_and(|ms| ms <= self.settings.ready_quorum_age.as_millis() as u64)
    }

    /// Waits until this node, as leader, has applied everything committed before the call:
    /// a read after it sees every write acknowledged before it (a linearizable read).
    pub async fn linearizable(&self) -> Result<(), String> {
        match tokio::time::timeout(self.settings.write_timeout, self.raft.ensure_linearizable())
            .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("not the leader, or it lost its quorum: {e}")),
            Err(_) => Err("the leader could not confirm its quorum in time".into()),
        }
    }

    /// This node's view of the cluster.
    pub fn status(&self) -> ClusterStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut v = BTreeMap::new();
        let mut l = BTreeMap::new();
        for (id, n) in membership.nodes() {
            if voters.contains(id) {
                v.insert(*id, n.addr.clone());
            } else {
                l.insert(*id, n.addr.clone());
            }
        }
        ClusterStatus {
            node: self.id,
            role: role(m.state).into(),
            term: m.current_term,
            leader: m.current_leader,
            leader_url: self.leader().map(|l| l.1),
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            voters: v,
            learners: l,
            quorum_ack_ms: m.millis_since_quorum_ack,
            writable: self.writable(),
            stopped: m.running_state.err().map(|e| e.to_string()),
        }
    }

    /// Adds a node: first as a learner (it receives the log or a snapshot until it has caught
    /// up), then as a voter. Run on the leader.
    pub async fn add(&self, id: NodeId, url: &str) -> Result<ClusterStatus, ClusterError> {
        let url = url.trim_end_matches('/');
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ClusterError::Config(format!(
                "{url:?} is not an http(s) URL"
            )));
        }
        self.raft
            .add_learner(id, BasicNode::new(url), true)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(self.status())
    }

    /// Removes a node from the voters and the membership. Run on the leader.
    pub async fn remove(&self, id: NodeId) -> Result<ClusterStatus, ClusterError> {
        let voters: BTreeSet<NodeId> = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        if !voters.contains(&id) {
            return Err(ClusterError::Config(format!("node {id} is not a voter")));
        }
        if voters.len() <= 1 {
            return Err(ClusterError::Config(
                "the last voter cannot be removed".into(),
            ));
        }
        self.raft
            .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            .await
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        Ok(self.status())
    }

    /// Replaces node `old` with a new node `id` at `url`: add, catch up, then remove.
    pub async fn replace(
        &self,
        old: NodeId,
        id: NodeId,
        url: &str,
    ) -> Result<ClusterStatus, ClusterError> {
        if old == id {
            return Err(ClusterError::Config(
                "the new node needs a new id (a wiped node rejoins by itself)".into(),
            ));
        }
        self.add(id, url).await?;
        self.remove(old).await
    }
}

/// After a bootstrap from a store with data: snapshot and compact the log, then add every peer
/// (learner, caught up by the snapshot, then voter), retrying a peer that is not up yet.
async fn seed_members(raft: Raft, others: Vec<(NodeId, String)>) {
    let _ = raft
        .wait(None)
        .metrics(|m| m.state == ServerState::Leader, "leader")
        .await;
    // Everything applied so far goes into the snapshot; the log before it is then dropped.
    let applied = raft.metrics().borrow().last_applied.map(|a| a.index);
    if raft.trigger().snapshot().await.is_err() {
        return;
    }
    let _ = raft
        .wait(None)
        .metrics(
            |m| m.snapshot.is_some() && m.snapshot.map(|s| s.index) >= applied,
            "snapshot",
        )
        .await;
    let upto = raft
        .metrics()
        .borrow()
        .snapshot
        .map(|s| s.index)
        .unwrap_or(0);
    let _ = raft.trigger().purge_log(upto).await;
    for (id, url) in others {
        loop {
            let added = tokio::time::timeout(
                Duration::from_secs(30),
                raft.add_learner(id, BasicNode::new(url.trim_end_matches('/')), true),
            )
            .await;
            match added {
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    tracing::warn!(node = id, error = %e, "adding a peer failed; retrying")
                }
                Err(_) => tracing::warn!(node = id, "a peer did not catch up in 30 s; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
        {
            Ok(_) => tracing::info!(node = id, "peer added as a voter"),
            Err(e) => tracing::error!(node = id, error = %e, "could not make the peer a voter"),
        }
    }
}

fn sm_db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(innsync_store::DB_FILE)
}

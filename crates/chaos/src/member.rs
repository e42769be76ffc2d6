//! One server of a run's environment, as the nemesis and the checker see it: a single
//! `innsync serve` process, or a cluster of [`CLUSTER_NODES`] processes replicating through Raft
//! behind one address ([`crate::front`]). The workload and the checker address a server by its
//! index and need not know which it is; the nemesis's server faults mean, for a cluster, what a
//! data centre would see: its kill is a kill -9 of the leader node, its pause stops every node.

use crate::front::Front;
use crate::plan::CLUSTER_NODES;
use crate::process::{Liveness, ProcessError, ServerProcess};
use innsync_faultproxy::{Proxy, ProxyHandle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The cluster's own secret between its nodes.
pub const CLUSTER_SECRET: &str = "the chaos harness's cluster secret";
/// Settings every cluster node gets besides the run's: writes that cannot commit fail soon
/// (the client retries), so a partitioned leader does not hold requests past the run's hold.
pub const CLUSTER_SETTINGS: &[&str] = &["cluster_write_timeout=3s"];

/// A server of the run.
pub enum Member {
    /// One process.
    Single(ServerProcess),
    /// A Raft cluster of nodes.
    Cluster(ClusterMember),
}

/// A cluster target: its nodes, the fault proxies between them, and its front.
pub struct ClusterMember {
    /// The nodes, node id `i + 1` at index `i`.
    pub nodes: Vec<ServerProcess>,
    /// `(from, to)` → the proxy node `from` reaches node `to` through.
    links: BTreeMap<(usize, usize), (ProxyHandle, u32)>,
    front: Front,
}

/// What a cluster member is started with.
pub struct ClusterSpec<'a> {
    /// The `innsync` binary.
    pub binary: &'a Path,
    /// The server's code.
    pub code: &'a str,
    /// Where the nodes' data directories go (`node1`, `node2`…).
    pub dir: &'a Path,
    /// The front's listener (its port is the server's address in the environment).
    pub front: tokio::net::TcpListener,
    /// Each node's port.
    pub ports: Vec<u16>,
    /// The arguments every server of the run gets (environment, peers, settings).
    pub args: Vec<String>,
    /// The admin token.
    pub token: &'a str,
    /// The clock skew.
    pub skew_ms: i64,
}

impl ClusterMember {
    /// Starts the nodes (node 1 bootstraps the cluster) behind their link proxies and front.
    pub async fn start(spec: ClusterSpec<'_>) -> Result<Self, ProcessError> {
        debug_assert_eq!(spec.ports.len(), CLUSTER_NODES);
        let io = |source: std::io::Error| ProcessError::Spawn {
            binary: "a cluster link".into(),
            source,
        };
        let mut links = BTreeMap::new();
        for from in 0..CLUSTER_NODES {
            for to in (0..CLUSTER_NODES).filter(|t| *t != from) {
                let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], spec.ports[to]));
                let proxy = Proxy::start("127.0.0.1:0", upstream)
                    .await
                    .map_err(|e| io(std::io::Error::other(e.to_string())))?;
                links.insert((from, to), (proxy, 0));
            }
        }
        let mut nodes = Vec::with_capacity(CLUSTER_NODES);
        for id in 0..CLUSTER_NODES {
            let peers: Vec<String> = (0..CLUSTER_NODES)
                .map(|to| {
                    let port = if to == id {
                        spec.ports[id]
                    } else {
                        links[&(id, to)].0.addr().port()
                    };
                    format!("{}=http://127.0.0.1:{port}", to + 1)
                })
                .collect();
            let mut args = spec.args.clone();
            args.extend([
                "--cluster-node".to_string(),
                (id + 1).to_string(),
                "--cluster-peers".to_string(),
                peers.join(","),
                "--cluster-secret".to_string(),
                CLUSTER_SECRET.to_string(),
            ]);
            for s in CLUSTER_SETTINGS {
                args.extend(["--setting".to_string(), (*s).to_string()]);
            }
            if id == 0 {
                args.push("--cluster-bootstrap".into());
            }
            let dir = spec.dir.join(format!("node{}", id + 1));
            let (binary, code, port, token) = (
                spec.binary.to_path_buf(),
                spec.code.to_string(),
                spec.ports[id],
                spec.token.to_string(),
            );
            let skew = spec.skew_ms;
            let node = tokio::task::spawn_blocking(move || {
                ServerProcess::start(&binary, &code, &dir, port, args, &token, skew)
            })
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))??;
            nodes.push(node);
        }
        let ports = nodes.iter().map(|n| n.port).collect();
        let front = Front::start(spec.front, ports).map_err(io)?;
        Ok(Self {
            nodes,
            links,
            front,
        })
    }

    /// The node the front last saw as the writable leader.
    pub fn leader(&self) -> usize {
        self.front.leader()
    }

    /// Cuts node `node` from the other nodes both ways (counted, like the mesh's cuts).
    pub fn isolate(&mut self, node: usize) {
        for ((a, b), (proxy, cuts)) in &mut self.links {
            if *a == node || *b == node {
                *cuts += 1;
                proxy.cut();
            }
        }
    }

    /// Undoes one isolation of `node`; a link heals when no cut is left on it.
    pub fn rejoin(&mut self, node: usize) {
        for ((a, b), (proxy, cuts)) in &mut self.links {
            if *a == node || *b == node {
                *cuts = cuts.saturating_sub(1);
                if *cuts == 0 {
                    proxy.heal();
                }
            }
        }
    }

    /// Every node link clean.
    pub fn heal_links(&mut self) {
        for (proxy, cuts) in self.links.values_mut() {
            *cuts = 0;
            proxy.heal();
        }
    }
}

impl Member {
    /// The address peers and clients use.
    pub fn base(&self) -> String {
        match self {
            Member::Single(p) => p.base(),
            Member::Cluster(c) => format!("http://127.0.0.1:{}", c.front.port()),
        }
    }

    /// Each node's own address (empty for a single process).
    pub fn node_bases(&self) -> Vec<String> {
        match self {
            Member::Single(_) => Vec::new(),
            Member::Cluster(c) => c.nodes.iter().map(ServerProcess::base).collect(),
        }
    }

    /// Paused if any node is paused, else dead if any node is dead, else running.
    pub fn liveness(&self) -> Liveness {
        match self {
            Member::Single(p) => p.liveness(),
            Member::Cluster(c) => {
                let l: Vec<Liveness> = c.nodes.iter().map(ServerProcess::liveness).collect();
                if l.contains(&Liveness::Paused) {
                    Liveness::Paused
                } else if l.contains(&Liveness::Dead) {
                    Liveness::Dead
                } else {
                    Liveness::Running
                }
            }
        }
    }

    /// kill -9: the process, or the cluster's leader node. Returns what was killed.
    pub fn kill9(&mut self) -> String {
        match self {
            Member::Single(p) => {
                p.kill9();
                "the server".into()
            }
            Member::Cluster(c) => {
                let leader = c.leader();
                c.nodes[leader].kill9();
                format!("leader node {}", leader + 1)
            }
        }
    }

    /// Starts every dead process again, with this clock skew.
    pub fn restart(&mut self, skew_ms: i64) -> Result<(), ProcessError> {
        match self {
            Member::Single(p) => p.restart(skew_ms),
            Member::Cluster(c) => {
                for n in &mut c.nodes {
                    if n.liveness() == Liveness::Dead {
                        n.restart(skew_ms)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// SIGSTOP every process.
    pub fn pause(&mut self) -> Result<(), ProcessError> {
        match self {
            Member::Single(p) => p.pause(),
            Member::Cluster(c) => c.nodes.iter_mut().try_for_each(ServerProcess::pause),
        }
    }

    /// SIGCONT every process.
    pub fn resume(&mut self) -> Result<(), ProcessError> {
        match self {
            Member::Single(p) => p.resume(),
            Member::Cluster(c) => c.nodes.iter_mut().try_for_each(ServerProcess::resume),
        }
    }

    /// The clock skew it runs with.
    pub fn skew_ms(&self) -> i64 {
        match self {
            Member::Single(p) => p.skew_ms,
            Member::Cluster(c) => c.nodes.first().map_or(0, |n| n.skew_ms),
        }
    }

    /// Its data directories: one, or one per node.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        match self {
            Member::Single(p) => vec![p.dir.clone()],
            Member::Cluster(c) => c.nodes.iter().map(|n| n.dir.clone()).collect(),
        }
    }
}

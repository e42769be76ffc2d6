//! The environment a run deploys on 127.0.0.1: an `environment.toml`, one `innsync serve`
//! process per server on its own port and data directory, the mesh of faulty links between
//! them, and the reference data every operation needs.
//!
//! A cluster target (issue 7) is another kind of member here: a server made of nodes, with
//! node-level kills among the faults; the workload and the checker address servers by code
//! and need not change.

use crate::client::Client;
use crate::member::{ClusterMember, ClusterSpec, Member};
use crate::mesh::Mesh;
use crate::plan::{
    role_of, Plan, Role, CLUSTER_NODES, ENV_PROPERTY, ENV_ROOM_TYPE, OWNED_PROPERTY, OWNED_ROOMS,
    OWNED_ROOM_TYPE,
};
use crate::process::{free_port, ServerProcess};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment's shared secret in a run.
pub const SECRET: &str = "the chaos harness's shared secret";
/// The admin token of every server in a run.
pub const ADMIN_TOKEN: &str = "isk_chaos_admin_token_0123456789";
/// How long the servers may take to start and see each other.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Timetable slots written when clock skews are on: one every this many minutes.
pub const TIMETABLE_EVERY_MINUTES: i64 = 2;
/// How many timetable slots the file lists (ahead of the run's start).
pub const TIMETABLE_SLOTS: i64 = 30;

/// Named settings every server of a run gets: short timeouts so faults resolve within a run,
/// and pending operations that keep retrying until the links heal.
pub const SERVER_SETTINGS: &[&str] = &[
    "handover_timeout=5s",
    "handover_silence=3s",
    "peer_retry_min=50ms",
    "peer_retry_max=500ms",
    "peer_request_timeout=4s",
    "pull_wait=2s",
    "pending_poll=100ms",
    "pending_retry_min=100ms",
    "pending_retry_max=1s",
    "pending_max_attempts=100000",
    "timetable_check=1s",
];

/// Why the deployment failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A file or directory.
    #[error("{0}")]
    Io(String),
    /// A process.
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The links.
    #[error(transparent)]
    Mesh(#[from] crate::mesh::MeshError),
    /// Seeding or waiting.
    #[error("{0}")]
    Setup(String),
}

/// The servers of a run and the links between them.
pub struct Deployment {
    /// Server codes, in plan order.
    pub codes: Vec<String>,
    /// The servers (a process or a cluster each), same order.
    pub servers: Vec<Member>,
    /// The links.
    pub mesh: Mesh,
    /// The environment file.
    pub env_file: PathBuf,
    /// The admin client.
    pub client: Client,
    /// Index of the property server that owns [`OWNED_PROPERTY`].
    pub owner: usize,
}

impl Deployment {
    /// Writes the environment, starts every server behind the mesh (`cluster`, if named, as a
    /// cluster of nodes behind its front) and seeds the reference data of `plan`.
    #[allow(
        clippy::too_many_lines,
        reason = "the start reads in order: ports, file, links, each server, seeding"
    )]
    pub async fn start(
        binary: &Path,
        work: &Path,
        codes: &[String],
        plan: &Plan,
        timetable: bool,
        cluster: Option<&str>,
    ) -> Result<Self, DeployError> {
        let io = |e: std::io::Error| DeployError::Io(e.to_string());
        std::fs::create_dir_all(work).map_err(io)?;
        let port = || free_port().ok_or_else(|| DeployError::Setup("no free port".into()));
        let ports: Vec<u16> = codes.iter().map(|_| port()).collect::<Result<_, _>>()?;
        // The cluster's front listens on its server's port from now on, so the links built
        // below find it.
        let mut front = None;
        if let Some(c) = cluster {
            let i = codes
                .iter()
                .position(|s| s == c)
                .ok_or_else(|| DeployError::Setup(format!("the cluster {c} is not a server")))?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", ports[i]))
                .await
                .map_err(io)?;
            let node_ports: Vec<u16> = (0..CLUSTER_NODES)
                .map(|_| port())
                .collect::<Result<_, _>>()?;
            front = Some((i, listener, node_ports));
        }
        let env_file = work.join("environment.toml");
        std::fs::write(&env_file, environment_toml(codes, &ports, timetable)).map_err(io)?;
        let mesh = Mesh::build(&ports).await?;
        let owner = codes
            .iter()
            .position(|c| role_of(c) == Role::Property)
            .ok_or_else(|| DeployError::Setup("no property server".into()))?;
        let mut servers = Vec::with_capacity(codes.len());
        for (i, code) in codes.iter().enumerate() {
            let mut args: Vec<String> = vec![
                "--environment".into(),
                env_file.display().to_string(),
                "--server".into(),
                code.clone(),
            ];
            for (j, peer) in codes.iter().enumerate() {
                if let (true, Some(url)) = (i != j, mesh.url(i, j)) {
                    args.push("--peer-url".into());
                    args.push(format!("{peer}={url}"));
                }
            }
            for s in SERVER_SETTINGS {
                args.push("--setting".into());
                args.push((*s).into());
            }
            let dir = work.join(code);
            let skew = plan.skews.get(code).copied().unwrap_or(0);
            if front.as_ref().is_some_and(|(c, _, _)| *c == i) {
                let Some((_, listener, node_ports)) = front.take() else {
                    continue;
                };
                let c = ClusterMember::start(ClusterSpec {
                    binary,
                    code,
                    dir: &dir,
                    front: listener,
                    ports: node_ports,
                    args,
                    token: ADMIN_TOKEN,
                    skew_ms: skew,
                })
                .await?;
                servers.push(Member::Cluster(c));
                continue;
            }
            let binary = binary.to_path_buf();
            let code = code.clone();
            let port = ports[i];
            let p = tokio::task::spawn_blocking(move || {
                ServerProcess::start(&binary, &code, &dir, port, args, ADMIN_TOKEN, skew)
            })
            .await
            .map_err(|e| DeployError::Setup(e.to_string()))??;
            servers.push(Member::Single(p));
        }
        let client = Client::new(ADMIN_TOKEN).map_err(|e| DeployError::Setup(e.to_string()))?;
        let d = Self {
            codes: codes.to_vec(),
            servers,
            mesh,
            env_file,
            client,
            owner,
        };
        d.seed(plan.env_rooms).await?;
        Ok(d)
    }

    /// The base URL of server `i`.
    pub fn base(&self, i: usize) -> String {
        self.servers[i].base()
    }

    /// POSTs until it succeeds (or exists already), following `not_master` to the master a
    /// timetable handover may have moved the token to, and waiting out handovers.
    async fn post_ok(&self, i: usize, path: &str, body: Value) -> Result<Value, DeployError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut at = i;
        loop {
            let a = self.client.post(&self.base(at), path, &body).await;
            if a.ok() || a.body["code"] == "already_exists" {
                return Ok(a.body);
            }
            if a.body["code"] == "not_master" {
                if let Some(m) = a.body["master"]
                    .as_str()
                    .and_then(|m| self.codes.iter().position(|c| c == m))
                {
                    at = m;
                }
            }
            if Instant::now() > deadline {
                return Err(DeployError::Setup(format!(
                    "{path} on {}: {:?} {}",
                    self.codes[at], a.outcome, a.body
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls every server until `check` holds for all, or fails after `limit`.
    pub async fn until_all(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&Value) -> bool,
        path: &str,
    ) -> Result<(), DeployError> {
        let deadline = Instant::now() + limit;
        loop {
            let mut all = true;
            for i in 0..self.servers.len() {
                let a = self.client.get(&self.base(i), path).await;
                if !a.ok() || !check(&a.body) {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DeployError::Setup(format!("timed out waiting for {what}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn seed(&self, env_rooms: usize) -> Result<(), DeployError> {
        // The admin user is created by the initial master and replicates to the others.
        self.until_all(
            "the admin on every server",
            STARTUP_TIMEOUT,
            |_| true,
            "/api/v1/me",
        )
        .await?;
        self.post_ok(
            0,
            "/api/v1/properties",
            json!({"code": ENV_PROPERTY, "name": "River Camp", "timezone": "UTC", "currency": "ZAR"}),
        )
        .await?;
        self.post_ok(
            0,
            &format!("/api/v1/properties/{ENV_PROPERTY}/room-types"),
            json!({"code": ENV_ROOM_TYPE, "name": "Tent", "max_occupancy": 2}),
        )
        .await?;
        let numbers: Vec<usize> = (1..=env_rooms).collect();
        let rooms_path = format!("/api/v1/properties/{ENV_PROPERTY}/rooms");
        for chunk in numbers.chunks(32) {
            let posts = chunk.iter().map(|n| {
                self.post_ok(
                    0,
                    &rooms_path,
                    json!({"number": n.to_string(), "room_type": ENV_ROOM_TYPE}),
                )
            });
            for r in futures::future::join_all(posts).await {
                r?;
            }
        }
        let o = self.owner;
        self.post_ok(
            o,
            "/api/v1/properties",
            json!({"code": OWNED_PROPERTY, "name": "Kraal Lodge", "timezone": "UTC", "currency": "ZAR"}),
        )
        .await?;
        self.post_ok(
            o,
            &format!("/api/v1/properties/{OWNED_PROPERTY}/room-types"),
            json!({"code": OWNED_ROOM_TYPE, "name": "Deluxe", "max_occupancy": 2}),
        )
        .await?;
        for n in 0..OWNED_ROOMS {
            self.post_ok(
                o,
                &format!("/api/v1/properties/{OWNED_PROPERTY}/rooms"),
                json!({"number": (101 + n).to_string(), "room_type": OWNED_ROOM_TYPE}),
            )
            .await?;
        }
        // Everyone has the reference data before the workload starts.
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !self.digests().await.converged() {
            if Instant::now() > deadline {
                return Err(DeployError::Setup(
                    "timed out waiting for the reference data on every server".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Every server's digest now (empty where it did not answer). A cluster's is its nodes'
    /// digest when every node answers with the same one, and says which differ otherwise: a
    /// cluster whose nodes disagree has not converged.
    pub async fn digests(&self) -> Digests {
        let asks = self.servers.iter().map(|m| async move {
            let bases = match m.node_bases() {
                b if b.is_empty() => vec![m.base()],
                b => b,
            };
            let mut seen = Vec::with_capacity(bases.len());
            for base in &bases {
                let a = self.client.get(base, "/api/v1/digest").await;
                seen.push(a.body["digest"].as_str().unwrap_or_default().to_string());
            }
            if seen.windows(2).all(|w| w[0] == w[1]) {
                seen.swap_remove(0)
            } else if seen.iter().any(String::is_empty) {
                String::new()
            } else {
                format!("nodes differ: {}", seen.join(" | "))
            }
        });
        Digests(futures::future::join_all(asks).await)
    }
}

/// Each server's database digest, in server order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests(pub Vec<String>);

impl Digests {
    /// Whether every server answered and all are equal.
    pub fn converged(&self) -> bool {
        self.0.first().is_some_and(|d| !d.is_empty()) && self.0.windows(2).all(|w| w[0] == w[1])
    }
}

/// The environment file: WB web, `P…` property servers (the first owns KRL), the rest
/// reservation offices; with `timetable`, a slot every [`TIMETABLE_EVERY_MINUTES`] rotating
/// the master among the servers that may be master.
pub fn environment_toml(codes: &[String], ports: &[u16], timetable: bool) -> String {
    let mut s = format!(
        "name = \"chaos\"\nsecret = \"{SECRET}\"\ninitial_master = \"{}\"\n",
        codes[0]
    );
    let mut owner_done = false;
    for (code, port) in codes.iter().zip(ports) {
        let role = role_of(code);
        let _ = write!(
            s,
            "\n[[servers]]\ncode = \"{code}\"\nrole = \"{}\"\nurl = \"http://127.0.0.1:{port}\"\n",
            role.as_str()
        );
        if role == Role::Property && !owner_done {
            let _ = writeln!(s, "properties = [\"{OWNED_PROPERTY}\"]");
            owner_done = true;
        }
    }
    if timetable {
        let eligible: Vec<&String> = codes
            .iter()
            .filter(|c| role_of(c) != Role::Property)
            .collect();
        let now = chrono::Utc::now();
        let mut seen = std::collections::BTreeSet::new();
        for k in 1..=TIMETABLE_SLOTS {
            let t = now + chrono::TimeDelta::minutes(k * TIMETABLE_EVERY_MINUTES);
            let at = t.format("%H:%M").to_string();
            if !seen.insert(at.clone()) {
                continue;
            }
            let master = eligible[(k as usize) % eligible.len()];
            let _ = write!(
                s,
                "\n[[timetable]]\nat = \"{at}\"\ntz = \"UTC\"\nmaster = \"{master}\"\n"
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_file_parses_and_names_the_owner_once() {
        let codes: Vec<String> = ["WB", "RS", "PA", "PB"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = environment_toml(&codes, &[1, 2, 3, 4], true);
        let dir = std::env::temp_dir().join(format!("innsync-chaos-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("environment.toml");
        std::fs::write(&p, &text).unwrap();
        let env =
            innsync_environment::Environment::parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(env.servers.len(), 4);
        assert_eq!(text.matches("properties = ").count(), 1);
        assert!(!env.timetable.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

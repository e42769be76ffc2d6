//! What a run is asked to do: its size, its faults' mix and strength (the command line's
//! knobs, validated against the limits).

use super::{role_of, Role, MAX_CLIENTS, MAX_SERVERS, MAX_STEPS};
use serde::{Deserialize, Serialize};

/// Which fault kinds the nemesis may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultMix {
    /// kill -9 and restart on the same data directory.
    pub kill: bool,
    /// SIGSTOP, then SIGCONT.
    pub pause: bool,
    /// Cut links (one direction, or a server isolated both ways).
    pub partition: bool,
    /// Slow links.
    pub delay: bool,
    /// Connections dropped at random.
    pub drop: bool,
    /// Duplicated and reordered delivery through the HTTP middlebox.
    pub mangle: bool,
    /// Restarts with a skewed clock, and a timetable in the environment file.
    pub skew: bool,
    /// Forced takeovers among the operations.
    pub takeover: bool,
}

impl FaultMix {
    /// Every fault kind.
    pub fn all() -> Self {
        Self {
            kill: true,
            pause: true,
            partition: true,
            delay: true,
            drop: true,
            mangle: true,
            skew: true,
            takeover: true,
        }
    }

    /// No faults at all (a baseline run).
    pub fn none() -> Self {
        Self {
            kill: false,
            pause: false,
            partition: false,
            delay: false,
            drop: false,
            mangle: false,
            skew: false,
            takeover: false,
        }
    }

    /// Parses a comma-separated list (`kill,pause,partition,delay,drop,mangle,skew,takeover`,
    /// or `all`, or `none`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "all" => return Ok(Self::all()),
            "none" => return Ok(Self::none()),
            _ => {}
        }
        let mut m = Self::none();
        for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match k {
                "kill" => m.kill = true,
                "pause" => m.pause = true,
                "partition" => m.partition = true,
                "delay" => m.delay = true,
                "drop" => m.drop = true,
                "mangle" => m.mangle = true,
                "skew" => m.skew = true,
                "takeover" => m.takeover = true,
                other => return Err(format!("unknown fault kind {other:?}; kinds are kill, pause, partition, delay, drop, mangle, skew, takeover, or all / none")),
            }
        }
        Ok(m)
    }

    /// The list form, for the replay command.
    pub fn to_list(&self) -> String {
        let kinds = [
            ("kill", self.kill),
            ("pause", self.pause),
            ("partition", self.partition),
            ("delay", self.delay),
            ("drop", self.drop),
            ("mangle", self.mangle),
            ("skew", self.skew),
            ("takeover", self.takeover),
        ];
        let on: Vec<&str> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        if on.is_empty() {
            "none".into()
        } else if on.len() == kinds.len() {
            "all".into()
        } else {
            on.join(",")
        }
    }
}

/// What shapes a plan besides the seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Knobs {
    /// Operations in total, over every client.
    pub steps: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// The environment's servers: the first is the initial master; codes starting with `P`
    /// are property servers (the first owns [`OWNED_PROPERTY`]); others are reservation
    /// offices, `WB` the web server.
    pub servers: Vec<String>,
    /// Which faults.
    pub faults: FaultMix,
    /// Give the env property only [`CONTENDED_ENV_ROOMS`] rooms, so that offices selling it
    /// while cut off from each other fight over the last ones (with allotments, each sells
    /// only what it was granted).
    pub contended_env: bool,
    /// Mean pause of a client between operations.
    pub think_ms: u64,
    /// Count a night sold beyond its rooms by several authorities together as the pre-allotment
    /// gap (reported, not a violation), as before issue 4; off: every oversold night fails.
    pub lenient_stock: bool,
    /// The server (a code of `servers`) run as a [`CLUSTER_NODES`]-node Raft cluster behind one
    /// address: its kill is a kill -9 of the cluster's leader, and its nodes are partitioned
    /// from each other among the faults. `None`: every server is one process.
    #[serde(default)]
    pub cluster: Option<String>,
}

impl Knobs {
    /// Checks the limits; the error says which.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(format!("steps must be 1 to {MAX_STEPS}"));
        }
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return Err(format!("clients must be 1 to {MAX_CLIENTS}"));
        }
        if self.servers.len() < 2 || self.servers.len() > MAX_SERVERS {
            return Err(format!(
                "an environment here has 2 to {MAX_SERVERS} servers"
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.servers {
            innsync_core::ServerCode::parse(s).map_err(|e| format!("server {s:?}: {e}"))?;
            if !seen.insert(s) {
                return Err(format!("server {s} is listed twice"));
            }
        }
        if role_of(&self.servers[0]) == Role::Property {
            return Err(
                "the first server is the initial master; it cannot be a property server".into(),
            );
        }
        if !self.servers.iter().any(|s| role_of(s) == Role::Property) {
            return Err("list a property server (a code starting with P) to own KRL".into());
        }
        if self.think_ms > 10_000 {
            return Err("think_ms is at most 10000".into());
        }
        if let Some(c) = &self.cluster {
            if !self.servers.contains(c) {
                return Err(format!("the cluster {c} is not one of the servers"));
            }
        }
        Ok(())
    }
}

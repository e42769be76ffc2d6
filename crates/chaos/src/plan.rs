//! The schedule of a run, decided entirely by its seed before anything starts: each client's
//! operations (what, where, after how long) and the nemesis's faults (what, when, for how
//! long), and each server's clock skew. The same seed and configuration always give the same
//! plan, which is what "replay a seed" means: the same operations and faults at the same
//! offsets (the operating system still chooses the exact interleaving of real processes).
//!
//! Adding a kind of operation (as allotment grants were, issue 4) is a variant of [`Action`]
//! with its weight in [`Weights`], its request in `workload.rs` and its check in `check.rs`; adding a
//! kind of fault (a cluster node's death, issue 7) is a variant of [`FaultKind`], drawn in
//! [`plan_faults`] and performed in `nemesis.rs`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most clients a run may have: each is a task with its own connections.
pub const MAX_CLIENTS: usize = 64;
/// Most operations a run may plan.
pub const MAX_STEPS: usize = 1_000_000;
/// Most servers in a run's environment.
pub const MAX_SERVERS: usize = 8;
/// Longest a fault is held before it is undone.
pub const MAX_FAULT_HOLD_MS: u64 = 8_000;
/// Largest clock skew given to a server (either way). Kept well under the run's quiescence
/// timeout: a clock stepped back by a restart delays pending retries by the step (finding 2 in
/// docs/testing.md).
pub const MAX_SKEW_MS: i64 = 30_000;

/// The property whose inventory is owned by the environment (written on the master).
pub const ENV_PROPERTY: &str = "RVC";
/// Its room type.
pub const ENV_ROOM_TYPE: &str = "TNT";
/// The property owned by the first property server (bookings decided only there).
pub const OWNED_PROPERTY: &str = "KRL";
/// Its room type.
pub const OWNED_ROOM_TYPE: &str = "DLX";
/// Rooms of the owned property: few, so the last rooms are fought over.
pub const OWNED_ROOMS: usize = 3;
/// Nodes of a cluster target (see [`Knobs::cluster`]): a Raft majority survives one lost.
pub const CLUSTER_NODES: usize = 3;
/// Rooms of the env property when it is contended (see [`Knobs::contended_env`]).
pub const CONTENDED_ENV_ROOMS: usize = 2;
/// Arrivals are drawn from today to this many days ahead.
pub const ARRIVAL_DAYS: u32 = 6;

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

/// A server's role, from its code (see [`Knobs::servers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// `WB`: the web server.
    Web,
    /// Any other code not starting with `P`.
    Reservation,
    /// Codes starting with `P`.
    Property,
}

impl Role {
    /// Its name in environment.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Web => "web",
            Role::Reservation => "reservation",
            Role::Property => "property",
        }
    }
}

/// The role of a server code in a chaos environment.
pub fn role_of(code: &str) -> Role {
    if code == "WB" {
        Role::Web
    } else if code.starts_with('P') {
        Role::Property
    } else {
        Role::Reservation
    }
}

/// Which property an operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PropertyKind {
    /// [`ENV_PROPERTY`].
    Env,
    /// [`OWNED_PROPERTY`].
    Owned,
}

/// One client operation. `pick` chooses among the bookings this client has been told about
/// (modulo their number), so the plan does not depend on what the servers answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// `POST /api/v1/bookings` with an idempotency key.
    Book {
        /// Which property.
        property: PropertyKind,
        /// Days from today.
        arrival: u32,
        /// Nights.
        nights: u32,
        /// Provisional (held a day) rather than confirmed.
        provisional: bool,
        /// `?forward=true`.
        forward: bool,
    },
    /// Re-sends this client's last booking request with the same idempotency key (a client
    /// retry after a lost answer: must book nothing more).
    RetryLastBooking,
    /// Cancel a known booking.
    Cancel {
        /// Which.
        pick: u32,
        /// `?forward=true`.
        forward: bool,
        /// Send it to the booking's owner as last heard, not to the planned target.
        to_owner: bool,
    },
    /// Confirm a known (provisional) booking.
    Confirm {
        /// Which.
        pick: u32,
        /// As for [`Action::Cancel`].
        to_owner: bool,
    },
    /// Check a known booking in, into a room of its type.
    CheckIn {
        /// Which.
        pick: u32,
        /// Which room (modulo the rooms of the type).
        room: u32,
        /// As for [`Action::Cancel`].
        to_owner: bool,
    },
    /// Check a known booking out.
    CheckOut {
        /// Which.
        pick: u32,
        /// As for [`Action::Cancel`].
        to_owner: bool,
    },
    /// An env write: add a room to the env property (reference data, master only).
    AddRoom,
    /// Ask the server believed to be master to hand over to this server (index).
    Handover {
        /// The target.
        to: usize,
    },
    /// Forced takeover on the target server.
    Takeover,
    /// `POST /api/v1/allotments/grant` on the target: units of its own authority's allotment
    /// given to another server.
    Grant {
        /// Which property.
        property: PropertyKind,
        /// Days from today.
        arrival: u32,
        /// Nights.
        nights: u32,
        /// Units.
        units: u32,
        /// The receiving server (index).
        to: usize,
    },
}

impl Action {
    /// A short name for the history and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Book { .. } => "book",
            Action::RetryLastBooking => "retry_booking",
            Action::Cancel { .. } => "cancel",
            Action::Confirm { .. } => "confirm",
            Action::CheckIn { .. } => "check_in",
            Action::CheckOut { .. } => "check_out",
            Action::AddRoom => "add_room",
            Action::Handover { .. } => "handover",
            Action::Takeover => "takeover",
            Action::Grant { .. } => "grant",
        }
    }
}

/// One planned operation of one client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOp {
    /// Pause before it.
    pub think_ms: u64,
    /// The server it is sent to (index into the servers).
    pub target: usize,
    /// What.
    pub action: Action,
}

/// How the HTTP middlebox mistreats a link's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MangleMode {
    /// Pull answers are sometimes replaced by an earlier answer of the same link (a delayed
    /// duplicate: every change in it is one the puller already has or may already have).
    ReplayStale,
    /// Pull answers sometimes arrive with the head of one origin's run missing, which comes by a
    /// later pull (changes beyond a gap first), and with origins interleaved differently.
    Reorder,
    /// Relayed writes (`?forward=true`, pending operations) are delivered twice, concurrently.
    DuplicateRelays,
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// kill -9 the server; restart it on the same data directory after the hold, with this
    /// clock skew (ms) when skews are on.
    Kill {
        /// Server index.
        server: usize,
        /// The clock skew it restarts with.
        restart_skew_ms: i64,
    },
    /// SIGSTOP the server, SIGCONT after the hold.
    Pause {
        /// Server index.
        server: usize,
    },
    /// Cut every link to and from the server.
    Isolate {
        /// Server index.
        server: usize,
    },
    /// Cut one directed link (`from` pulls from / relays to `to`).
    Cut {
        /// Puller.
        from: usize,
        /// Peer.
        to: usize,
    },
    /// Delay a link.
    Delay {
        /// Puller.
        from: usize,
        /// Peer.
        to: usize,
        /// Per chunk, both ways.
        ms: u64,
    },
    /// Drop new connections of a link at random.
    Drops {
        /// Puller.
        from: usize,
        /// Peer.
        to: usize,
        /// Per cent of connections dropped.
        percent: u8,
    },
    /// Mistreat a link's HTTP messages.
    Mangle {
        /// Puller.
        from: usize,
        /// Peer.
        to: usize,
        /// How.
        mode: MangleMode,
    },
    /// Cut one node of the cluster target from the other nodes, both ways (the environment's
    /// links to the cluster stay up: its front still reaches every node).
    NodeIsolate {
        /// The cluster's server index.
        server: usize,
        /// The node (0-based).
        node: usize,
    },
}

/// One fault at its time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFault {
    /// Milliseconds after the workload starts.
    pub at_ms: u64,
    /// What.
    pub kind: FaultKind,
    /// How long before it is undone.
    pub hold_ms: u64,
    /// Seed for the fault's own randomness (drops, mangling).
    pub seed: u64,
}

/// The whole schedule of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The seed it came from.
    pub seed: u64,
    /// Each client's operations, in order.
    pub clients: Vec<Vec<PlannedOp>>,
    /// The nemesis's faults, by time.
    pub faults: Vec<PlannedFault>,
    /// Each server's clock skew at first start (ms; zero without skews).
    pub skews: BTreeMap<String, i64>,
    /// Rooms of the env property.
    pub env_rooms: usize,
}

/// Relative weights of the operations.
#[derive(Clone, Debug)]
pub struct Weights(Vec<(u32, &'static str)>);

impl Weights {
    fn standard(takeover: bool) -> Self {
        Self(vec![
            (40, "book"),
            (5, "retry_booking"),
            (10, "cancel"),
            (4, "confirm"),
            (8, "check_in"),
            (5, "check_out"),
            (10, "add_room"),
            (3, "handover"),
            (if takeover { 1 } else { 0 }, "takeover"),
            (6, "grant"),
        ])
    }

    fn draw(&self, rng: &mut StdRng) -> &'static str {
        let total: u32 = self.0.iter().map(|w| w.0).sum();
        let mut x = rng.gen_range(0..total);
        for (w, k) in &self.0 {
            if x < *w {
                return k;
            }
            x -= w;
        }
        self.0[0].1
    }
}

/// The plan for `seed` under `knobs` (which must be valid).
#[allow(
    clippy::too_many_lines,
    reason = "one seeded draw after another in a fixed order: splitting would hide the order a seed's plan depends on"
)]
pub fn plan(seed: u64, knobs: &Knobs) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = knobs.servers.len();
    let owner = knobs
        .servers
        .iter()
        .position(|s| role_of(s) == Role::Property)
        .unwrap_or(0);
    let eligible: Vec<usize> = (0..n)
        .filter(|i| role_of(&knobs.servers[*i]) != Role::Property)
        .collect();
    let weights = Weights::standard(knobs.faults.takeover);
    let per_client = knobs.steps.div_ceil(knobs.clients);
    let mut clients = Vec::with_capacity(knobs.clients);
    for c in 0..knobs.clients {
        let mut crng =
            StdRng::seed_from_u64(seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(c as u64 + 1)));
        let count = per_client.min(knobs.steps - (c * per_client).min(knobs.steps));
        let mut ops = Vec::with_capacity(count);
        for _ in 0..count {
            let think_ms = crng.gen_range(0..=knobs.think_ms * 2);
            let target = crng.gen_range(0..n);
            let action = match weights.draw(&mut crng) {
                "book" => {
                    let property = if crng.gen_bool(0.5) {
                        PropertyKind::Owned
                    } else {
                        PropertyKind::Env
                    };
                    Action::Book {
                        property,
                        arrival: crng.gen_range(0..ARRIVAL_DAYS),
                        nights: crng.gen_range(1..=3),
                        provisional: crng.gen_bool(0.15),
                        forward: property == PropertyKind::Owned
                            && target != owner
                            && crng.gen_bool(0.8),
                    }
                }
                "retry_booking" => Action::RetryLastBooking,
                "cancel" => Action::Cancel {
                    pick: crng.gen(),
                    forward: crng.gen_bool(0.7),
                    to_owner: crng.gen_bool(0.6),
                },
                "confirm" => Action::Confirm {
                    pick: crng.gen(),
                    to_owner: crng.gen_bool(0.6),
                },
                "check_in" => Action::CheckIn {
                    pick: crng.gen(),
                    room: crng.gen(),
                    to_owner: crng.gen_bool(0.7),
                },
                "check_out" => Action::CheckOut {
                    pick: crng.gen(),
                    to_owner: crng.gen_bool(0.7),
                },
                "add_room" => Action::AddRoom,
                "handover" => Action::Handover {
                    to: eligible[crng.gen_range(0..eligible.len())],
                },
                "grant" => Action::Grant {
                    property: if crng.gen_bool(0.6) {
                        PropertyKind::Owned
                    } else {
                        PropertyKind::Env
                    },
                    arrival: crng.gen_range(0..ARRIVAL_DAYS),
                    nights: crng.gen_range(1..=3),
                    units: crng.gen_range(1..=2),
                    to: crng.gen_range(0..n),
                },
                _ => Action::Takeover,
            };
            let target = match action {
                Action::Takeover => eligible[crng.gen_range(0..eligible.len())],
                // Most grants of the owned property come from its owner, who holds it all.
                Action::Grant {
                    property: PropertyKind::Owned,
                    ..
                } if crng.gen_bool(0.7) => owner,
                _ => target,
            };
            ops.push(PlannedOp {
                think_ms,
                target,
                action,
            });
        }
        clients.push(ops);
    }
    // The nemesis works over the time the clients are expected to take.
    let expected_ms = (per_client as u64) * (knobs.think_ms + 15);
    let faults = plan_faults(&mut rng, knobs, expected_ms);
    let skews = knobs
        .servers
        .iter()
        .map(|s| {
            let skew = if knobs.faults.skew {
                rng.gen_range(-MAX_SKEW_MS..=MAX_SKEW_MS)
            } else {
                0
            };
            (s.clone(), skew)
        })
        .collect();
    Plan {
        seed,
        clients,
        faults,
        skews,
        env_rooms: if knobs.contended_env {
            CONTENDED_ENV_ROOMS
        } else {
            // More rooms than bookings can ever ask for: the env property cannot run out, so
            // the stock check is about the owned property (see `Knobs::contended_env`).
            knobs.steps + 1
        },
    }
}

/// The nemesis's timeline: a fault every 0.2–1.5 s until `expected_ms`.
fn plan_faults(rng: &mut StdRng, knobs: &Knobs, expected_ms: u64) -> Vec<PlannedFault> {
    let n = knobs.servers.len();
    let f = &knobs.faults;
    let mut kinds: Vec<&str> = Vec::new();
    for (on, k) in [
        (f.kill, "kill"),
        (f.pause, "pause"),
        (f.partition, "isolate"),
        (f.partition, "cut"),
        (f.delay, "delay"),
        (f.drop, "drops"),
        (f.mangle, "mangle"),
    ] {
        if on {
            kinds.push(k);
        }
    }
    let cluster = knobs
        .cluster
        .as_ref()
        .and_then(|c| knobs.servers.iter().position(|s| s == c));
    if cluster.is_some() && f.partition {
        kinds.push("node_isolate");
    }
    let mut out = Vec::new();
    if kinds.is_empty() {
        return out;
    }
    let mut at = rng.gen_range(200..800);
    while at < expected_ms {
        // A cluster target takes half of the server faults (its leader killed, its nodes
        // stopped); without one, the draws are as they always were, so old seeds replay.
        let server = match cluster {
            Some(c) if rng.gen_bool(0.5) => c,
            _ => rng.gen_range(0..n),
        };
        let from = rng.gen_range(0..n);
        let to = (from + rng.gen_range(1..n)) % n;
        let kind = match kinds[rng.gen_range(0..kinds.len())] {
            "kill" => FaultKind::Kill {
                server,
                restart_skew_ms: if f.skew {
                    rng.gen_range(-MAX_SKEW_MS..=MAX_SKEW_MS)
                } else {
                    0
                },
            },
            "pause" => FaultKind::Pause { server },
            "isolate" => FaultKind::Isolate { server },
            "cut" => FaultKind::Cut { from, to },
            "node_isolate" => FaultKind::NodeIsolate {
                server: cluster.unwrap_or(0),
                node: rng.gen_range(0..CLUSTER_NODES),
            },
            "delay" => FaultKind::Delay {
                from,
                to,
                ms: rng.gen_range(5..150),
            },
            "drops" => FaultKind::Drops {
                from,
                to,
                percent: rng.gen_range(10..60),
            },
            _ => FaultKind::Mangle {
                from,
                to,
                mode: match rng.gen_range(0..3) {
                    0 => MangleMode::ReplayStale,
                    1 => MangleMode::Reorder,
                    _ => MangleMode::DuplicateRelays,
                },
            },
        };
        let hold_ms = match kind {
            FaultKind::Pause { .. } => rng.gen_range(200..2_500),
            _ => rng.gen_range(300..MAX_FAULT_HOLD_MS / 2),
        };
        out.push(PlannedFault {
            at_ms: at,
            kind,
            hold_ms,
            seed: rng.gen(),
        });
        at += rng.gen_range(200..1_500);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs() -> Knobs {
        Knobs {
            steps: 200,
            clients: 4,
            servers: vec!["WB".into(), "RS".into(), "PA".into()],
            faults: FaultMix::all(),
            contended_env: false,
            think_ms: 60,
            lenient_stock: false,
            cluster: None,
        }
    }

    #[test]
    fn a_cluster_target_adds_node_partitions_and_leaves_other_plans_alone() {
        let k = knobs();
        let with = Knobs {
            cluster: Some("WB".into()),
            ..knobs()
        };
        assert!(with.validate().is_ok());
        let p = plan(11, &with);
        assert!(p.faults.iter().any(|f| matches!(
            f.kind,
            FaultKind::NodeIsolate { server: 0, node } if node < CLUSTER_NODES
        )));
        assert!(!plan(11, &k)
            .faults
            .iter()
            .any(|f| matches!(f.kind, FaultKind::NodeIsolate { .. })));
        let bad = Knobs {
            cluster: Some("RA".into()),
            ..knobs()
        };
        assert!(bad.validate().unwrap_err().contains("RA"));
    }

    #[test]
    fn a_seed_always_gives_the_same_plan_and_seeds_differ() {
        let k = knobs();
        assert_eq!(plan(7, &k), plan(7, &k));
        assert_ne!(plan(7, &k), plan(8, &k));
        let p = plan(7, &k);
        assert_eq!(p.clients.iter().map(Vec::len).sum::<usize>(), 200);
        assert!(!p.faults.is_empty());
        assert!(p.faults.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        // Takeovers only on servers that may be master; forwarding only off the owner.
        for op in p.clients.iter().flatten() {
            match op.action {
                Action::Takeover => assert_ne!(op.target, 2),
                Action::Handover { to } => assert_ne!(to, 2),
                Action::Book { forward: true, .. } => assert_ne!(op.target, 2),
                _ => {}
            }
        }
    }

    #[test]
    fn fault_mixes_parse_and_print_back() {
        assert_eq!(FaultMix::parse("all").unwrap(), FaultMix::all());
        let m = FaultMix::parse("kill,mangle").unwrap();
        assert!(m.kill && m.mangle && !m.pause);
        assert_eq!(m.to_list(), "kill,mangle");
        assert_eq!(
            FaultMix::parse(&FaultMix::all().to_list()).unwrap(),
            FaultMix::all()
        );
        assert!(FaultMix::parse("kill,fire").unwrap_err().contains("fire"));
        let none = plan(
            1,
            &Knobs {
                faults: FaultMix::none(),
                ..knobs()
            },
        );
        assert!(none.faults.is_empty());
        assert!(none.skews.values().all(|s| *s == 0));
    }

    #[test]
    fn bad_knobs_are_refused_with_the_reason() {
        let bad = |f: &dyn Fn(&mut Knobs)| {
            let mut k = knobs();
            f(&mut k);
            k.validate().unwrap_err()
        };
        assert!(bad(&|k| k.steps = 0).contains("steps"));
        assert!(bad(&|k| k.clients = 0).contains("clients"));
        assert!(bad(&|k| k.servers = vec!["WB".into()]).contains("2 to"));
        assert!(bad(&|k| k.servers = vec!["PA".into(), "WB".into()]).contains("initial master"));
        assert!(bad(&|k| k.servers = vec!["WB".into(), "RS".into()]).contains("property server"));
        assert!(
            bad(&|k| k.servers = vec!["WB".into(), "WB".into(), "PA".into()]).contains("twice")
        );
        assert!(knobs().validate().is_ok());
    }
}

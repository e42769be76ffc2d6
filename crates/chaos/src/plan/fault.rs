//! The nemesis's faults: what, when, for how long, drawn from the seed.
//!
//! A new kind of fault is a variant of [`FaultKind`] drawn in [`plan_faults`].

use super::{Knobs, CLUSTER_NODES, MAX_FAULT_HOLD_MS, MAX_SKEW_MS};
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

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

/// The nemesis's timeline: a fault every 0.2–1.5 s until `expected_ms`.
pub(super) fn plan_faults(rng: &mut StdRng, knobs: &Knobs, expected_ms: u64) -> Vec<PlannedFault> {
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

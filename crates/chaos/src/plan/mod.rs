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

mod action;
mod fault;
mod knobs;
mod servers;
#[cfg(test)]
mod tests;

pub use action::{Action, Weights};
pub use fault::{FaultKind, MangleMode, PlannedFault};
pub use knobs::{FaultMix, Knobs};
pub use servers::{role_of, PropertyKind, Role};

use fault::plan_faults;

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

//! Which node (ICP) hosts which room, and each room's record in the system's database. A gateway
//! spreads rooms over several nodes; General Reset messages are routed to the node hosting the room.

use std::collections::{BTreeMap, HashMap};

use thiserror::Error;

use crate::room::{Extension, ExtensionError, GuestName, MaidStatus};

/// Index of a node (ICP) in the cluster, from 0.
pub type NodeId = usize;

/// What the system knows about one room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomRecord {
    /// A guest is checked in.
    pub occupied: bool,
    /// The name shown on the room's phone.
    pub name: Option<GuestName>,
    /// The message-waiting lamp is lit.
    pub message_waiting: bool,
    /// The last maid status set on the phone.
    pub maid_status: Option<MaidStatus>,
}

/// Which rooms exist and where they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomPlan {
    /// Every valid extension is a room, created on first use (up to `max_rooms`) on the node
    /// chosen by a stable hash: convenient for integrators who do not want to list rooms.
    Any,
    /// Only these rooms exist, each on its node; anything else is refused as unknown.
    Listed(Vec<(Extension, NodeId)>),
}

/// Why a plan is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// A room names a node that does not exist.
    #[error("room {extension} is on node {node}, but there are only {nodes} nodes")]
    NoSuchNode {
        /// The room.
        extension: Extension,
        /// The node asked for.
        node: NodeId,
        /// Nodes configured.
        nodes: usize,
    },
    /// The same room is listed twice.
    #[error("room {0} is listed twice")]
    Duplicate(Extension),
    /// More rooms than `max_rooms`.
    #[error("{count} rooms is more than the limit {max}")]
    TooManyRooms {
        /// Rooms listed.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// A room's extension is wider than the configured field.
    #[error("room {extension} is wider than the extension width {width}")]
    TooWide {
        /// The room.
        extension: Extension,
        /// The width.
        width: usize,
    },
    /// No nodes, or more than `max_nodes`.
    #[error("node count {count} must be 1..={max}")]
    NodeCount {
        /// Nodes asked for.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// A generated extension is invalid.
    #[error(transparent)]
    Extension(#[from] ExtensionError),
}

impl RoomPlan {
    /// Rooms `first`, `first+1`, … (`count` of them) spread round-robin over `nodes` nodes: the
    /// usual way to describe a test property.
    pub fn numbered(first: u32, count: u32, nodes: usize) -> Result<RoomPlan, PlanError> {
        let nodes = nodes.max(1);
        let mut rooms = Vec::with_capacity(count as usize);
        for i in 0..count {
            let number = first.saturating_add(i);
            rooms.push((Extension::new(&number.to_string())?, i as usize % nodes));
        }
        Ok(RoomPlan::Listed(rooms))
    }
}

/// The cluster's rooms: routing plus each node's database.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    any: bool,
    max_rooms: usize,
    routes: HashMap<Extension, NodeId>,
    pub(crate) nodes: Vec<BTreeMap<Extension, RoomRecord>>,
}

impl Directory {
    pub(crate) fn new(
        plan: RoomPlan,
        nodes: usize,
        max_rooms: usize,
        width: usize,
    ) -> Result<Self, PlanError> {
        let mut dir = Directory {
            any: matches!(plan, RoomPlan::Any),
            max_rooms,
            routes: HashMap::new(),
            nodes: vec![BTreeMap::new(); nodes],
        };
        if let RoomPlan::Listed(rooms) = plan {
            if rooms.len() > max_rooms {
                return Err(PlanError::TooManyRooms {
                    count: rooms.len(),
                    max: max_rooms,
                });
            }
            for (extension, node) in rooms {
                if node >= nodes {
                    return Err(PlanError::NoSuchNode {
                        extension,
                        node,
                        nodes,
                    });
                }
                if extension.as_str().len() > width {
                    return Err(PlanError::TooWide { extension, width });
                }
                if dir.routes.insert(extension.clone(), node).is_some() {
                    return Err(PlanError::Duplicate(extension));
                }
                dir.nodes[node].insert(extension, RoomRecord::default());
            }
        }
        Ok(dir)
    }

    /// The node hosting `extension`, creating the room under `RoomPlan::Any` if there is space.
    pub(crate) fn ensure(&mut self, extension: &Extension) -> Option<NodeId> {
        if let Some(&node) = self.routes.get(extension) {
            return Some(node);
        }
        if !self.any || self.routes.len() >= self.max_rooms {
            return None;
        }
        let node = stable_hash(extension.as_str()) as usize % self.nodes.len().max(1);
        self.routes.insert(extension.clone(), node);
        self.nodes
            .get_mut(node)?
            .insert(extension.clone(), RoomRecord::default());
        debug_assert!(self.routes.len() <= self.max_rooms);
        Some(node)
    }

    /// The record of an existing room.
    pub(crate) fn get(&self, extension: &Extension) -> Option<&RoomRecord> {
        let node = *self.routes.get(extension)?;
        self.nodes.get(node)?.get(extension)
    }

    /// The record of a room, creating it when the plan allows.
    pub(crate) fn get_mut(&mut self, extension: &Extension) -> Option<&mut RoomRecord> {
        let node = self.ensure(extension)?;
        self.nodes.get_mut(node)?.get_mut(extension)
    }

    pub(crate) fn node_of(&self, extension: &Extension) -> Option<NodeId> {
        self.routes.get(extension).copied()
    }
}

/// FNV-1a: stable across runs and platforms, unlike `std`'s randomised hasher.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

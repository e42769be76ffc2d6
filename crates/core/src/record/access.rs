//! Who may write: users and their roles, the master token and the fence of a forced takeover.
//!
//! Apart from the hotel's data because these records decide authority, not stock.

use super::Meta;
use crate::ids::ServerCode;
use serde::{Deserialize, Serialize};

/// What a user may do. Roles add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including reference data, users and the environment.
    Admin,
    /// Bookings and rates.
    Reservations,
    /// Bookings, check-in/out and rooms.
    FrontDesk,
    /// Reads only.
    ReadOnly,
}

/// A person who logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Identity.
    #[serde(flatten)]
    pub meta: Meta,
    /// Login name, unique in the environment.
    pub username: String,
    /// argon2 PHC string; never the password.
    pub password_hash: String,
    /// What the user may do.
    pub roles: Vec<Role>,
    /// Servers the user may log in on; empty means every server.
    pub servers: Vec<ServerCode>,
    /// A disabled user cannot log in or use tokens.
    pub disabled: bool,
}

/// Who holds the master token, at which epoch: the one record that says which server may write
/// env-owned data. Its version is its epoch, so a newer grant always wins over an older one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterToken {
    /// Identity (version = epoch).
    #[serde(flatten)]
    pub meta: Meta,
    /// The master from this epoch on.
    pub server: ServerCode,
    /// The epoch; only ever grows.
    pub epoch: u64,
    /// The server that granted it (the previous master, or the taker in a forced takeover).
    pub granted_by: ServerCode,
    /// Why (handover, timetable, forced takeover and its reason).
    pub reason: String,
    /// Set by a forced takeover: the old master's env writes beyond this point are not
    /// legitimate and go to conflicts wherever they arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<Fence>,
}

/// The line a forced takeover draws under the old master's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The old master.
    pub server: ServerCode,
    /// Its epoch.
    pub epoch: u64,
    /// The last of its changes the new master had; env writes after it are fenced.
    pub seq: u64,
}

//! Who the servers of a run are: each server's role and the kind of property it sells.
//!
//! Decided from the server's code alone, so a plan names servers without a deployment.

use serde::{Deserialize, Serialize};

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

//! The operations a client can plan and how often each is drawn.
//!
//! A new kind of operation is a variant here with its weight in [`Weights`].

use super::PropertyKind;
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

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

/// Relative weights of the operations.
#[derive(Clone, Debug)]
pub struct Weights(Vec<(u32, &'static str)>);

impl Weights {
    pub(super) fn standard(takeover: bool) -> Self {
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

    pub(super) fn draw(&self, rng: &mut StdRng) -> &'static str {
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

//! Partial replication: a property server configured with `receive = "own"` takes only what it
//! needs from its peers, so a lodge on a thin link does not download every other lodge's
//! bookings.

use super::Receive;
use crate::config::Environment;
use innsync_core::{Authority, RecordKind, ServerCode};

/// Whether a record is for `server` under partial replication.
///
/// With [`Receive::All`] (the default), or for a server the file does not list: always.
/// With [`Receive::Own`]:
/// - shared reference data, always: users, the master token and every property record (a
///   property is small and bookings elsewhere name it);
/// - room types, rooms, rate plans, bookings and allotment grants: when their `property` is one
///   of the server's own properties;
/// - guests and notes, which name no property: when `referenced_by_own_booking` — the caller
///   knows whether a guest is the guest of one of the server's own properties' bookings, or a
///   note is about one of them;
/// - and any record the server owns itself (it wrote it; it never loses its own records).
///
/// Operations addressed to the server by a distribution rule are not replication and are not
/// filtered by this.
pub fn receives(
    env: &Environment,
    server: &ServerCode,
    kind: RecordKind,
    record: &serde_json::Value,
    referenced_by_own_booking: bool,
) -> bool {
    let Some(entry) = env.server(server) else {
        return true;
    };
    if entry.receive == Receive::All {
        return true;
    }
    let owned_here = record
        .get("owner")
        .and_then(|o| o.as_str())
        .and_then(|o| Authority::parse(o).ok())
        == Some(Authority::Server(server.clone()));
    if owned_here {
        return true;
    }
    match kind {
        // A deletion travels to everyone: where the record never arrived it only keeps an
        // older version from ever arriving.
        RecordKind::User
        | RecordKind::MasterToken
        | RecordKind::Property
        | RecordKind::Agent
        | RecordKind::Tombstone => true,
        RecordKind::Guest | RecordKind::Note => referenced_by_own_booking,
        RecordKind::RoomType
        | RecordKind::Room
        | RecordKind::RatePlan
        | RecordKind::PricingPlan
        | RecordKind::Booking
        | RecordKind::AllotmentGrant
        // The ledger goes with its property, like the bookings it belongs to.
        | RecordKind::FolioEntry
        | RecordKind::ChargeCatalog
        | RecordKind::Invoice
        | RecordKind::BusinessDay => record
            .get("property")
            .and_then(|p| p.as_str())
            .is_some_and(|p| entry.properties.iter().any(|own| own == p)),
    }
}

//! What the PMS link must tell the hotel's other systems when a booking changes: which room
//! became occupied (and by whom) and which became vacant. A pure diff of two booking versions,
//! so check-in, room move and check-out are derived in one place.

use crate::record::{Booking, BookingStatus};
use serde::{Deserialize, Serialize};

/// A room's occupancy changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// Property code.
    pub property: String,
    /// Room number.
    pub room: String,
    /// Whether a guest is now in the room.
    pub occupied: bool,
    /// The guest's name when occupied.
    pub guest_name: Option<String>,
    /// The booking whose guest moved in or out (FIAS sends it as the reservation number).
    pub booking: String,
}

/// The room a booking's guest is in, if checked in.
fn in_house_room(b: &Booking) -> Option<&str> {
    (b.status == BookingStatus::CheckedIn)
        .then(|| b.stays.last().map(|s| s.room.as_str()))
        .flatten()
}

/// The occupancy changes between two versions of a booking, vacating before occupying (a room
/// move is "out of the old room, into the new").
pub fn room_events(old: Option<&Booking>, new: &Booking) -> Vec<RoomEvent> {
    let before = old.and_then(in_house_room);
    let after = in_house_room(new);
    let mut out = Vec::new();
    if before == after {
        return out;
    }
    if let Some(room) = before {
        out.push(RoomEvent {
            property: new.property.clone(),
            room: room.to_string(),
            occupied: false,
            guest_name: None,
            booking: new.meta.id.to_string(),
        });
    }
    if let Some(room) = after {
        out.push(RoomEvent {
            property: new.property.clone(),
            room: room.to_string(),
            occupied: true,
            guest_name: Some(new.guest_name.clone()),
            booking: new.meta.id.to_string(),
        });
    }
    out
}

/// Housekeeping states a room can be in, in the order of the PMS maid-status codes 1–6.
pub const HOUSEKEEPING: [&str; 6] = [
    "dirty",
    "cleaning",
    "clean",
    "inspected",
    "out_of_order",
    "out_of_service",
];

/// The housekeeping name of a PMS maid-status code (1–6).
pub fn housekeeping_of_code(code: u8) -> Option<&'static str> {
    HOUSEKEEPING.get(usize::from(code).checked_sub(1)?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Authority, RecordId, ServerCode};
    use crate::record::{Meta, Stay};

    fn b(status: BookingStatus, rooms: &[&str]) -> Booking {
        let wb = ServerCode::parse("WB").unwrap();
        let d = |s: &str| s.parse().unwrap();
        Booking {
            meta: Meta::new(RecordId::new(&wb, 1), Authority::Env, 1),
            property: "KRL".into(),
            room_type: "DLX".into(),
            arrival: d("2026-12-01"),
            departure: d("2026-12-05"),
            units: 1,
            guest_id: RecordId::new(&wb, 2),
            guest_name: "Ann".into(),
            reservation_number: None,
            status,
            hold_until: None,
            holder: Authority::Env,
            stays: rooms
                .iter()
                .map(|r| Stay {
                    room: r.to_string(),
                    from: d("2026-12-01"),
                    to: d("2026-12-05"),
                })
                .collect(),
            price: None,
            pricing: None,
            notes: None,
            reservation: None,
            agent: None,
            cancel_reason: None,
            created_on: wb,
            created_at: "2026-11-23T00:00:00Z".parse().unwrap(),
            updated_at: "2026-11-23T00:00:00Z".parse().unwrap(),
        }
    }

    fn ev(room: &str, occupied: bool) -> RoomEvent {
        RoomEvent {
            property: "KRL".into(),
            room: room.into(),
            occupied,
            guest_name: occupied.then(|| "Ann".to_string()),
            booking: "WB-000001".into(),
        }
    }

    #[test]
    fn check_in_move_and_check_out() {
        use BookingStatus::*;
        let assigned = b(Confirmed, &["101"]);
        assert_eq!(room_events(None, &assigned), vec![]);
        let inn = b(CheckedIn, &["101"]);
        assert_eq!(room_events(Some(&assigned), &inn), vec![ev("101", true)]);
        let moved = b(CheckedIn, &["101", "102"]);
        assert_eq!(
            room_events(Some(&inn), &moved),
            vec![ev("101", false), ev("102", true)]
        );
        let out = b(CheckedOut, &["101", "102"]);
        assert_eq!(room_events(Some(&moved), &out), vec![ev("102", false)]);
        assert_eq!(room_events(Some(&out), &out), vec![]);
    }

    #[test]
    fn maid_status_codes() {
        assert_eq!(housekeeping_of_code(3), Some("clean"));
        assert_eq!(housekeeping_of_code(0), None);
        assert_eq!(housekeeping_of_code(7), None);
    }
}

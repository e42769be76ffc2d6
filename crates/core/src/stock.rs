//! Stock: for every (property, room type, night), the units held by live bookings never exceed
//! the rooms in service. This module is the one place that rule is written down; the store and
//! the in-memory model both keep their derived counters with the deltas computed here.

use crate::dates::Nights;
use crate::ids::{Authority, RecordId};
use crate::record::{Booking, Room};
use chrono::NaiveDate;

/// The stock of one room type on one night.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NightStock {
    /// The night.
    pub night: NaiveDate,
    /// Rooms of the type that exist and are not out of order.
    pub in_service: u32,
    /// Units held by provisional, confirmed and checked-in bookings.
    pub sold: u32,
}

impl NightStock {
    /// Units still free.
    pub fn free(&self) -> u32 {
        self.in_service.saturating_sub(self.sold)
    }
}

/// The first night that cannot take `units` more units.
pub fn first_short_night(nights: &[NightStock], units: u32) -> Option<NightStock> {
    nights
        .iter()
        .find(|n| u64::from(n.sold) + u64::from(units) > u64::from(n.in_service))
        .copied()
}

/// A change of the sold counter of one (property, room type, holder, night).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SoldDelta {
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// Whose allotment the units come from.
    pub holder: Authority,
    /// The night.
    pub night: NaiveDate,
    /// Units added (positive) or returned (negative).
    pub delta: i64,
}

fn held(b: &Booking) -> Option<(Nights, u32)> {
    b.status.holds_stock().then(|| (b.nights(), b.units))
}

/// How the sold counters change when a booking goes from `old` to `new`.
pub fn sold_deltas(old: Option<&Booking>, new: &Booking) -> Vec<SoldDelta> {
    let mut out: Vec<SoldDelta> = Vec::new();
    let mut add = |b: &Booking, sign: i64| {
        if let Some((nights, units)) = held(b) {
            for night in nights.iter() {
                out.push(SoldDelta {
                    property: b.property.clone(),
                    room_type: b.room_type.clone(),
                    holder: b.holder.clone(),
                    night,
                    delta: sign * i64::from(units),
                });
            }
        }
    };
    if let Some(o) = old {
        add(o, -1);
    }
    add(new, 1);
    net(out, |d| &mut d.delta)
}

/// The (room, night) pairs a booking occupies: only live bookings occupy rooms.
pub fn room_nights(b: &Booking) -> Vec<(String, NaiveDate)> {
    if !b.status.holds_stock() {
        return Vec::new();
    }
    b.stays
        .iter()
        .flat_map(|s| {
            let from = s.from.max(b.arrival);
            let to = s.to.min(b.departure);
            let n = (to - from).num_days().max(0);
            (0..n).map(move |i| (s.room.clone(), from + chrono::Days::new(i as u64)))
        })
        .collect()
}

/// A change of the rooms-in-service counters of one room type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceDelta {
    /// The room type gained or lost a room on every night.
    Capacity {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// Rooms added or removed.
        delta: i64,
    },
    /// A room went out of order (positive) or came back (negative) on one night.
    OutOfOrder {
        /// Property code.
        property: String,
        /// Room type code.
        room_type: String,
        /// The night.
        night: NaiveDate,
        /// Rooms out of order added or removed.
        delta: i64,
    },
}

/// How rooms in service change when a room goes from `old` to `new`.
pub fn service_deltas(old: Option<&Room>, new: &Room) -> Vec<ServiceDelta> {
    let mut out = Vec::new();
    let mut nights: Vec<(String, String, NaiveDate, i64)> = Vec::new();
    let mut add = |r: &Room, sign: i64, out: &mut Vec<ServiceDelta>| {
        out.push(ServiceDelta::Capacity {
            property: r.property.clone(),
            room_type: r.room_type.clone(),
            delta: sign,
        });
        // Overlapping periods of one room count once per night.
        let mut seen = std::collections::BTreeSet::new();
        for o in &r.out_of_order {
            for n in o.nights().iter() {
                if seen.insert(n) {
                    nights.push((r.property.clone(), r.room_type.clone(), n, sign));
                }
            }
        }
    };
    if let Some(o) = old {
        add(o, -1, &mut out);
    }
    add(new, 1, &mut out);
    let mut capacity = net(
        out.into_iter()
            .map(|d| match d {
                ServiceDelta::Capacity {
                    property,
                    room_type,
                    delta,
                } => (property, room_type, delta),
                ServiceDelta::OutOfOrder { .. } => unreachable!("only capacity pushed here"),
            })
            .collect(),
        |t| &mut t.2,
    )
    .into_iter()
    .map(|(property, room_type, delta)| ServiceDelta::Capacity {
        property,
        room_type,
        delta,
    })
    .collect::<Vec<_>>();
    capacity.extend(net(nights, |t| &mut t.3).into_iter().map(
        |(property, room_type, night, delta)| ServiceDelta::OutOfOrder {
            property,
            room_type,
            night,
            delta,
        },
    ));
    capacity
}

/// Sums entries that differ only in their delta and drops those that net to zero.
fn net<T: Ord + Clone>(mut items: Vec<T>, delta: impl Fn(&mut T) -> &mut i64) -> Vec<T> {
    let key = |t: &T, delta: &dyn Fn(&mut T) -> &mut i64| {
        let mut k = t.clone();
        *delta(&mut k) = 0;
        k
    };
    items.sort_by_key(|t| key(t, &delta));
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for mut item in items {
        let d = *delta(&mut item);
        match out.last_mut() {
            Some(last) if key(last, &delta) == key(&item, &delta) => *delta(last) += d,
            _ => out.push(item),
        }
    }
    out.retain_mut(|t| *delta(t) != 0);
    out
}

/// A booking and the nights it occupies in one room: who is in the way of an assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupancy {
    /// The night.
    pub night: NaiveDate,
    /// The booking occupying the room that night.
    pub booking: RecordId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServerCode;
    use crate::record::{BookingStatus, Meta, OutOfOrder, Stay};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn booking(status: BookingStatus, units: u32) -> Booking {
        let wb = ServerCode::parse("WB").unwrap();
        Booking {
            meta: Meta::new(RecordId::new(&wb, 1), Authority::Env, 1),
            property: "KRL".into(),
            room_type: "DLX".into(),
            arrival: d("2026-12-01"),
            departure: d("2026-12-03"),
            units,
            guest_id: RecordId::new(&wb, 2),
            guest_name: "A".into(),
            reservation_number: None,
            status,
            hold_until: None,
            holder: Authority::Env,
            stays: vec![],
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

    #[test]
    fn a_new_booking_takes_each_night_and_a_cancel_returns_them() {
        let b = booking(BookingStatus::Confirmed, 2);
        let taken = sold_deltas(None, &b);
        assert_eq!(taken.len(), 2);
        assert!(taken.iter().all(|t| t.delta == 2));
        let mut c = b.clone();
        c.status = BookingStatus::Cancelled;
        let back = sold_deltas(Some(&b), &c);
        assert_eq!(
            back.iter().map(|t| t.delta).collect::<Vec<_>>(),
            vec![-2, -2]
        );
    }

    #[test]
    fn an_early_departure_returns_only_the_unused_nights() {
        let b = booking(BookingStatus::CheckedIn, 1);
        let mut out = b.clone();
        out.status = BookingStatus::CheckedOut;
        out.departure = d("2026-12-02");
        // Checked out: nothing held any more; the whole stay's nights return.
        assert_eq!(sold_deltas(Some(&b), &out).len(), 2);
        let mut shorter = b.clone();
        shorter.departure = d("2026-12-02");
        let back = sold_deltas(Some(&b), &shorter);
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].night, back[0].delta), (d("2026-12-02"), -1));
    }

    #[test]
    fn rooms_are_occupied_only_by_live_bookings_within_the_stay() {
        let mut b = booking(BookingStatus::CheckedIn, 1);
        b.stays = vec![
            Stay {
                room: "101".into(),
                from: d("2026-12-01"),
                to: d("2026-12-02"),
            },
            Stay {
                room: "102".into(),
                from: d("2026-12-02"),
                to: d("2026-12-03"),
            },
        ];
        assert_eq!(
            room_nights(&b),
            vec![
                ("101".into(), d("2026-12-01")),
                ("102".into(), d("2026-12-02"))
            ]
        );
        b.status = BookingStatus::CheckedOut;
        assert!(room_nights(&b).is_empty());
    }

    #[test]
    fn out_of_order_periods_reduce_service_once_per_night() {
        let wb = ServerCode::parse("WB").unwrap();
        let room = Room {
            meta: Meta::new(RecordId::new(&wb, 3), Authority::Env, 1),
            property: "KRL".into(),
            number: "101".into(),
            room_type: "DLX".into(),
            out_of_order: vec![],
            housekeeping: None,
            message_waiting: false,
        };
        let created = service_deltas(None, &room);
        assert_eq!(created.len(), 1);
        let mut broken = room.clone();
        broken.out_of_order = vec![
            OutOfOrder {
                from: d("2026-12-01"),
                to: d("2026-12-03"),
                reason: "paint".into(),
            },
            OutOfOrder {
                from: d("2026-12-02"),
                to: d("2026-12-04"),
                reason: "pipes".into(),
            },
        ];
        let deltas = service_deltas(Some(&room), &broken);
        assert_eq!(
            deltas.len(),
            3,
            "capacity nets to zero; three nights out: {deltas:?}"
        );
    }

    #[test]
    fn the_short_night_is_found() {
        let n = |day: &str, in_service, sold| NightStock {
            night: d(day),
            in_service,
            sold,
        };
        let nights = [n("2026-12-01", 5, 3), n("2026-12-02", 5, 5)];
        assert_eq!(
            first_short_night(&nights, 1).map(|s| s.night),
            Some(d("2026-12-02"))
        );
        assert_eq!(first_short_night(&nights[..1], 2), None);
        assert!(first_short_night(&nights[..1], 3).is_some());
    }
}

//! An in-memory state with the same derived counters as the store: the reference model that
//! property tests drive with random commands, and the home of the invariant checker.

use crate::dates::Nights;
use crate::decide::Decision;
use crate::ids::RecordId;
use crate::record::{Booking, Guest, Property, RatePlan, Record, RecordKind, Room, RoomType, User};
use crate::stock::{room_nights, service_deltas, sold_deltas, NightStock, Occupancy, ServiceDelta};
use crate::view::{StateView, ViewResult};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

type TypeKey = (String, String);
type NightKey = (String, String, NaiveDate);

/// Every record plus the derived counters the rules read.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    records: BTreeMap<(RecordKind, String), Record>,
    capacity: BTreeMap<TypeKey, i64>,
    out_of_order: BTreeMap<NightKey, i64>,
    sold: BTreeMap<NightKey, i64>,
    room_nights: BTreeMap<NightKey, RecordId>,
}

impl MemState {
    /// Applies every write of a decision.
    pub fn apply(&mut self, d: &Decision) {
        for r in &d.writes {
            self.put(r.clone());
        }
    }

    /// Writes one record and updates the derived counters.
    pub fn put(&mut self, rec: Record) {
        let key = (rec.kind(), rec.key());
        let old = self.records.get(&key).cloned();
        match (&old, &rec) {
            (old, Record::Booking(b)) => {
                let old_b = match old {
                    Some(Record::Booking(o)) => Some(o),
                    _ => None,
                };
                for d in sold_deltas(old_b, b) {
                    *self
                        .sold
                        .entry((d.property, d.room_type, d.night))
                        .or_default() += d.delta;
                }
                if let Some(o) = old_b {
                    for (room, night) in room_nights(o) {
                        self.room_nights.remove(&(o.property.clone(), room, night));
                    }
                }
                for (room, night) in room_nights(b) {
                    // A second stay in one room overwrites here; check_invariants recomputes
                    // from the records and reports it.
                    self.room_nights
                        .insert((b.property.clone(), room, night), b.meta.id.clone());
                }
            }
            (old, Record::Room(r)) => {
                let old_r = match old {
                    Some(Record::Room(o)) => Some(o),
                    _ => None,
                };
                for d in service_deltas(old_r, r) {
                    match d {
                        ServiceDelta::Capacity {
                            property,
                            room_type,
                            delta,
                        } => *self.capacity.entry((property, room_type)).or_default() += delta,
                        ServiceDelta::OutOfOrder {
                            property,
                            room_type,
                            night,
                            delta,
                        } => {
                            *self
                                .out_of_order
                                .entry((property, room_type, night))
                                .or_default() += delta
                        }
                    }
                }
            }
            _ => {}
        }
        self.records.insert(key, rec);
    }

    /// All bookings.
    pub fn bookings(&self) -> impl Iterator<Item = &Booking> {
        self.records.values().filter_map(|r| match r {
            Record::Booking(b) => Some(b),
            _ => None,
        })
    }

    /// All records.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    fn get(&self, kind: RecordKind, key: &str) -> Option<&Record> {
        self.records.get(&(kind, key.to_string()))
    }

    /// Checks every invariant from scratch: the derived counters match the records, and no
    /// night is oversold. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut sold: BTreeMap<NightKey, i64> = BTreeMap::new();
        let mut occupied: BTreeMap<NightKey, RecordId> = BTreeMap::new();
        for b in self.bookings() {
            if b.arrival >= b.departure {
                return Err(format!("{} has arrival >= departure", b.meta.id));
            }
            for d in sold_deltas(None, b) {
                *sold.entry((d.property, d.room_type, d.night)).or_default() += d.delta;
            }
            for (room, night) in room_nights(b) {
                if let Some(other) =
                    occupied.insert((b.property.clone(), room.clone(), night), b.meta.id.clone())
                {
                    return Err(format!(
                        "room {room} on {night} held by {other} and {}",
                        b.meta.id
                    ));
                }
            }
        }
        let nonzero = |m: &BTreeMap<NightKey, i64>| {
            m.iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| (k.clone(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        if nonzero(&sold) != nonzero(&self.sold) {
            return Err("derived sold counters differ from the bookings".into());
        }
        if occupied != self.room_nights {
            return Err("derived room nights differ from the bookings".into());
        }
        for ((p, t, night), units) in &sold {
            let in_service = self.in_service(p, t, *night);
            if *units > in_service {
                return Err(format!(
                    "{p}/{t} on {night}: {units} units sold, {in_service} rooms in service"
                ));
            }
        }
        Ok(())
    }

    fn in_service(&self, property: &str, room_type: &str, night: NaiveDate) -> i64 {
        let key = (property.to_string(), room_type.to_string());
        let cap = self.capacity.get(&key).copied().unwrap_or(0);
        let ooo = self
            .out_of_order
            .get(&(key.0, key.1, night))
            .copied()
            .unwrap_or(0);
        cap - ooo
    }
}

fn typed<T>(r: Option<&Record>, pick: impl Fn(&Record) -> Option<&T>) -> Option<T>
where
    T: Clone,
{
    r.and_then(pick).cloned()
}

impl StateView for MemState {
    fn property(&self, code: &str) -> ViewResult<Option<Property>> {
        Ok(typed(self.get(RecordKind::Property, code), |r| match r {
            Record::Property(p) => Some(p),
            _ => None,
        }))
    }

    fn room_type(&self, property: &str, code: &str) -> ViewResult<Option<RoomType>> {
        let key = format!("{property}/{code}");
        Ok(typed(self.get(RecordKind::RoomType, &key), |r| match r {
            Record::RoomType(t) => Some(t),
            _ => None,
        }))
    }

    fn room(&self, property: &str, number: &str) -> ViewResult<Option<Room>> {
        let key = format!("{property}/{number}");
        Ok(typed(self.get(RecordKind::Room, &key), |r| match r {
            Record::Room(t) => Some(t),
            _ => None,
        }))
    }

    fn rate_plan(&self, property: &str, room_type: &str) -> ViewResult<Option<RatePlan>> {
        let key = format!("{property}/{room_type}");
        Ok(typed(self.get(RecordKind::RatePlan, &key), |r| match r {
            Record::RatePlan(t) => Some(t),
            _ => None,
        }))
    }

    fn guest(&self, id: &RecordId) -> ViewResult<Option<Guest>> {
        Ok(typed(
            self.get(RecordKind::Guest, id.as_str()),
            |r| match r {
                Record::Guest(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn booking(&self, id: &RecordId) -> ViewResult<Option<Booking>> {
        Ok(typed(
            self.get(RecordKind::Booking, id.as_str()),
            |r| match r {
                Record::Booking(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn user(&self, username: &str) -> ViewResult<Option<User>> {
        Ok(typed(self.get(RecordKind::User, username), |r| match r {
            Record::User(t) => Some(t),
            _ => None,
        }))
    }

    fn master_token(&self) -> ViewResult<Option<crate::record::MasterToken>> {
        Ok(typed(
            self.get(RecordKind::MasterToken, "master"),
            |r| match r {
                Record::MasterToken(t) => Some(t),
                _ => None,
            },
        ))
    }

    fn night_stock(
        &self,
        property: &str,
        room_type: &str,
        nights: Nights,
    ) -> ViewResult<Vec<NightStock>> {
        Ok(nights
            .iter()
            .map(|night| {
                let sold = self
                    .sold
                    .get(&(property.to_string(), room_type.to_string(), night))
                    .copied()
                    .unwrap_or(0);
                NightStock {
                    night,
                    in_service: u32::try_from(self.in_service(property, room_type, night))
                        .unwrap_or(0),
                    sold: u32::try_from(sold).unwrap_or(u32::MAX),
                }
            })
            .collect())
    }

    fn room_occupancy(
        &self,
        property: &str,
        room: &str,
        nights: Nights,
    ) -> ViewResult<Vec<Occupancy>> {
        Ok(nights
            .iter()
            .filter_map(|night| {
                self.room_nights
                    .get(&(property.to_string(), room.to_string(), night))
                    .map(|b| Occupancy {
                        night,
                        booking: b.clone(),
                    })
            })
            .collect())
    }

    fn lapsed_holds(&self, now: DateTime<Utc>, limit: usize) -> ViewResult<Vec<RecordId>> {
        Ok(self
            .bookings()
            .filter(|b| {
                b.status == crate::record::BookingStatus::Provisional
                    && b.hold_until.is_some_and(|h| h <= now)
            })
            .map(|b| b.meta.id.clone())
            .take(limit)
            .collect())
    }
}

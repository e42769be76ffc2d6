//! An in-memory state with the same derived counters as the store: the reference model that
//! property tests drive with random commands, and the home of the invariant checker.

mod invariants;
mod view;

use crate::allotment::{grant_deltas, HolderFacts};
use crate::dates::Nights;
use crate::decide::Decision;
use crate::ids::{Authority, RecordId};
use crate::record::{AllotmentGrant, Booking, Record, RecordKind};
use crate::stock::{room_nights, service_deltas, sold_deltas, ServiceDelta};
use chrono::NaiveDate;
use std::collections::BTreeMap;

type TypeKey = (String, String);
type NightKey = (String, String, NaiveDate);
type HolderKey = (String, String, NaiveDate, Authority);

/// Every record plus the derived counters the rules read.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    records: BTreeMap<(RecordKind, String), Record>,
    capacity: BTreeMap<TypeKey, i64>,
    out_of_order: BTreeMap<NightKey, i64>,
    sold: BTreeMap<HolderKey, i64>,
    granted: BTreeMap<HolderKey, i64>,
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
                        .entry((d.property, d.room_type, d.night, d.holder))
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
            (_, Record::Tombstone(t)) => {
                self.remove(t.deleted_kind, &t.deleted_key);
            }
            (None, Record::AllotmentGrant(g)) => {
                for d in grant_deltas(g) {
                    *self
                        .granted
                        .entry((d.property, d.room_type, d.night, d.holder))
                        .or_default() += d.delta;
                }
            }
            _ => {}
        }
        self.records.insert(key, rec);
    }

    /// Takes a deleted record out, with what it held: a booking's units and room nights.
    fn remove(&mut self, kind: RecordKind, key: &str) {
        let Some(old) = self.records.remove(&(kind, key.to_string())) else {
            return;
        };
        match old {
            Record::Booking(b) => {
                let mut gone = b.clone();
                gone.status = crate::record::BookingStatus::Cancelled;
                for d in sold_deltas(Some(&b), &gone) {
                    *self
                        .sold
                        .entry((d.property, d.room_type, d.night, d.holder))
                        .or_default() += d.delta;
                }
                for (room, night) in room_nights(&b) {
                    self.room_nights.remove(&(b.property.clone(), room, night));
                }
            }
            Record::Guest(_) | Record::Note(_) => {}
            other => debug_assert!(false, "{:?} records are never deleted", other.kind()),
        }
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

    /// The units granted to each holder net of those it gave, per night, as the model keeps
    /// them (zero entries left out): what a store's derived table must equal.
    pub fn granted(&self) -> BTreeMap<(String, String, NaiveDate, Authority), i64> {
        self.granted
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// All allotment grants.
    pub fn grants(&self) -> impl Iterator<Item = &AllotmentGrant> {
        self.records.values().filter_map(|r| match r {
            Record::AllotmentGrant(g) => Some(g),
            _ => None,
        })
    }

    fn facts(
        &self,
        property: &str,
        room_type: &str,
        holder: &Authority,
        nights: Nights,
    ) -> Vec<HolderFacts> {
        nights
            .iter()
            .map(|night| {
                let p = property.to_string();
                let t = room_type.to_string();
                let sold: i64 = self
                    .sold
                    .range((p.clone(), t.clone(), night, Authority::Env)..)
                    .take_while(|((kp, kt, kn, _), _)| *kp == p && *kt == t && *kn == night)
                    .map(|(_, v)| *v)
                    .sum();
                let key = (p, t, night, holder.clone());
                HolderFacts {
                    night,
                    in_service: u32::try_from(self.in_service(property, room_type, night))
                        .unwrap_or(0),
                    sold: u32::try_from(sold).unwrap_or(u32::MAX),
                    net_granted: self.granted.get(&key).copied().unwrap_or(0),
                    held_sold: u32::try_from(self.sold.get(&key).copied().unwrap_or(0))
                        .unwrap_or(u32::MAX),
                }
            })
            .collect()
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

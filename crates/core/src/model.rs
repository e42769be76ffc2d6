//! An in-memory state with the same derived counters as the store: the reference model that
//! property tests drive with random commands, and the home of the invariant checker.

use crate::allotment::{grant_deltas, held_nights, HolderFacts, Shortfall};
use crate::dates::Nights;
use crate::decide::Decision;
use crate::ids::{Authority, RecordId};
use crate::record::{
    AllotmentGrant, Booking, Guest, Property, RatePlan, Record, RecordKind, Room, RoomType, User,
};
use crate::state_view::{StateView, ViewResult};
use crate::stock::{room_nights, service_deltas, sold_deltas, NightStock, Occupancy, ServiceDelta};
use chrono::{DateTime, NaiveDate, Utc};
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

    /// Every (night, holder) whose sales exceed what it holds, with the bookings concerned.
    pub fn shortfalls(&self) -> Vec<Shortfall> {
        let mut keys: std::collections::BTreeSet<HolderKey> = self.sold.keys().cloned().collect();
        keys.extend(self.granted.keys().cloned());
        let mut out = vec![];
        for (p, t, night, holder) in keys {
            let Some(Record::Property(prop)) = self.get(RecordKind::Property, &p) else {
                continue;
            };
            let nights = Nights {
                from: night,
                to: night + chrono::Days::new(1),
            };
            let facts = self.facts(&p, &t, &holder, nights);
            let h = held_nights(&facts, prop.meta.owner == holder)[0];
            if h.short_by() > 0 {
                out.push(Shortfall {
                    property: p.clone(),
                    room_type: t.clone(),
                    night,
                    holder: holder.clone(),
                    held: h.held,
                    sold: h.held_sold,
                    bookings: self
                        .bookings()
                        .filter(|b| {
                            b.property == p
                                && b.room_type == t
                                && b.holder == holder
                                && b.status.holds_stock()
                                && b.nights().contains(night)
                        })
                        .map(|b| b.meta.id.clone())
                        .collect(),
                });
            }
        }
        out
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

    /// Checks every invariant from scratch: the derived counters match the records, no night is
    /// oversold, and the allotments of every night add up to its rooms in service (every grant
    /// takes from one holder what it gives another). Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut granted: BTreeMap<HolderKey, i64> = BTreeMap::new();
        let mut per_night: BTreeMap<NightKey, i64> = BTreeMap::new();
        for g in self.grants() {
            if g.giver == g.receiver || g.units == 0 || g.from >= g.to {
                return Err(format!("grant {} is malformed", g.meta.id));
            }
            if g.meta.owner != g.giver {
                return Err(format!("grant {} is not owned by its giver", g.meta.id));
            }
            for d in grant_deltas(g) {
                *per_night
                    .entry((d.property.clone(), d.room_type.clone(), d.night))
                    .or_default() += d.delta;
                *granted
                    .entry((d.property, d.room_type, d.night, d.holder))
                    .or_default() += d.delta;
            }
        }
        if let Some((k, v)) = per_night.iter().find(|(_, v)| **v != 0) {
            return Err(format!(
                "allotments of {k:?} do not add up: {v} units out of nowhere"
            ));
        }
        let nonzero_h = |m: &BTreeMap<HolderKey, i64>| {
            m.iter()
                .filter(|(_, v)| **v != 0)
                .map(|(k, v)| (k.clone(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        if nonzero_h(&granted) != nonzero_h(&self.granted) {
            return Err("derived allotment counters differ from the grants".into());
        }
        let mut sold_h: BTreeMap<HolderKey, i64> = BTreeMap::new();
        let mut sold: BTreeMap<NightKey, i64> = BTreeMap::new();
        let mut occupied: BTreeMap<NightKey, RecordId> = BTreeMap::new();
        for b in self.bookings() {
            if b.arrival >= b.departure {
                return Err(format!("{} has arrival >= departure", b.meta.id));
            }
            // Sold from its owner's allotment: who may cancel it is who gets the units back.
            if b.holder != b.meta.owner {
                return Err(format!(
                    "{} is owned by {} but sold from {}'s allotment",
                    b.meta.id, b.meta.owner, b.holder
                ));
            }
            for d in sold_deltas(None, b) {
                *sold
                    .entry((d.property.clone(), d.room_type.clone(), d.night))
                    .or_default() += d.delta;
                *sold_h
                    .entry((d.property, d.room_type, d.night, d.holder))
                    .or_default() += d.delta;
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
        if nonzero_h(&sold_h) != nonzero_h(&self.sold) {
            return Err("derived sold counters differ from the bookings".into());
        }
        if occupied != self.room_nights {
            return Err("derived room nights differ from the bookings".into());
        }
        self.check_ledger()?;
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

    /// The ledger's invariants over every booking's entries and invoices.
    fn check_ledger(&self) -> Result<(), String> {
        let mut entries: BTreeMap<&RecordId, Vec<crate::ledger::FolioEntry>> = BTreeMap::new();
        for r in self.records.values() {
            if let Record::FolioEntry(e) = r {
                entries.entry(&e.booking).or_default().push(e.clone());
            }
        }
        for list in entries.values() {
            crate::ledger::check::check_entries(list)?;
        }
        for r in self.records.values() {
            if let Record::Invoice(i) = r {
                let list = entries.get(&i.booking).map_or(&[][..], |v| v.as_slice());
                crate::ledger::check::check_invoice(i, list)?;
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

    fn folio_entries(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::FolioEntry>> {
        let prefix = format!("{booking}/");
        Ok(self
            .records
            .range((RecordKind::FolioEntry, prefix.clone())..)
            .take_while(|((k, key), _)| *k == RecordKind::FolioEntry && key.starts_with(&prefix))
            .filter_map(|(_, r)| match r {
                Record::FolioEntry(e) => Some(e.clone()),
                _ => None,
            })
            .collect())
    }

    fn invoices_of(&self, booking: &RecordId) -> ViewResult<Vec<crate::ledger::Invoice>> {
        Ok(self
            .records
            .range((RecordKind::Invoice, String::new())..)
            .take_while(|((k, _), _)| *k == RecordKind::Invoice)
            .filter_map(|(_, r)| match r {
                Record::Invoice(i) if &i.booking == booking => Some(i.clone()),
                _ => None,
            })
            .collect())
    }

    fn last_invoice_seq(&self, series: &crate::ids::ServerCode, year: i32) -> ViewResult<u32> {
        Ok(self
            .records
            .values()
            .filter_map(|r| match r {
                Record::Invoice(i) if &i.series == series && i.year == year => Some(i.seq),
                _ => None,
            })
            .max()
            .unwrap_or(0))
    }

    fn bookings_staying(
        &self,
        property: &str,
        night: NaiveDate,
        limit: usize,
    ) -> ViewResult<Vec<Booking>> {
        Ok(self
            .bookings()
            .filter(|b| b.property == property && b.arrival <= night && night < b.departure)
            .take(limit)
            .cloned()
            .collect())
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
                let p = property.to_string();
                let t = room_type.to_string();
                let sold: i64 = self
                    .sold
                    .range((p.clone(), t.clone(), night, Authority::Env)..)
                    .take_while(|((kp, kt, kn, _), _)| *kp == p && *kt == t && *kn == night)
                    .map(|(_, v)| *v)
                    .sum();
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

    fn holder_facts(
        &self,
        property: &str,
        room_type: &str,
        holder: &Authority,
        nights: Nights,
    ) -> ViewResult<Vec<HolderFacts>> {
        Ok(self.facts(property, room_type, holder, nights))
    }

    fn allotment_grant(&self, id: &RecordId) -> ViewResult<Option<AllotmentGrant>> {
        Ok(typed(
            self.get(RecordKind::AllotmentGrant, id.as_str()),
            |r| match r {
                Record::AllotmentGrant(g) => Some(g),
                _ => None,
            },
        ))
    }

    fn record(&self, kind: RecordKind, key: &str) -> ViewResult<Option<Record>> {
        Ok(self.get(kind, key).cloned())
    }

    fn find_copy(
        &self,
        kind: RecordKind,
        from_environment: Option<&str>,
        from_id: &RecordId,
    ) -> ViewResult<Option<Record>> {
        Ok(self
            .records
            .range((kind, String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .map(|(_, r)| r)
            .find(|r| {
                r.meta().provenance.as_ref().is_some_and(|p| {
                    p.from_environment.as_deref() == from_environment && &p.from_id == from_id
                })
            })
            .cloned())
    }

    fn find_by_fields(
        &self,
        kind: RecordKind,
        fields: &[(String, serde_json::Value)],
    ) -> ViewResult<Option<Record>> {
        Ok(self
            .records
            .range((kind, String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .map(|(_, r)| r)
            .find(|r| {
                let v = serde_json::to_value(r).unwrap_or_default();
                fields.iter().all(|(f, want)| v.get(f) == Some(want))
            })
            .cloned())
    }

    fn guest_in_use(&self, id: &RecordId) -> ViewResult<bool> {
        Ok(self.bookings().any(|b| &b.guest_id == id))
    }

    fn guest_bookings(&self, guest: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        let mut ids: Vec<RecordId> = self
            .bookings()
            .filter(|b| &b.guest_id == guest)
            .map(|b| b.meta.id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.truncate(limit);
        Ok(ids)
    }

    fn reservation_lines(&self, reservation: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        let mut ids: Vec<RecordId> = self
            .bookings()
            .filter(|b| b.reservation.as_ref() == Some(reservation))
            .map(|b| b.meta.id.clone())
            .collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.truncate(limit);
        Ok(ids)
    }

    fn room_type_codes(&self, property: &str) -> ViewResult<Vec<String>> {
        Ok(self
            .records
            .values()
            .filter_map(|r| match r {
                Record::RoomType(t) if t.property == property => Some(t.code.clone()),
                _ => None,
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

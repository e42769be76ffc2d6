//! The invariant checker: what must hold of any state the writer leaves, checked from scratch.
//!
//! Apart from the model's bookkeeping so the rules read as one list; the property tests call it
//! after every decision.

use super::{HolderKey, MemState, NightKey};
use crate::allotment::{grant_deltas, held_nights, Shortfall};
use crate::dates::Nights;
use crate::ids::RecordId;
use crate::record::{Record, RecordKind};
use crate::stock::{room_nights, sold_deltas};
use std::collections::BTreeMap;

impl MemState {
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
}

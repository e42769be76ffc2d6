//! What a quote reads: a property's rate plans (by key, or all of them) and, for a stay, every
//! room type's units — what this server may sell, what is free at the property, who holds the
//! rest — folded from three property-wide range queries in one read transaction, the same
//! tables and rule as the availability read (`read.rs`).

use crate::error::StoreError;
use crate::read::{bodies, here, prefix, ReadPool, BY_PREFIX};
use crate::view::{load_record, night_text, parse_night};
use innsync_core::dates::Nights;
use innsync_core::pricing::{HeldBy, PricingPlan, QuoteFacts, StayStock};
use innsync_core::{Authority, Record};
use rusqlite::{params, Connection};
use std::collections::HashMap;

impl ReadPool {
    /// A property's rate plans, by code.
    pub fn pricing_plans(&self, property: &str) -> Result<Vec<PricingPlan>, StoreError> {
        self.with(|c| plans(c, property))
    }

    /// One rate plan.
    pub fn pricing_plan(
        &self,
        property: &str,
        code: &str,
    ) -> Result<Option<PricingPlan>, StoreError> {
        self.with(|c| {
            Ok(
                match load_record(c, "pricing_plan", &format!("{property}/{code}"))? {
                    Some(Record::PricingPlan(p)) => Some(p),
                    _ => None,
                },
            )
        })
    }

    /// Everything a quote of `property` over `nights` is computed from, read in one
    /// transaction; `None` if there is no such property.
    pub fn quote_facts(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Option<QuoteFacts>, StoreError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let out = facts(&tx, property, nights)?;
            tx.commit()?;
            Ok(out)
        })
    }
}

fn plans(c: &Connection, property: &str) -> Result<Vec<PricingPlan>, StoreError> {
    let (lo, hi) = prefix(property);
    bodies(c, BY_PREFIX, params!["pricing_plan", lo, hi], |r| match r {
        Record::PricingPlan(p) => Some(p),
        _ => None,
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "one read in one transaction, its SQL and the answer's shape side by side; split when it next grows"
)]
fn facts(c: &Connection, property: &str, nights: Nights) -> Result<Option<QuoteFacts>, StoreError> {
    let Some(Record::Property(prop)) = load_record(c, "property", property)? else {
        return Ok(None);
    };
    let (lo, hi) = prefix(property);
    let room_types = bodies(c, BY_PREFIX, params!["room_type", lo, hi], |r| match r {
        Record::RoomType(t) => Some(t),
        _ => None,
    })?;
    let rates = bodies(c, BY_PREFIX, params!["rate_plan", lo, hi], |r| match r {
        Record::RatePlan(t) => Some(t),
        _ => None,
    })?;
    let plans = plans(c, property)?;
    let here_text = here(c)?.to_string();
    let owner_text = prop.meta.owner.to_string();
    let index: HashMap<&str, usize> = room_types
        .iter()
        .enumerate()
        .map(|(i, t)| (t.code.as_str(), i))
        .collect();
    let n = nights.len();
    let types = room_types.len();
    // Holders in order of first sight; the owner first. Per holder a grid of
    // (room type × night) → units held (net of grants) and sold.
    let mut holders: Vec<String> = vec![owner_text.clone()];
    let mut held: Vec<Vec<i64>> = vec![vec![0; types * n]];
    let mut sold: Vec<Vec<i64>> = vec![vec![0; types * n]];
    let mut in_service = vec![0i64; types * n];
    let mut st = c.prepare_cached("SELECT room_type, rooms FROM capacity WHERE property = ?1")?;
    let mut rows = st.query([property])?;
    while let Some(r) = rows.next()? {
        let ty = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if let Some(&i) = index.get(ty) {
            let cap: i64 = r.get(1)?;
            in_service[i * n..(i + 1) * n].fill(cap);
        }
    }
    let (from, to) = (night_text(nights.from), night_text(nights.to));
    for (what, sql) in [
        (0, "SELECT room_type, night, rooms, '' FROM out_of_order WHERE property = ?1 AND night >= ?2 AND night < ?3"),
        (1, "SELECT room_type, night, units, holder FROM sold WHERE property = ?1 AND night >= ?2 AND night < ?3"),
        (2, "SELECT room_type, night, units, holder FROM allotments WHERE property = ?1 AND night >= ?2 AND night < ?3"),
    ] {
        let mut st = c.prepare_cached(sql)?;
        let mut rows = st.query(params![property, from, to])?;
        while let Some(r) = rows.next()? {
            let ty = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let Some(&i) = index.get(ty) else { continue };
            let night = parse_night(r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)?;
            let Some(k) = nights.index_of(night) else {
                continue;
            };
            let v: i64 = r.get(2)?;
            let cell = i * n + k;
            if what == 0 {
                in_service[cell] -= v;
                continue;
            }
            let h = r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
            let hi = match holders.iter().position(|x| x == h) {
                Some(p) => p,
                None => {
                    holders.push(h.to_string());
                    held.push(vec![0; types * n]);
                    sold.push(vec![0; types * n]);
                    holders.len() - 1
                }
            };
            if what == 1 {
                sold[hi][cell] += v;
            } else {
                held[hi][cell] += v;
            }
        }
    }
    let here_index = holders.iter().position(|h| *h == here_text);
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let mut stock = HashMap::with_capacity(types);
    for (i, t) in room_types.iter().enumerate() {
        let cells = i * n..(i + 1) * n;
        let mut free_at_property = i64::MAX;
        let mut others: Vec<i64> = vec![i64::MAX; holders.len()];
        for cell in cells {
            let sold_all: i64 = sold.iter().map(|s| s[cell]).sum();
            let free = in_service[cell] - sold_all;
            free_at_property = free_at_property.min(free);
            // Each holder's unsold units (the owner holds the rooms in service net of what it
            // gave), never beyond the night's free rooms.
            for (hi, m) in others.iter_mut().enumerate() {
                let base = if hi == 0 { in_service[cell] } else { 0 };
                let h = (base + held[hi][cell] - sold[hi][cell]).min(free);
                *m = (*m).min(h);
            }
        }
        // What this server may sell: its own holding, never beyond the night's free rooms.
        let sellable = here_index.map_or(0, |hi| others[hi]);
        let held_by = holders
            .iter()
            .zip(&others)
            .enumerate()
            .filter(|(hi, (_, free))| Some(*hi) != here_index && **free > 0)
            .filter_map(|(_, (h, free))| {
                Authority::parse(h).ok().map(|holder| HeldBy {
                    holder,
                    free: clamp(*free),
                })
            })
            .collect();
        stock.insert(
            t.code.clone(),
            StayStock {
                sellable_here: clamp(sellable),
                free_at_property: clamp(free_at_property),
                held_by,
            },
        );
    }
    Ok(Some(QuoteFacts {
        room_types,
        rates,
        plans,
        stock,
    }))
}

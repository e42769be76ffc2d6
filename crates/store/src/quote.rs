//! What a quote reads: a property's rate plans (by key, or all of them) and, for a stay, every
//! room type's units — what this server may sell, what is free at the property, who holds the
//! rest — from the read state (`read/board.rs`: reference records parsed once per version,
//! stock kept at the change-log position and re-read only where writes touched it), the same
//! rule as the availability read (`read/availability.rs`).

use crate::error::StoreError;
use crate::read::board::Served;
use crate::read::{bodies, prefix, Position, ReadPool, BY_PREFIX};
use crate::sql_view::load_record;
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
        Ok(self.quote_facts_at(property, nights)?.map(|(f, _)| f))
    }

    /// [`ReadPool::quote_facts`] from the read state (`read/board.rs`: reference records
    /// parsed once, stock kept at the change-log position), with the position it reflects.
    pub fn quote_facts_at(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Option<(QuoteFacts, Position)>, StoreError> {
        self.with_stock(property, nights, |s, here, pos| {
            (facts(s, here, nights), pos.clone())
        })
    }

    /// [`ReadPool::quote_facts_at`] from memory when the read state is at the writer's last
    /// commit and holds the property over `nights`; `None`: call `quote_facts_at` (off the
    /// async threads). Never blocks, never touches the database.
    pub fn quote_facts_now(
        &self,
        property: &str,
        nights: Nights,
    ) -> Option<(QuoteFacts, Position)> {
        self.with_stock_now(property, nights, |s, here, pos| {
            (facts(s, here, nights), pos.clone())
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

/// Every room type's units over the stay: what this server may sell, what is free at the
/// property, who holds the rest.
fn facts(s: &Served<'_>, here: &str, nights: Nights) -> QuoteFacts {
    let (g, r) = (s.grid(), s.reference());
    let n = g.n();
    let off = g.offset(nights.from);
    let here_index = g.holders.iter().position(|h| h == here);
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let mut stock = HashMap::with_capacity(r.room_types.len());
    let mut others: Vec<i64> = Vec::with_capacity(g.holders.len());
    for (i, t) in r.room_types.iter().enumerate() {
        let cells = i * n + off..i * n + off + nights.len();
        let mut free_at_property = i64::MAX;
        others.clear();
        others.resize(g.holders.len(), i64::MAX);
        for cell in cells {
            let sold_all: i64 = g.sold.iter().map(|s| s[cell]).sum();
            let free = g.in_service[cell] - sold_all;
            free_at_property = free_at_property.min(free);
            // Each holder's unsold units (the owner holds the rooms in service net of what it
            // gave), never beyond the night's free rooms.
            for (hi, m) in others.iter_mut().enumerate() {
                let base = if hi == 0 { g.in_service[cell] } else { 0 };
                let h = (base + g.held[hi][cell] - g.sold[hi][cell]).min(free);
                *m = (*m).min(h);
            }
        }
        // What this server may sell: its own holding, never beyond the night's free rooms.
        let sellable = here_index.map_or(0, |hi| others[hi]);
        let held_by = g
            .holders
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
    QuoteFacts {
        room_types: r.room_types.clone(),
        rates: r.rates.clone(),
        plans: r.plans.clone(),
        stock,
    }
}

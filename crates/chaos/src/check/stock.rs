//! `no_night_oversold`: no night sold beyond its rooms in service.
//!
//! Its own file because the rule has two readings (before and after allotments) and a
//! helper the tests call.

use super::{DbState, Final, Verdict, Violation};
use innsync_core::BookingStatus;
use serde::Serialize;
use std::collections::BTreeMap;

/// How the stock check treats nights sold beyond the rooms by several authorities together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum StockRule {
    /// As before allotments (issue 4), when servers sold from the whole inventory: only one
    /// authority selling beyond the rooms is a violation; nights oversold by several together
    /// are counted and reported (`--lenient-stock`, to compare with older builds).
    WholeInventoryPerAuthority,
    /// Any night sold beyond its rooms is a violation: every server sells only from the
    /// allotments it holds (the default).
    Strict,
}

/// The nights sold beyond their rooms: `(property, room type, night, total units, rooms,
/// whether one authority alone sold beyond them)`.
pub fn oversold(s: &DbState) -> Vec<(String, String, chrono::NaiveDate, i64, i64, bool)> {
    let mut total: BTreeMap<(String, String, chrono::NaiveDate), i64> = BTreeMap::new();
    let mut by_holder: BTreeMap<(String, String, chrono::NaiveDate, String), i64> = BTreeMap::new();
    for b in s.bookings.values() {
        if !matches!(
            b.status,
            BookingStatus::Provisional | BookingStatus::Confirmed | BookingStatus::CheckedIn
        ) {
            continue;
        }
        let mut night = b.arrival;
        while night < b.departure {
            let k = (b.property.clone(), b.room_type.clone(), night);
            *total.entry(k).or_default() += i64::from(b.units);
            *by_holder
                .entry((
                    b.property.clone(),
                    b.room_type.clone(),
                    night,
                    b.holder.to_string(),
                ))
                .or_default() += i64::from(b.units);
            night = night.succ_opt().unwrap_or(b.departure);
        }
    }
    let mut out = Vec::new();
    for ((p, t, night), units) in total {
        let rooms = s
            .capacity
            .get(&(p.clone(), t.clone()))
            .copied()
            .unwrap_or(0);
        if units > rooms {
            let alone = by_holder
                .iter()
                .any(|((hp, ht, hn, _), u)| *hp == p && *ht == t && *hn == night && *u > rooms);
            out.push((p, t, night, units, rooms, alone));
        }
    }
    out
}

/// `no_night_oversold`, from the records themselves (innsync check says the same, first
/// violation only); per server, whether it has any oversold night.
pub(super) fn no_night_oversold(
    v: &mut Verdict,
    finals: &[Final],
    states: &[DbState],
    stock: StockRule,
) -> Vec<bool> {
    let mut found = vec![false; finals.len()];
    for (i, (f, s)) in finals.iter().zip(states).enumerate() {
        let over = oversold(s);
        let mut real = false;
        for (p, t, night, units, rooms, alone) in &over {
            if *alone || stock == StockRule::Strict {
                real = true;
                v.violations.push(Violation {
                    check: "no_night_oversold",
                    detail: format!(
                        "on {}: {p}/{t} on {night}: {units} units sold, {rooms} rooms{}",
                        f.code,
                        if *alone {
                            ", by one authority alone"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        if i == 0 {
            v.checked.cross_authority_oversold_nights = over.iter().filter(|o| !o.5).count();
        }
        let _ = real;
        found[i] = !over.is_empty();
    }
    found
}

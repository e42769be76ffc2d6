//! Allotments: the rooms in service of every (property, room type, night) are split between
//! **holders** (`env` or one server), and a server sells only from what its own authority holds.
//! This module is the one place that rule is written down.
//!
//! Nobody stores a holder's allotment. It is derived, so that the split always adds up:
//! the property's owner (its *default holder*: its property server, else `env`) holds the rooms
//! in service, and every [`AllotmentGrant`] moves units from its giver to its receiver:
//!
//! ```text
//! held(h, n) = (h is the default holder ? in_service(n) : 0) + received(h, n) - given(h, n)
//! Σ_h held(h, n) = in_service(n)                      (every grant adds and takes the same)
//! ```
//!
//! Each quantity that can *shrink* a holder's free units — its own sales and its own grants — is
//! written only under that holder's authority, so the holder's server always knows it exactly,
//! even while cut off from everyone; what it learns late (units granted to it, its own bookings
//! cancelled elsewhere) only ever adds. Hence, if every holder sells at most `held − sold` on
//! its own server, no night is ever sold beyond its rooms, across any partition. The one thing
//! that can take units from a holder behind its back is the inventory itself (a room out of
//! order lowers the default holder's share): that is a **shortfall**, reported, never hidden.

use crate::dates::Nights;
use crate::ids::Authority;
use crate::record::AllotmentGrant;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Most standing rules one environment may declare.
pub const MAX_RULES: usize = 64;
/// Most grant records one run of the standing rules writes; the rest wait for the next run.
pub const MAX_RULE_GRANTS: usize = 2_048;
/// Most units one grant may move per night.
pub const MAX_GRANT_UNITS: u32 = 10_000;
/// Furthest ahead a standing rule looks, in days.
pub const MAX_RULE_DAYS: u32 = 730;

/// One holder's view of one night of a room type: the facts a sale or a grant is checked
/// against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldNight {
    /// The night.
    pub night: NaiveDate,
    /// Rooms of the type in service.
    pub in_service: u32,
    /// Units sold by every holder (as far as this server knows).
    pub sold: u32,
    /// Units this holder holds (may be below `held_sold` after a shortfall).
    pub held: i64,
    /// Units this holder has sold.
    pub held_sold: u32,
}

impl HeldNight {
    /// Units the holder may still sell or give: its own unsold units, and never more than the
    /// night has free as far as this server knows.
    pub fn free(&self) -> u32 {
        let own = self.held - i64::from(self.held_sold);
        let all = i64::from(self.in_service) - i64::from(self.sold);
        u32::try_from(own.min(all).max(0)).unwrap_or(0)
    }

    /// Units the holder holds but has not sold (what it may give away).
    pub fn unsold(&self) -> u32 {
        u32::try_from((self.held - i64::from(self.held_sold)).max(0)).unwrap_or(0)
    }

    /// Units the holder has sold beyond what it holds (a shortfall), if any.
    pub fn short_by(&self) -> u32 {
        u32::try_from((i64::from(self.held_sold) - self.held).max(0)).unwrap_or(0)
    }
}

/// The raw facts a store keeps for one holder and night; [`held_nights`] turns them into
/// [`HeldNight`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HolderFacts {
    /// The night.
    pub night: NaiveDate,
    /// Rooms of the type in service.
    pub in_service: u32,
    /// Units sold by every holder.
    pub sold: u32,
    /// Units granted to the holder minus units it granted away.
    pub net_granted: i64,
    /// Units the holder has sold.
    pub held_sold: u32,
}

/// Derives what a holder holds from the facts: the default holder starts from the rooms in
/// service, everyone else from zero.
pub fn held_nights(facts: &[HolderFacts], is_default_holder: bool) -> Vec<HeldNight> {
    facts
        .iter()
        .map(|f| HeldNight {
            night: f.night,
            in_service: f.in_service,
            sold: f.sold,
            held: if is_default_holder {
                i64::from(f.in_service)
            } else {
                0
            } + f.net_granted,
            held_sold: f.held_sold,
        })
        .collect()
}

/// The first night on which the holder cannot sell `units` more.
pub fn first_unsellable(nights: &[HeldNight], units: u32) -> Option<HeldNight> {
    nights.iter().find(|n| n.free() < units).copied()
}

/// The first night on which the holder cannot give `units` away.
pub fn first_ungivable(nights: &[HeldNight], units: u32) -> Option<HeldNight> {
    nights.iter().find(|n| n.unsold() < units).copied()
}

/// A holder that has sold more than it holds on a night (the inventory shrank under it): who,
/// where, by how much, and which of its bookings are on that night, for an operator to settle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// The night.
    pub night: NaiveDate,
    /// The holder that is short.
    pub holder: Authority,
    /// Units it holds.
    pub held: i64,
    /// Units it has sold.
    pub sold: u32,
    /// Its live bookings on that night.
    pub bookings: Vec<crate::ids::RecordId>,
}

/// A change of one holder's net granted units on one night.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantDelta {
    /// Property code.
    pub property: String,
    /// Room type code.
    pub room_type: String,
    /// The holder.
    pub holder: Authority,
    /// The night.
    pub night: NaiveDate,
    /// Units gained (positive) or given (negative).
    pub delta: i64,
}

/// How a grant moves units: the receiver gains and the giver loses the same on every night, so
/// the holdings of a night always add up to its rooms in service.
pub fn grant_deltas(g: &AllotmentGrant) -> Vec<GrantDelta> {
    debug_assert_ne!(
        g.giver, g.receiver,
        "a grant moves units between two holders"
    );
    let mut out = Vec::with_capacity(g.nights().len() * 2);
    for night in g.nights().iter() {
        for (holder, sign) in [(&g.receiver, 1), (&g.giver, -1)] {
            out.push(GrantDelta {
                property: g.property.clone(),
                room_type: g.room_type.clone(),
                holder: holder.clone(),
                night,
                delta: sign * i64::from(g.units),
            });
        }
    }
    out
}

/// A standing rule from environment.toml: the property's owner keeps `units` a night of each
/// room type allotted to `holder` (topping up from its own unsold units, up to `days_ahead`),
/// and `release_days` before each night the holder returns what it has not sold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllotmentRule {
    /// Unique name, quoted in the grants it writes.
    pub name: String,
    /// Property code.
    pub property: String,
    /// Room types it covers; empty for all of the property's.
    pub room_types: Vec<String>,
    /// Who is given the units (never the property's owner).
    pub holder: Authority,
    /// Units a night the holder is kept at.
    pub units: u32,
    /// How far ahead the holder is topped up, in days from today.
    pub days_ahead: u32,
    /// Days before a night on which the holder's unsold units go back to the owner; 0 never.
    pub release_days: u32,
}

/// A run of consecutive nights that move the same number of units: one grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedGrant {
    /// The nights.
    pub nights: Nights,
    /// Units on each.
    pub units: u32,
}

/// Groups per-night amounts into runs of equal, non-zero units.
pub fn runs(amounts: impl IntoIterator<Item = (NaiveDate, u32)>) -> Vec<PlannedGrant> {
    let mut out: Vec<PlannedGrant> = Vec::new();
    for (night, units) in amounts {
        if units == 0 {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.nights.to == night && last.units == units => {
                last.nights.to = night + chrono::Days::new(1);
            }
            _ => out.push(PlannedGrant {
                nights: Nights {
                    from: night,
                    to: night + chrono::Days::new(1),
                },
                units,
            }),
        }
    }
    out
}

/// The top-up a rule asks of the owner: on each night, what the holder lacks of `units`, as far
/// as the owner has unsold units to give. `holder` and `owner` are the same nights.
pub fn plan_top_up(
    rule_units: u32,
    holder: &[HeldNight],
    owner: &[HeldNight],
) -> Vec<PlannedGrant> {
    debug_assert_eq!(holder.len(), owner.len());
    runs(holder.iter().zip(owner).map(|(h, o)| {
        debug_assert_eq!(h.night, o.night);
        let lacks = (i64::from(rule_units) - h.held).max(0);
        let give = lacks.min(i64::from(o.unsold()));
        (h.night, u32::try_from(give).unwrap_or(0))
    }))
}

/// The release a rule asks of the holder: every unsold unit of the nights given.
pub fn plan_release(holder: &[HeldNight]) -> Vec<PlannedGrant> {
    runs(holder.iter().map(|h| (h.night, h.unsold())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn night(day: &str, in_service: u32, sold: u32, held: i64, held_sold: u32) -> HeldNight {
        HeldNight {
            night: d(day),
            in_service,
            sold,
            held,
            held_sold,
        }
    }

    #[test]
    fn a_holder_sells_only_its_own_unsold_units_and_never_beyond_the_night() {
        // Holds 2, sold 1: one free.
        assert_eq!(night("2026-12-01", 10, 4, 2, 1).free(), 1);
        // Holds plenty but the night is full as far as we know.
        assert_eq!(night("2026-12-01", 10, 10, 8, 3).free(), 0);
        // A shortfall: sold beyond what it holds.
        let short = night("2026-12-01", 9, 9, 4, 5);
        assert_eq!((short.free(), short.unsold(), short.short_by()), (0, 0, 1));
    }

    #[test]
    fn the_default_holder_starts_from_the_rooms_in_service() {
        let f = HolderFacts {
            night: d("2026-12-01"),
            in_service: 10,
            sold: 3,
            net_granted: -2,
            held_sold: 3,
        };
        assert_eq!(held_nights(&[f], true)[0].held, 8);
        assert_eq!(held_nights(&[f], false)[0].held, -2);
    }

    #[test]
    fn a_grant_adds_and_takes_the_same_on_every_night() {
        let wb = crate::ServerCode::parse("WB").unwrap();
        let pa = crate::ServerCode::parse("PA").unwrap();
        let g = AllotmentGrant {
            meta: crate::Meta::new(
                crate::RecordId::new(&pa, 1),
                Authority::Server(pa.clone()),
                1,
            ),
            property: "KRL".into(),
            room_type: "DLX".into(),
            from: d("2026-12-01"),
            to: d("2026-12-04"),
            units: 2,
            giver: Authority::Server(pa),
            receiver: Authority::Env,
            reason: "test".into(),
            at: "2026-11-30T00:00:00Z".parse().unwrap(),
        };
        let deltas = grant_deltas(&g);
        assert_eq!(deltas.len(), 6);
        for n in g.nights().iter() {
            let sum: i64 = deltas
                .iter()
                .filter(|x| x.night == n)
                .map(|x| x.delta)
                .sum();
            assert_eq!(sum, 0);
        }
        let _ = wb;
    }

    #[test]
    fn runs_group_equal_consecutive_nights() {
        let r = runs([
            (d("2026-12-01"), 2),
            (d("2026-12-02"), 2),
            (d("2026-12-03"), 0),
            (d("2026-12-04"), 1),
            (d("2026-12-05"), 2),
        ]);
        assert_eq!(
            r,
            vec![
                PlannedGrant {
                    nights: Nights {
                        from: d("2026-12-01"),
                        to: d("2026-12-03")
                    },
                    units: 2
                },
                PlannedGrant {
                    nights: Nights {
                        from: d("2026-12-04"),
                        to: d("2026-12-05")
                    },
                    units: 1
                },
                PlannedGrant {
                    nights: Nights {
                        from: d("2026-12-05"),
                        to: d("2026-12-06")
                    },
                    units: 2
                },
            ]
        );
    }

    #[test]
    fn a_top_up_gives_what_the_holder_lacks_as_far_as_the_owner_can() {
        let holder = [
            night("2026-12-01", 5, 0, 0, 0),
            night("2026-12-02", 5, 0, 1, 1),
            night("2026-12-03", 5, 0, 2, 0),
        ];
        let owner = [
            night("2026-12-01", 5, 0, 5, 4),
            night("2026-12-02", 5, 0, 4, 0),
            night("2026-12-03", 5, 0, 3, 0),
        ];
        let plan = plan_top_up(2, &holder, &owner);
        let units: Vec<_> = plan.iter().map(|p| (p.nights.from, p.units)).collect();
        // Night 1: lacks 2, owner has 1 unsold. Night 2: lacks 1. Night 3: has its 2.
        assert_eq!(units, vec![(d("2026-12-01"), 1)]);
        assert_eq!(plan[0].nights.to, d("2026-12-03"));
    }

    #[test]
    fn a_release_returns_every_unsold_unit() {
        let holder = [
            night("2026-12-01", 5, 0, 2, 1),
            night("2026-12-02", 5, 0, 2, 2),
        ];
        assert_eq!(
            plan_release(&holder),
            vec![PlannedGrant {
                nights: Nights {
                    from: d("2026-12-01"),
                    to: d("2026-12-02")
                },
                units: 1
            }]
        );
    }
}

//! Who may sell a property's rooms, night by night, in one read that cannot be misread: the
//! rooms still free at the property, how many of them this server may sell, and which other
//! holders hold the rest. The UI's availability shows this instead of a bare "sellable here"
//! number, which reads as "full" on a server that simply holds no units.

use crate::error::StoreError;
use crate::holdings::Holdings;
use crate::read::{Availability, ReadPool};
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::Authority;
use serde::{Deserialize, Serialize};

/// One holder's free units on one night.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderFree {
    /// The holder.
    pub holder: Authority,
    /// Units it holds.
    pub held: i64,
    /// Units it has sold.
    pub sold: u32,
    /// Units it may still sell (never below zero).
    pub free: u32,
}

/// One night of one room type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightWhoSells {
    /// The night.
    pub date: NaiveDate,
    /// Rooms in service.
    pub in_service: u32,
    /// Units held by live bookings, whoever sold them.
    pub booked: u32,
    /// Rooms nobody has sold: free at the property.
    pub free_at_property: u32,
    /// Of those, how many this server may sell now.
    pub sellable_here: u32,
    /// Every holder with its free units, the property's owner first.
    pub holders: Vec<HolderFree>,
}

/// A room type's nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeWhoSells {
    /// Room type code.
    pub code: String,
    /// Room type name.
    pub name: String,
    /// Each night in order.
    pub nights: Vec<NightWhoSells>,
}

/// A property's nights: free rooms, what this server sells, who holds the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoSells {
    /// Property code.
    pub property: String,
    /// Each room type.
    pub room_types: Vec<TypeWhoSells>,
}

/// Puts availability (what this server sells) and holdings (who holds what) side by side.
/// Pure, so the rule "free at the property = in service − booked" is tested without a store.
pub fn combine(a: &Availability, h: Option<&Holdings>) -> WhoSells {
    let room_types = a
        .room_types
        .iter()
        .map(|t| {
            let held = h.and_then(|h| h.room_types.iter().find(|x| x.code == t.code));
            let nights = t
                .nights
                .iter()
                .map(|n| {
                    let holders = held
                        .and_then(|x| x.nights.iter().find(|hn| hn.date == n.date))
                        .map(|hn| {
                            hn.holders
                                .iter()
                                .map(|x| HolderFree {
                                    holder: x.holder.clone(),
                                    held: x.held,
                                    sold: x.sold,
                                    free: u32::try_from((x.held - i64::from(x.sold)).max(0))
                                        .unwrap_or(u32::MAX),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    NightWhoSells {
                        date: n.date,
                        in_service: n.total,
                        booked: n.booked,
                        free_at_property: n.total.saturating_sub(n.booked),
                        sellable_here: n.available,
                        holders,
                    }
                })
                .collect();
            TypeWhoSells {
                code: t.code.clone(),
                name: t.name.clone(),
                nights,
            }
        })
        .collect();
    WhoSells {
        property: a.property.clone(),
        room_types,
    }
}

impl ReadPool {
    /// Who may sell `property`'s rooms over `nights`; `None` when the property is unknown.
    pub fn who_sells(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Option<WhoSells>, StoreError> {
        if self.property(property)?.is_none() {
            return Ok(None);
        }
        let a = self.availability(property, nights)?;
        let h = self.holdings(property, nights)?;
        Ok(Some(combine(&a, h.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holdings::{HolderNight, NightHoldings, RoomTypeHoldings};
    use crate::read::{NightAvailability, RoomTypeNights};

    #[test]
    fn an_empty_lodge_is_free_even_where_this_server_sells_nothing() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let pa = Authority::parse("server:PA").unwrap();
        let a = Availability {
            position: Default::default(),
            property: "KRL".into(),
            from: d,
            to: d.succ_opt().unwrap(),
            room_types: vec![RoomTypeNights {
                code: "FAM".into(),
                name: "Family".into(),
                nights: vec![NightAvailability {
                    date: d,
                    total: 4,
                    booked: 1,
                    available: 0,
                    held_here: 0,
                }],
            }],
        };
        let h = Holdings {
            property: "KRL".into(),
            owner: pa.clone(),
            from: a.from,
            to: a.to,
            room_types: vec![RoomTypeHoldings {
                code: "FAM".into(),
                name: "Family".into(),
                nights: vec![NightHoldings {
                    date: d,
                    in_service: 4,
                    sold: 1,
                    holders: vec![
                        HolderNight {
                            holder: pa.clone(),
                            held: 3,
                            sold: 1,
                        },
                        HolderNight {
                            holder: Authority::Env,
                            held: 1,
                            sold: 2,
                        },
                    ],
                }],
            }],
        };
        let w = combine(&a, Some(&h));
        let n = &w.room_types[0].nights[0];
        assert_eq!((n.free_at_property, n.sellable_here), (3, 0));
        assert_eq!(n.holders[0].free, 2);
        assert_eq!(
            n.holders[1].free, 0,
            "an oversold holder has nothing, not a negative"
        );
        let bare = combine(&a, None);
        assert!(bare.room_types[0].nights[0].holders.is_empty());
    }
}

//! Who holds what: every holder's allotment and sales of a property's room types, night by
//! night, and the shortfalls among them — what the allotments API, the UI's grid and the
//! operators' alerts show. Derived here from the same tables the writer's checks read.

use crate::error::StoreError;
use crate::read::ReadPool;
use crate::sql_view::{night_text, parse_night};
use chrono::NaiveDate;
use innsync_core::allotment::Shortfall;
use innsync_core::dates::Nights;
use innsync_core::{Authority, RecordId};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most shortfalls one report lists.
pub const MAX_SHORTFALLS: usize = 1_000;

/// One holder on one night.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderNight {
    /// The holder.
    pub holder: Authority,
    /// Units it holds.
    pub held: i64,
    /// Units it has sold.
    pub sold: u32,
}

/// One night of one room type: its rooms and how they are split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightHoldings {
    /// The night.
    pub date: NaiveDate,
    /// Rooms in service.
    pub in_service: u32,
    /// Units sold by every holder.
    pub sold: u32,
    /// Every holder of the room type in the range, the property's owner first.
    pub holders: Vec<HolderNight>,
}

/// A room type's nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTypeHoldings {
    /// Room type code.
    pub code: String,
    /// Room type name.
    pub name: String,
    /// Each night in order.
    pub nights: Vec<NightHoldings>,
}

/// A property's allotments over a range of nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holdings {
    /// Property code.
    pub property: String,
    /// Its owner: the default holder, who holds whatever it has not given away.
    pub owner: Authority,
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Each room type.
    pub room_types: Vec<RoomTypeHoldings>,
}

impl Holdings {
    /// Every holder-night whose sales exceed what it holds.
    pub fn short(&self) -> impl Iterator<Item = (&str, &NightHoldings, &HolderNight)> {
        self.room_types.iter().flat_map(|t| {
            t.nights.iter().flat_map(move |n| {
                n.holders
                    .iter()
                    .filter(|h| i64::from(h.sold) > h.held)
                    .map(move |h| (t.code.as_str(), n, h))
            })
        })
    }
}

type Key = (String, NaiveDate, String);

impl ReadPool {
    /// Every holder's allotment and sales of `property` on `nights`; `None` if there is no such
    /// property.
    pub fn holdings(&self, property: &str, nights: Nights) -> Result<Option<Holdings>, StoreError> {
        let Some(prop) = self.property(property)? else {
            return Ok(None);
        };
        let types = self.room_types(property)?;
        let owner = prop.meta.owner.clone();
        self.with(|c| {
            let (from, to) = (night_text(nights.from), night_text(nights.to));
            let mut capacity: BTreeMap<String, i64> = BTreeMap::new();
            let mut st =
                c.prepare_cached("SELECT room_type, rooms FROM capacity WHERE property = ?1")?;
            let mut rows = st.query([property])?;
            while let Some(r) = rows.next()? {
                capacity.insert(r.get(0)?, r.get(1)?);
            }
            let mut ooo: BTreeMap<(String, NaiveDate), i64> = BTreeMap::new();
            let mut sold: BTreeMap<Key, i64> = BTreeMap::new();
            let mut net: BTreeMap<Key, i64> = BTreeMap::new();
            let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (sql, what) in [
                ("SELECT room_type, night, rooms, '' FROM out_of_order WHERE property = ?1 AND night >= ?2 AND night < ?3", 0),
                ("SELECT room_type, night, units, holder FROM sold WHERE property = ?1 AND night >= ?2 AND night < ?3", 1),
                ("SELECT room_type, night, units, holder FROM allotments WHERE property = ?1 AND night >= ?2 AND night < ?3", 2),
            ] {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(params![property, from, to])?;
                while let Some(r) = rows.next()? {
                    let ty: String = r.get(0)?;
                    let night = parse_night(&r.get::<_, String>(1)?)?;
                    let v: i64 = r.get(2)?;
                    let holder: String = r.get(3)?;
                    match what {
                        0 => {
                            ooo.insert((ty, night), v);
                        }
                        _ => {
                            if v != 0 {
                                holders.entry(ty.clone()).or_default().insert(holder.clone());
                            }
                            let map = if what == 1 { &mut sold } else { &mut net };
                            map.insert((ty, night, holder), v);
                        }
                    }
                }
            }
            let owner_text = owner.to_string();
            let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            let mut room_types = Vec::with_capacity(types.len());
            for t in types {
                let mut who: Vec<String> = vec![owner_text.clone()];
                who.extend(
                    holders
                        .get(&t.code)
                        .into_iter()
                        .flatten()
                        .filter(|h| **h != owner_text)
                        .cloned(),
                );
                let cap = capacity.get(&t.code).copied().unwrap_or(0);
                let mut out_nights = Vec::with_capacity(nights.len());
                for night in nights.iter() {
                    let in_service = cap - ooo.get(&(t.code.clone(), night)).copied().unwrap_or(0);
                    let mut total = 0i64;
                    let mut list = Vec::with_capacity(who.len());
                    for h in &who {
                        let key = (t.code.clone(), night, h.clone());
                        let s = sold.get(&key).copied().unwrap_or(0);
                        total += s;
                        let base = if *h == owner_text { in_service } else { 0 };
                        list.push(HolderNight {
                            holder: Authority::parse(h).map_err(StoreError::Corrupt)?,
                            held: base + net.get(&key).copied().unwrap_or(0),
                            sold: clamp(s),
                        });
                    }
                    debug_assert_eq!(
                        list.iter().map(|h| h.held).sum::<i64>(),
                        in_service,
                        "the allotments of a night add up to its rooms"
                    );
                    out_nights.push(NightHoldings {
                        date: night,
                        in_service: clamp(in_service),
                        sold: clamp(total),
                        holders: list,
                    });
                }
                room_types.push(RoomTypeHoldings {
                    code: t.code,
                    name: t.name,
                    nights: out_nights,
                });
            }
            Ok(Some(Holdings {
                property: property.to_string(),
                owner,
                from: nights.from,
                to: nights.to,
                room_types,
            }))
        })
    }

    /// How many holder-nights of every property, from `from` over the coming year, are sold
    /// beyond what their holder holds: the gauge operators alert on.
    pub fn shortfall_count(&self, from: NaiveDate) -> Result<usize, StoreError> {
        let nights = Nights {
            from,
            to: from + chrono::Days::new(365),
        };
        let mut n = 0;
        for p in self.properties()? {
            if let Some(h) = self.holdings(&p.code, nights)? {
                n += h.short().count();
            }
        }
        Ok(n)
    }

    /// The shortfalls of `property` on `nights`: each holder-night sold beyond what it holds,
    /// with the holder's live bookings on that night. At most [`MAX_SHORTFALLS`].
    pub fn shortfalls(&self, property: &str, nights: Nights) -> Result<Vec<Shortfall>, StoreError> {
        let Some(h) = self.holdings(property, nights)? else {
            return Ok(vec![]);
        };
        let short: Vec<(String, NaiveDate, HolderNight)> = h
            .short()
            .take(MAX_SHORTFALLS)
            .map(|(t, n, hn)| (t.to_string(), n.date, hn.clone()))
            .collect();
        if short.is_empty() {
            return Ok(vec![]);
        }
        self.with(|c| {
            // A booking is sold from its owner's allotment (the core keeps holder = owner).
            let mut st = c.prepare_cached(
                "SELECT id FROM bookings WHERE property = ?1 AND room_type = ?2 AND owner = ?3
                 AND arrival <= ?4 AND departure > ?4
                 AND status IN ('provisional', 'confirmed', 'checked_in') ORDER BY id",
            )?;
            let mut out = Vec::with_capacity(short.len());
            for (ty, night, hn) in short {
                let ids = st
                    .query_map(
                        params![property, ty, hn.holder.to_string(), night_text(night)],
                        |r| r.get::<_, String>(0),
                    )?
                    .map(|r| {
                        r.map_err(StoreError::from)
                            .and_then(|s| RecordId::parse(&s).map_err(StoreError::Corrupt))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(Shortfall {
                    property: property.to_string(),
                    room_type: ty,
                    night,
                    holder: hn.holder,
                    held: hn.held,
                    sold: hn.sold,
                    bookings: ids,
                });
            }
            Ok(out)
        })
    }
}

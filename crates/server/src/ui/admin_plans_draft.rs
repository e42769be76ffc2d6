//! The rate-plan form's contents (`admin_plans.rs` renders and saves it): the form as typed
//! (`Draft`, strings, so a refused form shows what was typed), read from a plan or from the
//! posted fields, and the plan it describes on top of the stored one — what the simple form does
//! not show (restrictions, deposit, cancellation, child prices) kept as it was. Amounts are typed
//! in the currency's units and stored in minor units.

use super::session::UiUser;
use crate::problem::Problem;
use innsync_core::pricing::{OccupancyPrice, PlanSpec, PricingPlan, Season};
use innsync_core::RoomType;
use std::collections::HashMap;

/// Season rows the form offers beyond the plan's own (empty ones are ignored).
pub const EXTRA_SEASON_ROWS: usize = 1;
/// Most season rows the form reads.
pub const MAX_SEASON_ROWS: usize = 24;
/// Adults a room price includes when the operator leaves it empty.
pub const DEFAULT_ADULTS_INCLUDED: u32 = 2;

/// Minor units typed as the currency's units (`80`, `80.5`, `1,234.50`); empty is `None`.
pub fn minor_units(field: &str, v: &str) -> Result<Option<i64>, Problem> {
    let t: String = v.chars().filter(|c| !matches!(c, ',' | ' ')).collect();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || Problem::invalid(format!("{field}: {v:?} is not an amount like 80 or 80.50"));
    let (units, cents) = t.split_once('.').unwrap_or((&t, ""));
    if units.is_empty() || cents.len() > 2 || !units.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if !cents.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .map(Some)
        .ok_or_else(bad)
}

/// An amount in the currency's units as a field shows it (`80.50`).
pub(super) fn units(amount: i64) -> String {
    format!("{}.{:02}", amount / 100, amount % 100)
}

/// The form as typed (or as the plan is): strings, so a refused form shows what was typed.
pub(super) struct Draft {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) reprice: bool,
    pub(super) refundable: bool,
    /// Per room type: price, adults included.
    pub(super) prices: Vec<(String, String, String)>,
    pub(super) seasons: Vec<SeasonDraft>,
}

pub(super) struct SeasonDraft {
    pub(super) name: String,
    pub(super) from: String,
    pub(super) to: String,
    /// Per room type: price.
    pub(super) prices: Vec<(String, String)>,
}

impl SeasonDraft {
    pub(super) fn empty(types: &[RoomType]) -> Self {
        Self {
            name: String::new(),
            from: String::new(),
            to: String::new(),
            prices: types
                .iter()
                .map(|t| (t.code.clone(), String::new()))
                .collect(),
        }
    }
}

impl Draft {
    pub(super) fn empty(types: &[RoomType]) -> Self {
        Self {
            code: String::new(),
            name: String::new(),
            version: String::new(),
            reprice: false,
            refundable: true,
            prices: types
                .iter()
                .map(|t| (t.code.clone(), String::new(), String::new()))
                .collect(),
            seasons: (0..EXTRA_SEASON_ROWS)
                .map(|_| SeasonDraft::empty(types))
                .collect(),
        }
    }

    pub(super) fn of(p: &PricingPlan, types: &[RoomType], user: &UiUser) -> Self {
        let price_of = |list: &[OccupancyPrice], t: &str| {
            list.iter()
                .find(|o| o.room_type == t)
                .and_then(|o| o.amount)
                .map(units)
                .unwrap_or_default()
        };
        let mut seasons: Vec<SeasonDraft> = p
            .spec
            .seasons
            .iter()
            .map(|s| SeasonDraft {
                name: s.name.clone(),
                from: user.dates.show(s.from),
                to: user.dates.show(s.to),
                prices: types
                    .iter()
                    .map(|t| (t.code.clone(), price_of(&s.prices, &t.code)))
                    .collect(),
            })
            .collect();
        seasons.extend((0..EXTRA_SEASON_ROWS).map(|_| SeasonDraft::empty(types)));
        Self {
            code: p.code.clone(),
            name: p.spec.name.clone(),
            version: p.meta.version.to_string(),
            reprice: p.spec.reprice_on_edit,
            refundable: p.spec.refundable,
            prices: types
                .iter()
                .map(|t| {
                    let o = p.spec.occupancy.iter().find(|o| o.room_type == t.code);
                    (
                        t.code.clone(),
                        price_of(&p.spec.occupancy, &t.code),
                        o.map(|o| o.adults_included.to_string()).unwrap_or_default(),
                    )
                })
                .collect(),
            seasons,
        }
    }

    pub(super) fn posted(m: &HashMap<String, String>, types: &[RoomType]) -> Self {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        let mut seasons = vec![];
        for i in 0..MAX_SEASON_ROWS {
            if !m.contains_key(&format!("season{i}_name")) {
                break;
            }
            seasons.push(SeasonDraft {
                name: get(&format!("season{i}_name")),
                from: get(&format!("season{i}_from")),
                to: get(&format!("season{i}_to")),
                prices: types
                    .iter()
                    .map(|t| (t.code.clone(), get(&format!("season{i}_price_{}", t.code))))
                    .collect(),
            });
        }
        Self {
            code: get("code").trim().to_string(),
            name: get("name"),
            version: get("version"),
            reprice: m.contains_key("reprice_on_edit"),
            refundable: m.contains_key("refundable"),
            prices: types
                .iter()
                .map(|t| {
                    (
                        t.code.clone(),
                        get(&format!("price_{}", t.code)),
                        get(&format!("adults_{}", t.code)),
                    )
                })
                .collect(),
            seasons,
        }
    }
}

/// The plan the form describes, on top of `base` (what the form does not show is kept).
pub(super) fn spec_of(
    user: &UiUser,
    d: &Draft,
    base: Option<&PlanSpec>,
) -> Result<PlanSpec, Problem> {
    let mut spec = match base {
        Some(b) => b.clone(),
        None => serde_json::from_value(serde_json::json!({"name": "", "basis": {"kind": "base"}}))
            .map_err(|e| Problem::invalid(e.to_string()))?,
    };
    spec.name = d.name.trim().to_string();
    spec.reprice_on_edit = d.reprice;
    spec.refundable = d.refundable;
    let old = spec.occupancy.clone();
    let mut occupancy = vec![];
    for (t, price, adults) in &d.prices {
        let amount = minor_units(&format!("price ({t})"), price)?;
        let adults: Option<u32> = match adults.trim() {
            "" => None,
            a => Some(a.parse().map_err(|_| {
                Problem::invalid(format!(
                    "adults included ({t}): {a:?} is not a whole number"
                ))
            })?),
        };
        let kept = old.iter().find(|o| &o.room_type == t);
        if amount.is_none() && adults.is_none() && kept.is_none() {
            continue;
        }
        let mut o = kept
            .cloned()
            .unwrap_or_else(|| occupancy_price(t, None, DEFAULT_ADULTS_INCLUDED));
        o.amount = amount;
        if let Some(a) = adults {
            o.adults_included = a;
        }
        occupancy.push(o);
    }
    occupancy.extend(
        old.into_iter()
            .filter(|o| !d.prices.iter().any(|(t, _, _)| *t == o.room_type)),
    );
    let included = |t: &str| {
        occupancy
            .iter()
            .find(|o| o.room_type == t)
            .map_or(DEFAULT_ADULTS_INCLUDED, |o| o.adults_included)
    };
    let mut seasons = vec![];
    for (i, s) in d.seasons.iter().enumerate() {
        let typed = !s.name.trim().is_empty()
            || !s.from.trim().is_empty()
            || !s.to.trim().is_empty()
            || s.prices.iter().any(|(_, p)| !p.trim().is_empty());
        if !typed {
            continue;
        }
        let n = i + 1;
        let date = |what: &str, v: &str| {
            user.dates
                .opt(&format!("season {n}: {what}"), Some(v))
                .and_then(|d| d.ok_or_else(|| format!("season {n}: {what}: required")))
                .map_err(Problem::invalid)
        };
        let kept = spec.seasons.get(i);
        let mut prices = vec![];
        for (t, price) in &s.prices {
            if let Some(a) = minor_units(&format!("season {n}: price ({t})"), price)? {
                let mut o = kept
                    .and_then(|k| k.prices.iter().find(|o| &o.room_type == t).cloned())
                    .unwrap_or_else(|| occupancy_price(t, None, included(t)));
                o.amount = Some(a);
                prices.push(o);
            }
        }
        seasons.push(Season {
            name: s.name.trim().to_string(),
            from: date("first night", &s.from)?,
            to: date("end", &s.to)?,
            prices,
        });
    }
    spec.occupancy = occupancy;
    spec.seasons = seasons;
    Ok(spec)
}

fn occupancy_price(room_type: &str, amount: Option<i64>, adults_included: u32) -> OccupancyPrice {
    OccupancyPrice {
        room_type: room_type.to_string(),
        amount,
        adults_included,
        extra_adult: 0,
        children: vec![],
        max_adults: None,
    }
}

#[cfg(test)]
mod tests {
    use super::minor_units;

    #[test]
    fn amounts_are_typed_in_units() {
        assert_eq!(minor_units("x", "80").ok(), Some(Some(8000)));
        assert_eq!(minor_units("x", "80.5").ok(), Some(Some(8050)));
        assert_eq!(minor_units("x", "1,234.05").ok(), Some(Some(123_405)));
        assert_eq!(minor_units("x", " ").ok(), Some(None));
        for bad in ["-5", "8.005", "abc", ".5", "1.2.3"] {
            assert!(minor_units("x", bad).is_err(), "{bad}");
        }
    }
}

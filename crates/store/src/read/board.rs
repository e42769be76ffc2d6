//! The read state for search traffic: per property its reference records (room types, nightly
//! rates, rate plans — parsed once) and its stock over a window of nights, kept at one
//! change-log position. A read compares its snapshot's position with the board's: equal, it
//! answers from memory; further on, the board first catches up by reading only the changes in
//! between and re-reading the cells they touched (a booking: its room type on its nights, old
//! and new) — so the cost of a read is the cells it asks for, whatever the database holds, and
//! a write costs the readers one small catch-up, not a rebuild.
//!
//! Why it cannot serve a stale cell: the board only ever re-reads counters (it never applies
//! deltas of its own), everything that can change a counter is a logged change after the
//! board's position (a booking, a room, a grant, a master token…) or shows in the open
//! conflicts (a blocked change applied late), and the re-read happens in the snapshot whose
//! position the board then takes.

use super::here;
use super::position::Position;
use super::stock::StockGrid;
use super::touch::{touches_between, Touch};
use crate::error::StoreError;
use crate::sql_view::load_record;
use chrono::Days;
use innsync_core::dates::Nights;
use innsync_core::pricing::PricingPlan;
use innsync_core::{Property, RatePlan, Record, RoomType};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Nights a window starts before the first night asked for.
pub const WINDOW_LEAD_NIGHTS: u64 = 31;
/// Nights a property's window holds: a booking engine's horizon (two years and a bit).
pub const WINDOW_NIGHTS: u64 = 800;
/// Reads answered from a window before a read outside it may move it (so alternating far-apart
/// reads cannot make every read rebuild a window).
pub const HITS_BEFORE_MOVE: u64 = 1_000;

/// A property's reference records, parsed once per version.
#[derive(Debug)]
pub(crate) struct Reference {
    /// The property.
    pub(crate) property: Property,
    /// Its room types, by code.
    pub(crate) room_types: Vec<RoomType>,
    /// Its nightly rates.
    pub(crate) rates: Vec<RatePlan>,
    /// Its rate plans.
    pub(crate) plans: Vec<PricingPlan>,
}

impl Reference {
    /// Reads a property's reference records; `None` if there is no such property.
    pub(crate) fn load(c: &Connection, code: &str) -> Result<Option<Self>, StoreError> {
        let Some(Record::Property(property)) = load_record(c, "property", code)? else {
            return Ok(None);
        };
        let (lo, hi) = super::prefix(code);
        let of = |kind: &str| -> Result<Vec<Record>, StoreError> {
            super::bodies(c, super::BY_PREFIX, params![kind, lo, hi], Some)
        };
        let room_types = of("room_type")?
            .into_iter()
            .filter_map(|r| match r {
                Record::RoomType(t) => Some(t),
                _ => None,
            })
            .collect();
        let rates = of("rate_plan")?
            .into_iter()
            .filter_map(|r| match r {
                Record::RatePlan(t) => Some(t),
                _ => None,
            })
            .collect();
        let plans = of("pricing_plan")?
            .into_iter()
            .filter_map(|r| match r {
                Record::PricingPlan(p) => Some(p),
                _ => None,
            })
            .collect();
        Ok(Some(Self {
            property,
            room_types,
            rates,
            plans,
        }))
    }

    /// The grid of this property over `nights`, read now.
    pub(crate) fn grid(&self, c: &Connection, nights: Nights) -> Result<StockGrid, StoreError> {
        let codes = self.room_types.iter().map(|t| t.code.clone()).collect();
        let owner = self.property.meta.owner.to_string();
        StockGrid::load(c, &self.property.code, codes, &owner, nights)
    }
}

/// One property on the board.
#[derive(Debug)]
pub(crate) struct PropertyState {
    /// Its reference records.
    pub(crate) reference: Arc<Reference>,
    /// Its stock over the window.
    pub(crate) grid: StockGrid,
    /// Reads answered since the window was loaded (counted under the board's read lock too).
    hits: AtomicU64,
}

/// The board: every property read so far, at one position.
#[derive(Debug, Default)]
pub(crate) struct Board {
    position: Option<Position>,
    /// The writer's commit count the board is known to hold every commit of
    /// (`commits.rs`); `None`: not known, read with a snapshot.
    generation: Option<u64>,
    open_conflicts: i64,
    here: String,
    properties: HashMap<String, PropertyState>,
}

/// What a read gets: the property's state from the board, or read for this request alone.
pub(crate) enum Served<'b> {
    /// From the board.
    Board(&'b PropertyState),
    /// Read for this request (its nights lie outside the window, or the snapshot is older
    /// than the board).
    Alone(Arc<Reference>, StockGrid),
}

impl Served<'_> {
    /// The reference records.
    pub(crate) fn reference(&self) -> &Reference {
        match self {
            Served::Board(p) => &p.reference,
            Served::Alone(r, _) => r,
        }
    }

    /// The stock grid (it holds the nights asked for).
    pub(crate) fn grid(&self) -> &StockGrid {
        match self {
            Served::Board(p) => &p.grid,
            Served::Alone(_, g) => g,
        }
    }
}

impl Board {
    /// The authority this server sells under, as of the board's position.
    pub(crate) fn here(&self) -> &str {
        &self.here
    }

    /// Records that the board, just caught up to a snapshot started after the writer's count
    /// read `seen`, holds every commit that count counts.
    pub(crate) fn caught_up_with(&mut self, seen: u64) {
        debug_assert!(self.position.is_some(), "tagged only once caught up");
        self.generation = Some(self.generation.map_or(seen, |g| g.max(seen)));
    }

    /// The board's position if it holds every commit of the writer's count `seen`.
    pub(crate) fn position_at(&self, seen: u64) -> Option<&Position> {
        (self.generation == Some(seen))
            .then_some(self.position.as_ref())
            .flatten()
    }

    /// What a read of `property` over `nights` gets from memory when the writer's count is
    /// `seen`: the property's state, the authority sold under and the position — if the
    /// board holds every commit of that count and the window holds the nights.
    pub(crate) fn now(
        &self,
        seen: u64,
        property: &str,
        nights: &Nights,
    ) -> Option<(Served<'_>, &str, &Position)> {
        let pos = self.position_at(seen)?;
        let state = self.properties.get(property)?;
        if !state.grid.holds(nights) {
            return None;
        }
        state.hits.fetch_add(1, Ordering::Relaxed);
        Some((Served::Board(state), &self.here, pos))
    }

    /// Brings the board to `pos`, the position of `c`'s snapshot. `false` when the snapshot
    /// is older than the board (the caller reads alone).
    pub(crate) fn catch_up(&mut self, c: &Connection, pos: &Position) -> Result<bool, StoreError> {
        let Some(at) = &self.position else {
            self.start_afresh(c, pos)?;
            return Ok(true);
        };
        if at == pos {
            return Ok(true);
        }
        if !pos.covers(at) {
            return Ok(false);
        }
        let conflicts = open_conflicts(c)?;
        let touches = if conflicts == self.open_conflicts {
            touches_between(c, at, pos)?
        } else {
            None
        };
        let Some(touches) = touches else {
            self.start_afresh(c, pos)?;
            return Ok(true);
        };
        let mut prices = std::collections::BTreeSet::new();
        for t in touches {
            match t {
                Touch::Nothing => {}
                Touch::Prices(p) => {
                    prices.insert(p);
                }
                Touch::Property(p) => {
                    self.properties.remove(&p);
                }
                Touch::All => {
                    self.start_afresh(c, pos)?;
                    return Ok(true);
                }
                Touch::Cells(b) => {
                    let Some(state) = self.properties.get_mut(&b.property) else {
                        continue;
                    };
                    let known =
                        state
                            .grid
                            .refresh(c, &b.property, &b.room_type, b.arrival, b.departure)?;
                    if !known {
                        self.properties.remove(&b.property);
                    }
                }
            }
        }
        for p in prices {
            if let Some(state) = self.properties.get_mut(&p) {
                match Reference::load(c, &p)? {
                    Some(r) => state.reference = Arc::new(r),
                    None => {
                        self.properties.remove(&p);
                    }
                }
            }
        }
        self.position = Some(pos.clone());
        Ok(true)
    }

    fn start_afresh(&mut self, c: &Connection, pos: &Position) -> Result<(), StoreError> {
        self.properties.clear();
        self.open_conflicts = open_conflicts(c)?;
        self.here = here(c)?.to_string();
        self.position = Some(pos.clone());
        Ok(())
    }

    /// The state of `property` for a read of `nights` (loaded into the board if it is not
    /// there yet); `None` if there is no such property.
    pub(crate) fn serve(
        &mut self,
        c: &Connection,
        property: &str,
        nights: Nights,
    ) -> Result<Option<Served<'_>>, StoreError> {
        let load = match self.properties.get(property) {
            None => true,
            // Search traffic moved on (the days pass): move the window once it has served.
            Some(s) => !s.grid.holds(&nights) && s.hits.load(Ordering::Relaxed) >= HITS_BEFORE_MOVE,
        };
        if load {
            let reference = match self.properties.get(property) {
                Some(s) => s.reference.clone(),
                None => match Reference::load(c, property)? {
                    Some(r) => Arc::new(r),
                    None => return Ok(None),
                },
            };
            let grid = reference.grid(c, window_for(nights))?;
            self.properties.insert(
                property.to_string(),
                PropertyState {
                    reference,
                    grid,
                    hits: AtomicU64::new(0),
                },
            );
        }
        let Some(state) = self.properties.get_mut(property) else {
            return Ok(None);
        };
        if state.grid.holds(&nights) {
            state.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Served::Board(state)));
        }
        let reference = state.reference.clone();
        let grid = reference.grid(c, nights)?;
        Ok(Some(Served::Alone(reference, grid)))
    }

    /// For a read whose snapshot is older than the board: the board's state of `property`
    /// if it holds `nights` (newer, and committed), with the board's position.
    pub(crate) fn cached(
        &self,
        property: &str,
        nights: &Nights,
    ) -> Option<(Served<'_>, &Position)> {
        let state = self.properties.get(property)?;
        let at = self.position.as_ref()?;
        state
            .grid
            .holds(nights)
            .then_some((Served::Board(state), at))
    }
}

/// A read alone (its snapshot is older than the board's): everything read now.
pub(crate) fn alone(
    c: &Connection,
    property: &str,
    nights: Nights,
) -> Result<Option<Served<'static>>, StoreError> {
    let Some(reference) = Reference::load(c, property)? else {
        return Ok(None);
    };
    let grid = reference.grid(c, nights)?;
    Ok(Some(Served::Alone(Arc::new(reference), grid)))
}

/// The window loaded for a first read of `nights`.
fn window_for(nights: Nights) -> Nights {
    let from = nights
        .from
        .checked_sub_days(Days::new(WINDOW_LEAD_NIGHTS))
        .unwrap_or(nights.from);
    let to = from
        .checked_add_days(Days::new(WINDOW_NIGHTS))
        .unwrap_or(nights.to)
        .max(nights.to);
    Nights { from, to }
}

fn open_conflicts(c: &Connection) -> Result<i64, StoreError> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM conflicts WHERE status = 'open'")?
            .query_row([], |r| r.get(0))?,
    )
}

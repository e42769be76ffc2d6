//! A property's stock over a window of nights, per room type and night: rooms in service, and
//! per holder the units it holds net of grants and the units it sold — the writer's derived
//! counters (`capacity`, `out_of_order`, `sold`, `allotments`) folded into arrays. Every read
//! seeks by (property, room type, night range), so its cost is the cells asked for, never the
//! size of the database. The availability read and the quote both fold from it.

use crate::error::StoreError;
use crate::sql_view::{night_text, parse_night};
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use rusqlite::{params, Connection};

/// Stock of one property's room types over `nights`; cell `i * n + k` is room type `i` on the
/// window's night `k`.
#[derive(Clone, Debug)]
pub(crate) struct StockGrid {
    /// The window.
    pub(crate) nights: Nights,
    /// Room type codes, in the property's order.
    pub(crate) codes: Vec<String>,
    /// Rooms of each type (before out-of-order periods).
    capacity: Vec<i64>,
    /// Rooms in service per cell.
    pub(crate) in_service: Vec<i64>,
    /// Holders in order of first sight, the property's owner first.
    pub(crate) holders: Vec<String>,
    /// Per holder, units granted to it net of those it gave, per cell.
    pub(crate) held: Vec<Vec<i64>>,
    /// Per holder, units sold from its allotment, per cell.
    pub(crate) sold: Vec<Vec<i64>>,
}

impl StockGrid {
    /// Reads the grid of `property` (owned by `owner`) for room types `codes` over `nights`.
    pub(crate) fn load(
        c: &Connection,
        property: &str,
        codes: Vec<String>,
        owner: &str,
        nights: Nights,
    ) -> Result<Self, StoreError> {
        let cells = codes.len() * nights.len();
        let mut g = Self {
            nights,
            capacity: vec![0; codes.len()],
            in_service: vec![0; cells],
            holders: vec![owner.to_string()],
            held: vec![vec![0; cells]],
            sold: vec![vec![0; cells]],
            codes,
        };
        for i in 0..g.codes.len() {
            g.read_type(c, property, i, nights.from, nights.to, true)?;
        }
        Ok(g)
    }

    /// Nights in the window.
    pub(crate) fn n(&self) -> usize {
        self.nights.len()
    }

    /// Whether the window holds every night of `nights`.
    pub(crate) fn holds(&self, nights: &Nights) -> bool {
        nights.from >= self.nights.from && nights.to <= self.nights.to
    }

    /// The window's index of `night` (which it must hold).
    pub(crate) fn offset(&self, night: NaiveDate) -> usize {
        usize::try_from((night - self.nights.from).num_days()).unwrap_or(0)
    }

    /// Which holder `h` is, added if new.
    fn holder(&mut self, h: &str) -> usize {
        match self.holders.iter().position(|x| x == h) {
            Some(p) => p,
            None => {
                let cells = self.in_service.len();
                self.holders.push(h.to_string());
                self.held.push(vec![0; cells]);
                self.sold.push(vec![0; cells]);
                self.holders.len() - 1
            }
        }
    }

    /// Reads room type `code` again on the nights of `from..to` that the window holds (after a
    /// write touched them); `false` if the grid does not know the room type.
    pub(crate) fn refresh(
        &mut self,
        c: &Connection,
        property: &str,
        code: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<bool, StoreError> {
        let Some(i) = self.codes.iter().position(|t| t == code) else {
            return Ok(false);
        };
        let (from, to) = (from.max(self.nights.from), to.min(self.nights.to));
        if from < to {
            self.read_type(c, property, i, from, to, false)?;
        }
        Ok(true)
    }

    /// Sets room type `i`'s cells of `from..to` from the counters: capacity (with `capacity`
    /// re-read), out of order, every holder's sales and net grants.
    fn read_type(
        &mut self,
        c: &Connection,
        property: &str,
        i: usize,
        from: NaiveDate,
        to: NaiveDate,
        with_capacity: bool,
    ) -> Result<(), StoreError> {
        let code = self.codes[i].clone();
        if with_capacity {
            let mut st = c.prepare_cached(
                "SELECT rooms FROM capacity WHERE property = ?1 AND room_type = ?2",
            )?;
            let mut rows = st.query(params![property, code])?;
            self.capacity[i] = match rows.next()? {
                Some(r) => r.get(0)?,
                None => 0,
            };
        }
        let n = self.n();
        let cells = i * n + self.offset(from)..i * n + self.offset(to);
        self.in_service[cells.clone()].fill(self.capacity[i]);
        for h in 0..self.holders.len() {
            self.held[h][cells.clone()].fill(0);
            self.sold[h][cells.clone()].fill(0);
        }
        let (lo, hi) = (night_text(from), night_text(to));
        for (what, sql) in [
            (0, "SELECT night, rooms, '' FROM out_of_order WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4"),
            (1, "SELECT night, units, holder FROM sold WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4"),
            (2, "SELECT night, units, holder FROM allotments WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4"),
        ] {
            let mut st = c.prepare_cached(sql)?;
            let mut rows = st.query(params![property, code, lo, hi])?;
            while let Some(r) = rows.next()? {
                let night = parse_night(r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?)?;
                if night < from || night >= to {
                    continue;
                }
                let cell = i * n + self.offset(night);
                let v: i64 = r.get(1)?;
                if what == 0 {
                    self.in_service[cell] -= v;
                    continue;
                }
                let h = self.holder(r.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?);
                if what == 1 {
                    self.sold[h][cell] += v;
                } else {
                    self.held[h][cell] += v;
                }
            }
        }
        Ok(())
    }
}

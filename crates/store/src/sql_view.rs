//! The domain's [`StateView`] answered by SQL, inside whatever transaction the connection is in.

use crate::error::StoreError;
use chrono::{DateTime, NaiveDate, Utc};
use innsync_core::allotment::HolderFacts;
use innsync_core::dates::Nights;
use innsync_core::record::RecordKind;
use innsync_core::state_view::{StateView, ViewError, ViewResult};
use innsync_core::stock::{NightStock, Occupancy};
use innsync_core::Authority;
use innsync_core::{Booking, Guest, Property, RatePlan, Record, RecordId, Room, RoomType, User};
use rusqlite::{params, Connection, OptionalExtension};
use std::cell::RefCell;
use std::collections::HashMap;

/// A view over a connection (or a transaction, which derefs to one), with an optional cache of
/// reference records for the writer.
pub struct SqlView<'c> {
    conn: &'c Connection,
    cache: Option<&'c RefCell<ReferenceCache>>,
}

impl<'c> SqlView<'c> {
    /// A view that reads everything from SQL.
    pub fn new(conn: &'c Connection) -> Self {
        Self { conn, cache: None }
    }

    /// A view that answers properties, room types and rate plans from `cache` when it can.
    pub fn cached(conn: &'c Connection, cache: &'c RefCell<ReferenceCache>) -> Self {
        Self {
            conn,
            cache: Some(cache),
        }
    }

    fn load(&self, kind: &str, key: &str) -> Result<Option<Record>, StoreError> {
        let Some(cache) = self.cache.filter(|_| ReferenceCache::caches(kind)) else {
            return load_record(self.conn, kind, key);
        };
        let k = (kind.to_string(), key.to_string());
        if let Some(hit) = cache.borrow().entries.get(&k) {
            return Ok(hit.clone());
        }
        let rec = load_record(self.conn, kind, key)?;
        let mut c = cache.borrow_mut();
        if c.entries.len() >= MAX_CACHED_REFERENCES {
            c.entries.clear();
        }
        c.entries.insert(k, rec.clone());
        Ok(rec)
    }
}

/// Most reference records the writer keeps decoded.
pub const MAX_CACHED_REFERENCES: usize = 10_000;

/// Decoded reference records (properties, room types, rate plans) that every booking reads and
/// that rarely change. Only the writer holds one: it drops an entry whenever it writes that
/// record and clears it whenever a transaction fails, so a hit always equals the database.
#[derive(Default)]
pub struct ReferenceCache {
    entries: HashMap<(String, String), Option<Record>>,
}

impl ReferenceCache {
    /// Whether records of `kind` are cached.
    pub fn caches(kind: &str) -> bool {
        matches!(
            kind,
            "property" | "room_type" | "rate_plan" | "pricing_plan"
        )
    }

    /// Forgets one record (it was just written).
    pub fn forget(&mut self, kind: &str, key: &str) {
        if Self::caches(kind) {
            self.entries.remove(&(kind.to_string(), key.to_string()));
        }
    }

    /// Forgets everything (a transaction failed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

fn view_err(e: impl std::fmt::Display) -> ViewError {
    ViewError(e.to_string())
}

/// Loads the record of `kind` with natural key `key`.
pub fn load_record(conn: &Connection, kind: &str, key: &str) -> Result<Option<Record>, StoreError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM record_bodies WHERE kind = ?1 AND key = ?2")?
        .query_row(params![kind, key], |r| r.get(0))
        .optional()?;
    match body {
        Some(b) => Ok(Some(serde_json::from_str(&b)?)),
        None => Ok(None),
    }
}

macro_rules! typed {
    ($view:expr, $kind:literal, $key:expr, $variant:ident) => {
        match $view.load($kind, $key).map_err(view_err)? {
            Some(Record::$variant(x)) => Ok(Some(x)),
            Some(other) => Err(ViewError(format!(
                "record {} is a {:?}, expected {}",
                $key,
                other.kind(),
                $kind
            ))),
            None => Ok(None),
        }
    };
}

/// Nights in storage are ISO dates, which sort as text.
pub fn night_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Parses a stored night (`YYYY-MM-DD`, as [`night_text`] writes it). Hot in availability
/// queries, so the fixed layout is read directly rather than through a format parser.
pub fn parse_night(s: &str) -> Result<NaiveDate, StoreError> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let parsed = (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
        .then(|| {
            let y = i32::try_from(digits(0..4)?).ok()?;
            NaiveDate::from_ymd_opt(y, digits(5..7)?, digits(8..10)?)
        })
        .flatten();
    parsed.ok_or_else(|| StoreError::Corrupt(format!("bad night {s:?}")))
}

/// Stock for every night of `nights`, in order: capacity minus out-of-order, and units sold by
/// every holder.
pub fn night_stock(
    conn: &Connection,
    property: &str,
    room_type: &str,
    nights: Nights,
) -> Result<Vec<NightStock>, StoreError> {
    let capacity: i64 = conn
        .prepare_cached("SELECT rooms FROM capacity WHERE property = ?1 AND room_type = ?2")?
        .query_row(params![property, room_type], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let (from, to) = (night_text(nights.from), night_text(nights.to));
    let mut out: Vec<NightStock> = nights
        .iter()
        .map(|night| NightStock {
            night,
            in_service: u32::try_from(capacity).unwrap_or(0),
            sold: 0,
        })
        .collect();
    let mut ooo = conn.prepare_cached(
        "SELECT night, rooms FROM out_of_order
         WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4",
    )?;
    let mut rows = ooo.query(params![property, room_type, from, to])?;
    while let Some(row) = rows.next()? {
        let night = parse_night(&row.get::<_, String>(0)?)?;
        let rooms: i64 = row.get(1)?;
        if let Some(i) = nights.index_of(night) {
            out[i].in_service = u32::try_from((capacity - rooms).max(0)).unwrap_or(0);
        }
    }
    let mut sold = conn.prepare_cached(
        "SELECT night, SUM(units) FROM sold
         WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4 GROUP BY night",
    )?;
    let mut rows = sold.query(params![property, room_type, from, to])?;
    while let Some(row) = rows.next()? {
        let night = parse_night(&row.get::<_, String>(0)?)?;
        let units: i64 = row.get(1)?;
        if let Some(i) = nights.index_of(night) {
            out[i].sold = u32::try_from(units).unwrap_or(u32::MAX);
        }
    }
    Ok(out)
}

/// What `holder` has of a room type on every night of `nights`: the night's stock, its own
/// sales (read in the same pass as everyone's) and the units granted to it net of those given.
pub fn holder_facts(
    conn: &Connection,
    property: &str,
    room_type: &str,
    holder: &Authority,
    nights: Nights,
) -> Result<Vec<HolderFacts>, StoreError> {
    let capacity: i64 = conn
        .prepare_cached("SELECT rooms FROM capacity WHERE property = ?1 AND room_type = ?2")?
        .query_row(params![property, room_type], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let (from, to) = (night_text(nights.from), night_text(nights.to));
    let holder_text = holder.to_string();
    let mut out: Vec<HolderFacts> = nights
        .iter()
        .map(|night| HolderFacts {
            night,
            in_service: u32::try_from(capacity).unwrap_or(0),
            sold: 0,
            net_granted: 0,
            held_sold: 0,
        })
        .collect();
    let mut ooo = conn.prepare_cached(
        "SELECT night, rooms FROM out_of_order
         WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4",
    )?;
    let mut rows = ooo.query(params![property, room_type, from, to])?;
    while let Some(row) = rows.next()? {
        let night = parse_night(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?)?;
        let rooms: i64 = row.get(1)?;
        if let Some(i) = nights.index_of(night) {
            out[i].in_service = u32::try_from((capacity - rooms).max(0)).unwrap_or(0);
        }
    }
    // Everyone's sales and this holder's grants in one statement: one less to step through on
    // the booking path.
    let mut rows_st = conn.prepare_cached(
        "SELECT night, holder, units, 0 FROM sold
         WHERE property = ?1 AND room_type = ?2 AND night >= ?3 AND night < ?4
         UNION ALL
         SELECT night, holder, units, 1 FROM allotments
         WHERE property = ?1 AND room_type = ?2 AND holder = ?5 AND night >= ?3 AND night < ?4",
    )?;
    let mut rows = rows_st.query(params![property, room_type, from, to, holder_text])?;
    while let Some(row) = rows.next()? {
        let night = parse_night(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?)?;
        let Some(i) = nights.index_of(night) else {
            continue;
        };
        let units: i64 = row.get(2)?;
        if row.get::<_, i64>(3)? == 1 {
            out[i].net_granted = units;
            continue;
        }
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        out[i].sold = out[i].sold.saturating_add(units);
        if row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)? == holder_text {
            out[i].held_sold = units;
        }
    }
    Ok(out)
}

impl StateView for SqlView<'_> {
    fn property(&self, code: &str) -> ViewResult<Option<Property>> {
        typed!(self, "property", code, Property)
    }

    fn room_type(&self, property: &str, code: &str) -> ViewResult<Option<RoomType>> {
        typed!(self, "room_type", &format!("{property}/{code}"), RoomType)
    }

    fn room(&self, property: &str, number: &str) -> ViewResult<Option<Room>> {
        typed!(self, "room", &format!("{property}/{number}"), Room)
    }

    fn rate_plan(&self, property: &str, room_type: &str) -> ViewResult<Option<RatePlan>> {
        typed!(
            self,
            "rate_plan",
            &format!("{property}/{room_type}"),
            RatePlan
        )
    }

    fn guest(&self, id: &RecordId) -> ViewResult<Option<Guest>> {
        typed!(self, "guest", id.as_str(), Guest)
    }

    fn booking(&self, id: &RecordId) -> ViewResult<Option<Booking>> {
        typed!(self, "booking", id.as_str(), Booking)
    }

    fn folio_entries(
        &self,
        booking: &RecordId,
    ) -> ViewResult<Vec<innsync_core::ledger::FolioEntry>> {
        crate::ledger::folio_entries(self.conn, booking).map_err(view_err)
    }

    fn invoices_of(&self, booking: &RecordId) -> ViewResult<Vec<innsync_core::ledger::Invoice>> {
        crate::ledger::invoices_of(self.conn, booking).map_err(view_err)
    }

    fn last_invoice_seq(&self, series: &innsync_core::ServerCode, year: i32) -> ViewResult<u32> {
        crate::ledger::last_invoice_seq(self.conn, series, year).map_err(view_err)
    }

    fn bookings_staying(
        &self,
        property: &str,
        night: NaiveDate,
        limit: usize,
    ) -> ViewResult<Vec<Booking>> {
        crate::ledger::bookings_staying(self.conn, property, night, limit).map_err(view_err)
    }

    fn user(&self, username: &str) -> ViewResult<Option<User>> {
        typed!(self, "user", username, User)
    }

    fn master_token(&self) -> ViewResult<Option<innsync_core::record::MasterToken>> {
        typed!(self, "master_token", "master", MasterToken)
    }

    fn night_stock(
        &self,
        property: &str,
        room_type: &str,
        nights: Nights,
    ) -> ViewResult<Vec<NightStock>> {
        night_stock(self.conn, property, room_type, nights).map_err(view_err)
    }

    fn room_occupancy(
        &self,
        property: &str,
        room: &str,
        nights: Nights,
    ) -> ViewResult<Vec<Occupancy>> {
        let run = || -> Result<Vec<Occupancy>, StoreError> {
            let mut st = self.conn.prepare_cached(
                "SELECT night, booking FROM room_nights
                 WHERE property = ?1 AND room = ?2 AND night >= ?3 AND night < ?4 ORDER BY night",
            )?;
            let mut rows = st.query(params![
                property,
                room,
                night_text(nights.from),
                night_text(nights.to)
            ])?;
            let mut out = vec![];
            while let Some(row) = rows.next()? {
                out.push(Occupancy {
                    night: parse_night(&row.get::<_, String>(0)?)?,
                    booking: RecordId::parse(&row.get::<_, String>(1)?)
                        .map_err(StoreError::Corrupt)?,
                });
            }
            Ok(out)
        };
        run().map_err(view_err)
    }

    fn holder_facts(
        &self,
        property: &str,
        room_type: &str,
        holder: &Authority,
        nights: Nights,
    ) -> ViewResult<Vec<HolderFacts>> {
        holder_facts(self.conn, property, room_type, holder, nights).map_err(view_err)
    }

    fn allotment_grant(&self, id: &RecordId) -> ViewResult<Option<innsync_core::AllotmentGrant>> {
        typed!(self, "allotment_grant", id.as_str(), AllotmentGrant)
    }

    fn record(&self, kind: RecordKind, key: &str) -> ViewResult<Option<Record>> {
        self.load(kind.as_str(), key).map_err(view_err)
    }

    fn find_copy(
        &self,
        kind: RecordKind,
        from_environment: Option<&str>,
        from_id: &RecordId,
    ) -> ViewResult<Option<Record>> {
        let run = || -> Result<Option<Record>, StoreError> {
            let body: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT body FROM record_bodies WHERE kind = ?1
                     AND json_extract(body, '$.provenance.from_id') = ?2
                     AND coalesce(json_extract(body, '$.provenance.from_environment'), '') = ?3
                     ORDER BY key LIMIT 1",
                )?
                .query_row(
                    params![
                        kind.as_str(),
                        from_id.as_str(),
                        from_environment.unwrap_or("")
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            body.map(|b| serde_json::from_str(&b).map_err(StoreError::from))
                .transpose()
        };
        run().map_err(view_err)
    }

    fn find_by_fields(
        &self,
        kind: RecordKind,
        fields: &[(String, serde_json::Value)],
    ) -> ViewResult<Option<Record>> {
        let run = || -> Result<Option<Record>, StoreError> {
            // Field names become JSON paths, bound as parameters; only plain names are paths.
            if let Some((f, _)) = fields.iter().find(|(f, _)| {
                f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) {
                return Err(StoreError::Refused(
                    innsync_core::DomainError::InvalidInput(format!("{f:?} is not a field name")),
                ));
            }
            let mut sql = String::from("SELECT body FROM record_bodies WHERE kind = ?");
            let mut args: Vec<rusqlite::types::Value> = vec![kind.as_str().to_string().into()];
            for (f, v) in fields {
                args.push(format!("$.{f}").into());
                match v {
                    serde_json::Value::Null => {
                        sql.push_str(" AND json_extract(body, ?) IS NULL");
                        continue;
                    }
                    serde_json::Value::String(s) => args.push(s.clone().into()),
                    serde_json::Value::Bool(b) => args.push(i64::from(*b).into()),
                    serde_json::Value::Number(n) => args.push(match n.as_i64() {
                        Some(i) => i.into(),
                        None => n.as_f64().unwrap_or_default().into(),
                    }),
                    other => args.push(other.to_string().into()),
                }
                sql.push_str(" AND json_extract(body, ?) = ?");
            }
            sql.push_str(" ORDER BY key LIMIT 1");
            let body: Option<String> = self
                .conn
                .prepare(&sql)?
                .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
                .optional()?;
            body.map(|b| serde_json::from_str(&b).map_err(StoreError::from))
                .transpose()
        };
        run().map_err(view_err)
    }

    fn guest_in_use(&self, id: &RecordId) -> ViewResult<bool> {
        let run = || -> Result<bool, StoreError> {
            Ok(self
                .conn
                .prepare_cached("SELECT 1 FROM bookings WHERE guest_id = ?1 LIMIT 1")?
                .query_row([id.as_str()], |_| Ok(()))
                .optional()?
                .is_some())
        };
        run().map_err(view_err)
    }

    fn guest_bookings(&self, guest: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        crate::guests::booking_ids(self.conn, guest.as_str(), limit).map_err(view_err)
    }

    fn reservation_lines(&self, reservation: &RecordId, limit: usize) -> ViewResult<Vec<RecordId>> {
        let lines = crate::reservation_lines::lines(self.conn, reservation.as_str(), limit)
            .map_err(view_err)?;
        Ok(lines.into_iter().map(|b| b.meta.id).collect())
    }

    fn room_type_codes(&self, property: &str) -> ViewResult<Vec<String>> {
        let run = || -> Result<Vec<String>, StoreError> {
            let mut st = self.conn.prepare_cached(
                "SELECT key FROM records WHERE kind = 'room_type' AND key > ?1 AND key < ?2 ORDER BY key",
            )?;
            let prefix = format!("{property}/");
            let rows = st.query_map(params![prefix, format!("{property}0")], |r| {
                r.get::<_, String>(0)
            })?;
            let mut out = vec![];
            for key in rows {
                if let Some(code) = key?.strip_prefix(&prefix) {
                    out.push(code.to_string());
                }
            }
            Ok(out)
        };
        run().map_err(view_err)
    }

    fn lapsed_holds(&self, now: DateTime<Utc>, limit: usize) -> ViewResult<Vec<RecordId>> {
        let run = || -> Result<Vec<RecordId>, StoreError> {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM bookings WHERE status = 'provisional' AND hold_until <= ?1
                 ORDER BY hold_until LIMIT ?2",
            )?;
            let rows = st.query_map(params![time_text(now), limit as i64], |r| {
                r.get::<_, String>(0)
            })?;
            rows.map(|r| RecordId::parse(&r?).map_err(StoreError::Corrupt))
                .collect()
        };
        run().map_err(view_err)
    }
}

/// Instants in storage are RFC 3339 UTC with fixed width, which sort as text.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

//! Reads: a small pool of read-only connections and the queries the API and UI need. Readers
//! see the last committed state and never block the writer (WAL).

use crate::error::StoreError;
use crate::schema::open_reader;
use crate::sql_view::{load_record, night_text, parse_night};
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::{Booking, BookingStatus, Property, Record, Room, RoomType, ServerCode, User};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Mutex;

/// Most idle read connections kept open.
pub const MAX_IDLE_READERS: usize = 16;

/// A pool of read-only connections to the store's file.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Filters for listing bookings.
#[derive(Clone, Debug, Default)]
pub struct BookingFilter {
    /// Only this property.
    pub property: Option<String>,
    /// Only stays with a night on or after this date.
    pub from: Option<NaiveDate>,
    /// Only stays with a night before this date.
    pub to: Option<NaiveDate>,
    /// Only this status.
    pub status: Option<BookingStatus>,
    /// Only guests whose name contains this text (case-insensitive), or — when the text is a
    /// number — the booking with that reservation number.
    pub guest: Option<String>,
    /// Only the booking with this reservation number (FIAS `G#`).
    pub reservation_number: Option<u64>,
    /// Only references after this one (paging).
    pub after: Option<String>,
    /// Most rows.
    pub limit: usize,
}

/// One night of one room type, as the availability API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NightAvailability {
    /// The night.
    pub date: NaiveDate,
    /// Rooms in service.
    pub total: u32,
    /// Units held by live bookings, whoever sold them.
    pub booked: u32,
    /// Units this server could sell now.
    pub available: u32,
    /// Units whose allotment this server's authority holds.
    pub held_here: u32,
}

/// The nights of one room type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomTypeNights {
    /// Room type code.
    pub code: String,
    /// Room type name.
    pub name: String,
    /// Each night in order.
    pub nights: Vec<NightAvailability>,
}

/// Availability of a property over a range of nights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Property code.
    pub property: String,
    /// First night.
    pub from: NaiveDate,
    /// Morning after the last night.
    pub to: NaiveDate,
    /// Each room type.
    pub room_types: Vec<RoomTypeNights>,
}

/// One audit log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// When.
    pub at: String,
    /// On which server.
    pub server: String,
    /// Who.
    pub actor: String,
    /// What (`booking.cancel`).
    pub action: String,
    /// Which record.
    pub record_id: String,
    /// Summary.
    pub detail: String,
}

/// One room-occupancy event waiting for the PMS links.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Position in the outbox; links deliver in this order.
    pub id: i64,
    /// Property code.
    pub property: String,
    /// Room number.
    pub room: String,
    /// Checked in (true) or out (false).
    pub occupied: bool,
    /// The guest's name on check-in.
    pub guest_name: Option<String>,
    /// The booking concerned.
    pub booking: String,
}

/// A PMS link's stored settings and delivery cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmsLinkRow {
    /// Link name.
    pub name: String,
    /// Settings as JSON.
    pub config: String,
    /// Last outbox id delivered.
    pub delivered: i64,
}

pub(crate) fn bodies<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    pick: impl Fn(Record) -> Option<T>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(p)?;
    let mut out = vec![];
    while let Some(row) = rows.next()? {
        let body: String = row.get(0)?;
        let rec: Record = serde_json::from_str(&body)?;
        if let Some(t) = pick(rec) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The authority this server writes (and sells) under now: `env` on the master, else its own.
pub(crate) fn here(c: &Connection) -> Result<innsync_core::Authority, StoreError> {
    let get = |k: &str| -> Result<Option<String>, StoreError> {
        Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([k], |r| r.get(0))
            .optional()?)
    };
    let server = get("server")?.ok_or_else(|| StoreError::Corrupt("meta server missing".into()))?;
    Ok(if get("master")?.as_deref() == Some(server.as_str()) {
        innsync_core::Authority::Env
    } else {
        innsync_core::Authority::Server(ServerCode::parse(&server).map_err(StoreError::Corrupt)?)
    })
}

pub(crate) const BY_PREFIX: &str =
    "SELECT body FROM record_bodies WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key";

pub(crate) fn prefix(property: &str) -> (String, String) {
    (format!("{property}/"), format!("{property}0"))
}

impl ReadPool {
    /// A pool over the database at `path`; connections open on first use.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a pooled connection. Blocking: call it from a blocking thread.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = match self.idle.lock().ok().and_then(|mut v| v.pop()) {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        out
    }

    /// A record by kind and natural key.
    pub fn record(&self, kind: &str, key: &str) -> Result<Option<Record>, StoreError> {
        self.with(|c| load_record(c, kind, key))
    }

    /// A property.
    pub fn property(&self, code: &str) -> Result<Option<Property>, StoreError> {
        Ok(match self.record("property", code)? {
            Some(Record::Property(p)) => Some(p),
            _ => None,
        })
    }

    /// A booking.
    pub fn booking(&self, id: &str) -> Result<Option<Booking>, StoreError> {
        Ok(match self.record("booking", id)? {
            Some(Record::Booking(b)) => Some(b),
            _ => None,
        })
    }

    /// A user.
    pub fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(match self.record("user", username)? {
            Some(Record::User(u)) => Some(u),
            _ => None,
        })
    }

    /// Every property, by code.
    pub fn properties(&self) -> Result<Vec<Property>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = 'property' ORDER BY key",
                [],
                |r| match r {
                    Record::Property(p) => Some(p),
                    _ => None,
                },
            )
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = 'user' ORDER BY key",
                [],
                |r| match r {
                    Record::User(u) => Some(u),
                    _ => None,
                },
            )
        })
    }

    /// A property's room types, by code.
    pub fn room_types(&self, property: &str) -> Result<Vec<RoomType>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["room_type", lo, hi], |r| match r {
                Record::RoomType(t) => Some(t),
                _ => None,
            })
        })
    }

    /// A property's rooms, by number.
    pub fn rooms(&self, property: &str) -> Result<Vec<Room>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["room", lo, hi], |r| match r {
                Record::Room(t) => Some(t),
                _ => None,
            })
        })
    }

    /// The notes of a booking, oldest first.
    pub fn notes(&self, booking: &str) -> Result<Vec<innsync_core::record::Note>, StoreError> {
        let (lo, hi) = prefix(booking);
        self.with(|c| {
            let mut v = bodies(c, BY_PREFIX, params!["note", lo, hi], |r| match r {
                Record::Note(n) => Some(n),
                _ => None,
            })?;
            v.sort_by_key(|n| n.at);
            Ok(v)
        })
    }

    /// A property's rate plans.
    pub fn rate_plans(&self, property: &str) -> Result<Vec<innsync_core::RatePlan>, StoreError> {
        let (lo, hi) = prefix(property);
        self.with(|c| {
            bodies(c, BY_PREFIX, params!["rate_plan", lo, hi], |r| match r {
                Record::RatePlan(t) => Some(t),
                _ => None,
            })
        })
    }

    /// Bookings matching `f`, by reference.
    pub fn bookings(&self, f: &BookingFilter) -> Result<Vec<Booking>, StoreError> {
        let guest = f.guest.as_ref().map(|g| {
            let escaped = g
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        // A number typed into the guest search is also a reservation number.
        let number_in_search = f
            .guest
            .as_deref()
            .map(str::trim)
            .and_then(|g| innsync_core::ReservationNumber::parse(g).ok())
            .map(|n| n.get() as i64);
        self.with(|c| {
            bodies(
                c,
                "SELECT r.body FROM bookings b JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
                 WHERE (?1 IS NULL OR b.property = ?1) AND (?2 IS NULL OR b.departure > ?2)
                   AND (?3 IS NULL OR b.arrival < ?3) AND (?4 IS NULL OR b.status = ?4)
                   AND (?5 IS NULL OR b.guest_name LIKE ?5 ESCAPE '\\'
                        OR b.id IN (SELECT c.record_id FROM changes c WHERE c.kind = 'booking'
                            AND json_extract(c.body, '$.reservation_number') = ?8))
                   AND (?9 IS NULL OR b.id IN (SELECT c.record_id FROM changes c
                        WHERE c.kind = 'booking' AND json_extract(c.body, '$.reservation_number') = ?9))
                   AND b.id > ?6
                 ORDER BY b.id LIMIT ?7",
                params![
                    f.property,
                    f.from.map(night_text),
                    f.to.map(night_text),
                    f.status.map(|s| s.as_str()),
                    guest,
                    f.after.clone().unwrap_or_default(),
                    f.limit as i64,
                    number_in_search,
                    f.reservation_number.map(|n| n as i64)
                ],
                |r| match r {
                    Record::Booking(b) => Some(b),
                    _ => None,
                },
            )
        })
    }

    /// Availability of `property` over `nights`: three property-wide range queries
    /// (capacity, out-of-order rooms, units sold), folded per room type and night.
    pub fn availability(&self, property: &str, nights: Nights) -> Result<Availability, StoreError> {
        let types = self.room_types(property)?;
        let owner = self.property(property)?.map(|p| p.meta.owner);
        self.with(|c| {
            // What this server sells from: its own authority's allotment.
            let here = here(c)?;
            let here_text = here.to_string();
            let is_owner = owner.as_ref() == Some(&here);
            let n = nights.len();
            let index: std::collections::HashMap<&str, usize> = types
                .iter()
                .enumerate()
                .map(|(i, t)| (t.code.as_str(), i))
                .collect();
            let mut capacity = vec![0i64; types.len()];
            let mut st = c.prepare_cached("SELECT room_type, rooms FROM capacity WHERE property = ?1")?;
            let mut rows = st.query([property])?;
            while let Some(r) = rows.next()? {
                if let Some(&i) = index.get(r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?) {
                    capacity[i] = r.get(1)?;
                }
            }
            #[derive(Clone, Copy)]
            struct Cell {
                in_service: i64,
                sold: i64,
                net_here: i64,
                sold_here: i64,
            }
            let mut grid: Vec<Vec<Cell>> = capacity
                .iter()
                .map(|c| vec![Cell { in_service: *c, sold: 0, net_here: 0, sold_here: 0 }; n])
                .collect();
            let (from, to) = (night_text(nights.from), night_text(nights.to));
            for (sql, what) in [
                ("SELECT room_type, night, rooms, '' FROM out_of_order WHERE property = ?1 AND night >= ?2 AND night < ?3", 0),
                ("SELECT room_type, night, units, holder FROM sold WHERE property = ?1 AND night >= ?2 AND night < ?3", 1),
                ("SELECT room_type, night, units, holder FROM allotments WHERE property = ?1 AND night >= ?2 AND night < ?3 AND holder = ?4", 2),
            ] {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = if what == 2 {
                    st.query(params![property, from, to, here_text])?
                } else {
                    st.query(params![property, from, to])?
                };
                while let Some(r) = rows.next()? {
                    let ty = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                    let Some(&i) = index.get(ty) else { continue };
                    let night = parse_night(r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)?;
                    let Some(k) = nights.index_of(night) else { continue };
                    let v: i64 = r.get(2)?;
                    let cell = &mut grid[i][k];
                    match what {
                        0 => cell.in_service = capacity[i] - v,
                        1 => {
                            // One row per holder: add them up, and note our own.
                            cell.sold += v;
                            if r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)? == here_text {
                                cell.sold_here = v;
                            }
                        }
                        _ => cell.net_here = v,
                    }
                }
            }
            let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            let room_types = types
                .into_iter()
                .zip(grid)
                .map(|(t, cells)| RoomTypeNights {
                    code: t.code,
                    name: t.name,
                    nights: nights
                        .iter()
                        .zip(cells)
                        .map(|(date, c)| {
                            let held = if is_owner { c.in_service } else { 0 } + c.net_here;
                            NightAvailability {
                                date,
                                total: clamp(c.in_service),
                                booked: clamp(c.sold),
                                available: clamp((held - c.sold_here).min(c.in_service - c.sold)),
                                held_here: clamp(held),
                            }
                        })
                        .collect(),
                })
                .collect();
            Ok(Availability {
                property: property.to_string(),
                from: nights.from,
                to: nights.to,
                room_types,
            })
        })
    }

    /// Which booking occupies each room of a property on each night of `nights`.
    pub fn room_occupancy(
        &self,
        property: &str,
        nights: Nights,
    ) -> Result<Vec<(String, NaiveDate, String)>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT room, night, booking FROM room_nights
                 WHERE property = ?1 AND night >= ?2 AND night < ?3 ORDER BY room, night",
            )?;
            let mut rows = st.query(params![
                property,
                night_text(nights.from),
                night_text(nights.to)
            ])?;
            let mut out = vec![];
            while let Some(r) = rows.next()? {
                out.push((
                    r.get::<_, String>(0)?,
                    parse_night(&r.get::<_, String>(1)?)?,
                    r.get::<_, String>(2)?,
                ));
            }
            Ok(out)
        })
    }

    /// The audit log of one record, oldest first; or the newest lines of the whole log.
    pub fn audit(
        &self,
        record_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.with(|c| {
            let map = |r: &rusqlite::Row<'_>| {
                Ok(AuditRow {
                    at: r.get(0)?,
                    server: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    record_id: r.get(4)?,
                    detail: r.get(5)?,
                })
            };
            let rows: Vec<AuditRow> = match record_id {
                Some(id) => c
                    .prepare_cached(
                        "SELECT at, origin, actor, action, record_id, detail FROM changes
                         WHERE record_id = ?1 ORDER BY at, origin, seq LIMIT ?2",
                    )?
                    .query_map(params![id, limit as i64], map)?
                    .collect::<Result<_, _>>()?,
                None => c
                    .prepare_cached(
                        "SELECT at, origin, actor, action, record_id, detail FROM changes
                         ORDER BY at DESC, origin, seq DESC LIMIT ?1",
                    )?
                    .query_map(params![limit as i64], map)?
                    .collect::<Result<_, _>>()?,
            };
            Ok(rows)
        })
    }

    /// How far this server has each server's log: the cursors it pulls with, its own included.
    pub fn cursors(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        self.with(|c| {
            let mut out = std::collections::BTreeMap::new();
            let mut st = c.prepare_cached("SELECT origin, seq FROM cursors")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                out.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64);
            }
            let me: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'server'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            let last: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(me) = me {
                out.insert(me, last.and_then(|l| l.parse().ok()).unwrap_or(0));
            }
            Ok(out)
        })
    }

    /// This server's own changes after `seq`, in order, at most `limit`, and how far the
    /// distribution rules have looked (`rules_cursor`): what the rules act on.
    pub fn own_changes_after(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<crate::Change>, StoreError> {
        let me = self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'server'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(StoreError::from)
        })?;
        let Some(me) = me else { return Ok(vec![]) };
        let mut cursor = std::collections::BTreeMap::new();
        for (origin, have) in self.cursors()? {
            cursor.insert(origin, have);
        }
        cursor.insert(me, seq);
        self.changes_after(&cursor, limit)
    }

    /// Records of `kind` in key order, at most `limit`: what a scheduled rule looks at.
    pub fn records_of_kind(&self, kind: &str, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = ?1 ORDER BY key LIMIT ?2",
                params![kind, limit as i64],
                Some,
            )
        })
    }

    /// How far the distribution rules have looked into this server's own changes.
    pub fn rules_cursor(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT value FROM meta WHERE key = 'rules_cursor'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
        })
    }

    /// Changes this server holds beyond `cursor`, of every origin (re-serving what it got from
    /// others), each origin's in order, at most `limit` in all.
    pub fn changes_after(
        &self,
        cursor: &std::collections::BTreeMap<String, u64>,
        limit: usize,
    ) -> Result<Vec<crate::Change>, StoreError> {
        Ok(self
            .changes_after_filtered(cursor, limit, None, &|_, _| Ok(true))?
            .0)
    }

    /// Like [`ReadPool::changes_after`], for a peer that receives only some records (partial
    /// replication): `keep` says which; at most `limit` changes are looked at, and the answer
    /// also says, per origin, the last change looked at — everything up to it that the peer
    /// should have is in the batch, so it may move its cursor there. `only_origin` serves one
    /// origin's log alone (a server with holes in the others' logs re-serves only its own).
    #[allow(
        clippy::type_complexity,
        reason = "the changes and how far each origin was looked at"
    )]
    pub fn changes_after_filtered(
        &self,
        cursor: &std::collections::BTreeMap<String, u64>,
        limit: usize,
        only_origin: Option<&str>,
        keep: &dyn Fn(&Connection, &crate::Change) -> Result<bool, StoreError>,
    ) -> Result<(Vec<crate::Change>, std::collections::BTreeMap<String, u64>), StoreError> {
        let held = self.cursors()?;
        self.with(|c| {
            let mut scanned = std::collections::BTreeMap::new();
            let mut looked = 0usize;
            let mut out = Vec::new();
            let mut st = c.prepare_cached(
                "SELECT origin, seq, epoch, authority, at, actor, action, detail, body FROM changes
                 WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            for (origin, have) in &held {
                let from = cursor.get(origin).copied().unwrap_or(0);
                if from >= *have || looked >= limit || only_origin.is_some_and(|o| o != origin) {
                    continue;
                }
                let mut rows = st.query(params![origin, from as i64, (limit - looked) as i64])?;
                while let Some(r) = rows.next()? {
                    let origin: String = r.get(0)?;
                    let authority: String = r.get(3)?;
                    let body: String = r.get(8)?;
                    let change = crate::Change {
                        origin: ServerCode::parse(&origin).map_err(StoreError::Corrupt)?,
                        seq: r.get::<_, i64>(1)? as u64,
                        epoch: r.get::<_, i64>(2)? as u64,
                        authority: innsync_core::Authority::parse(&authority)
                            .map_err(StoreError::Corrupt)?,
                        at: r.get(4)?,
                        actor: r.get(5)?,
                        action: r.get(6)?,
                        detail: r.get(7)?,
                        record: serde_json::from_str(&body)?,
                    };
                    looked += 1;
                    scanned.insert(origin, change.seq);
                    if keep(c, &change)? {
                        out.push(change);
                    }
                }
            }
            Ok((out, scanned))
        })
    }

    /// Quarantined replicated changes, newest first.
    pub fn conflicts(
        &self,
        limit: usize,
        filter: &ConflictFilter,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        self.with(|c| {
            // The change that was quarantined says who wrote it, where and when: the agent who
            // was told "booking created" can find that it was undone.
            let mut st = c.prepare_cached(
                "SELECT k.id, k.origin, k.seq, k.record_id, k.kind, k.reason, k.theirs, k.ours,
                    k.detected_at, k.status, ch.actor, ch.at, ch.action, ch.detail
                 FROM conflicts k LEFT JOIN changes ch ON ch.origin = k.origin AND ch.seq = k.seq
                 WHERE (?2 IS NULL OR k.origin = ?2) AND (?3 IS NULL OR ch.actor = ?3)
                   AND (?4 IS NULL OR k.status = ?4) AND (?5 IS NULL OR k.id = ?5)
                 ORDER BY k.id DESC LIMIT ?1",
            )?;
            let rows = st.query_map(
                params![
                    limit as i64,
                    filter.origin.as_deref(),
                    filter.actor.as_deref(),
                    filter.status.as_deref(),
                    filter.id
                ],
                |r| {
                    let theirs: String = r.get(6)?;
                    let ours: Option<String> = r.get(7)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        theirs,
                        ours,
                        r.get::<_, String>(8)?,
                        r.get::<_, String>(9)?,
                        (
                            r.get::<_, Option<String>>(10)?,
                            r.get::<_, Option<String>>(11)?,
                            r.get::<_, Option<String>>(12)?,
                            r.get::<_, Option<String>>(13)?,
                        ),
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (id, origin, seq, record_id, kind, reason, theirs, ours, detected, status, w) =
                    row?;
                let theirs_rec: Option<Record> = serde_json::from_str(&theirs).ok();
                let ours_rec: Option<Record> =
                    ours.as_deref().and_then(|o| serde_json::from_str(o).ok());
                let (actor, at, action, detail) = w;
                out.push(serde_json::json!({
                    "id": id,
                    "origin": origin,
                    "seq": seq,
                    "record_id": record_id,
                    "kind": kind,
                    "reason": reason,
                    "record": theirs_rec.as_ref().map(innsync_core::describe::describe),
                    "ours_in_words": ours_rec.as_ref().map(innsync_core::describe::describe),
                    "link": theirs_rec.as_ref().and_then(innsync_core::describe::ui_link),
                    "written_by": { "server": origin, "user": actor, "at": at, "action": action, "detail": detail },
                    "theirs": serde_json::from_str::<serde_json::Value>(&theirs).unwrap_or_default(),
                    "ours": ours.and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok()),
                    "detected_at": detected,
                    "status": status,
                }));
            }
            Ok(out)
        })
    }

    /// Open conflicts of changes this server wrote itself: acknowledged writes of its own users
    /// that a fence undid.
    pub fn own_open_conflicts(&self, me: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM conflicts WHERE status = 'open' AND origin = ?1",
                [me],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// Open conflicts.
    pub fn open_conflicts(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM conflicts WHERE status = 'open'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// Every PMS link.
    pub fn pms_links(&self) -> Result<Vec<PmsLinkRow>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT name, config, delivered FROM pms_links ORDER BY name")?;
            let rows = st.query_map([], |r| {
                Ok(PmsLinkRow {
                    name: r.get(0)?,
                    config: r.get(1)?,
                    delivered: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Outbox events of `property` after id `after`, oldest first, at most `limit`.
    pub fn pms_outbox(
        &self,
        property: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, property, room, occupied, guest_name, booking FROM pms_outbox
                 WHERE property = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = st.query_map(params![property, after, limit as i64], |r| {
                Ok(OutboxEvent {
                    id: r.get(0)?,
                    property: r.get(1)?,
                    room: r.get(2)?,
                    occupied: r.get(3)?,
                    guest_name: r.get(4)?,
                    booking: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Who is in which room of `property` now (room, guest, booking), with the last outbox id
    /// this state includes: the snapshot of a General Reset.
    #[allow(
        clippy::type_complexity,
        reason = "a private tuple of one query's columns"
    )]
    pub fn in_house(
        &self,
        property: &str,
    ) -> Result<(Vec<(String, String, String)>, i64), StoreError> {
        self.with(|c| {
            // One read transaction, so the snapshot and the outbox position agree.
            c.execute_batch("BEGIN")?;
            let result = (|| {
                let guests = bodies(
                    c,
                    "SELECT r.body FROM bookings b JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
                     WHERE b.property = ?1 AND b.status = 'checked_in'",
                    [property],
                    |r| match r {
                        Record::Booking(b) => b
                            .stays
                            .last()
                            .map(|s| (s.room.clone(), b.guest_name.clone(), b.meta.id.to_string())),
                        _ => None,
                    },
                )?;
                let upto: i64 = c.query_row("SELECT COALESCE(MAX(id), 0) FROM pms_outbox", [], |r| r.get(0))?;
                Ok((guests, upto))
            })();
            c.execute_batch("COMMIT")?;
            result
        })
    }

    /// The user a token hash belongs to.
    pub fn token_user(&self, hash: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            Ok(
                c.prepare_cached("SELECT username FROM tokens WHERE hash = ?1")?
                    .query_row([hash], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    /// The master and epoch this server knows of.
    pub fn master(&self) -> Result<(ServerCode, u64), StoreError> {
        self.with(|c| {
            let get = |k: &str| -> Result<String, StoreError> {
                c.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| StoreError::Corrupt(format!("meta {k} missing")))
            };
            let master = ServerCode::parse(&get("master")?).map_err(StoreError::Corrupt)?;
            let epoch = get("epoch")?
                .parse()
                .map_err(|_| StoreError::Corrupt("meta epoch".into()))?;
            Ok((master, epoch))
        })
    }

    /// Counts of records by kind, for metrics and status.
    pub fn record_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind")?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// A digest of every record (kind, key, version, body): equal digests, equal databases.
    pub fn digest(&self) -> Result<String, StoreError> {
        use sha2::{Digest, Sha256};
        self.with(|c| {
            let mut h = Sha256::new();
            let mut st = c.prepare_cached(
                "SELECT kind, key, version, body FROM record_bodies ORDER BY kind, key",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                for i in 0..2 {
                    h.update(r.get::<_, String>(i)?.as_bytes());
                    h.update([0]);
                }
                h.update(r.get::<_, i64>(2)?.to_le_bytes());
                h.update(r.get::<_, String>(3)?.as_bytes());
                h.update([0]);
            }
            Ok(hex::encode(h.finalize()))
        })
    }

    /// Checks the stored derived counters against the records, from scratch: the store's
    /// own invariant check, used after crashes in tests and by `innsync check`.
    pub fn check_invariants(&self) -> Result<(), String> {
        let recs = self
            .with(|c| {
                bodies(
                    c,
                    "SELECT body FROM record_bodies ORDER BY kind, key",
                    [],
                    Some,
                )
            })
            .map_err(|e| e.to_string())?;
        let mut model = innsync_core::model::MemState::default();
        for r in recs {
            model.put(r);
        }
        model.check_invariants()?;
        // And the stored counters must equal the model's.
        let stored: Vec<(String, String, String, i64)> = self
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT property, room_type, night, SUM(units) FROM sold GROUP BY 1, 2, 3 HAVING SUM(units) != 0",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .map_err(|e| e.to_string())?;
        let mut expected: std::collections::BTreeMap<(String, String, String), i64> =
            Default::default();
        for b in model.bookings() {
            for d in innsync_core::stock::sold_deltas(None, b) {
                *expected
                    .entry((d.property, d.room_type, night_text(d.night)))
                    .or_default() += d.delta;
            }
        }
        let stored_map: std::collections::BTreeMap<_, _> = stored
            .into_iter()
            .map(|(p, t, n, u)| ((p, t, n), u))
            .collect();
        if stored_map != expected {
            return Err("stored sold counters differ from the bookings".into());
        }
        let stored: Vec<(String, String, String, String, i64)> = self
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT property, room_type, night, holder, units FROM allotments WHERE units != 0",
                )?;
                let rows = st.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .map_err(|e| e.to_string())?;
        let stored: std::collections::BTreeMap<_, _> = stored
            .into_iter()
            .map(|(p, t, n, h, u)| ((p, t, n, h), u))
            .collect();
        let expected: std::collections::BTreeMap<_, _> = model
            .granted()
            .into_iter()
            .map(|((p, t, n, h), u)| ((p, t, night_text(n), h.to_string()), u))
            .collect();
        if stored != expected {
            return Err("stored allotment counters differ from the grants".into());
        }
        self.check_ledger()
    }
}

/// Which conflicts to list.
#[derive(Clone, Debug, Default)]
pub struct ConflictFilter {
    /// Only those written by this server.
    pub origin: Option<String>,
    /// Only those written by this user.
    pub actor: Option<String>,
    /// Only those in this state (`open`, `applied`, `discarded`).
    pub status: Option<String>,
    /// Only this one.
    pub id: Option<i64>,
}

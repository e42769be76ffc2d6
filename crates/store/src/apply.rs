//! Applying a record's new state: the record row, the derived counters, and the change log —
//! the one function both local commands and (later) replication go through.

use crate::error::StoreError;
use crate::view::{load_record, night_text, time_text};

use innsync_core::allotment::{grant_deltas, GrantDelta};
use innsync_core::pms::room_events;
use innsync_core::stock::{room_nights, service_deltas, sold_deltas, ServiceDelta};
use innsync_core::{Authority, Record, RecordId, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};

/// Where and under which authority a change was written.
#[derive(Clone, Debug)]
pub struct ChangeStamp<'a> {
    /// The server that wrote it.
    pub origin: &'a ServerCode,
    /// Its position in the origin's change log.
    pub seq: u64,
    /// The master epoch it was written under.
    pub epoch: u64,
    /// When (RFC 3339 as stored).
    pub at: &'a str,
    /// Who.
    pub actor: &'a str,
    /// What was done (`booking.cancel`): the audit log's action.
    pub action: &'a str,
    /// A human summary for the audit log.
    pub detail: &'a str,
}

/// Whether the record was written or was already at that version or newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Written, with counters updated.
    Written,
    /// An equal or newer version is stored: the change is logged, the record unchanged.
    Stale,
}

/// Whether the caller knows the record is new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Novelty {
    /// Just created by this server's writer with a fresh id: no earlier version can exist, so
    /// it is inserted without looking (a violated assumption fails the insert, never silently).
    Created,
    /// Anything else: look up the stored version first.
    Unknown,
}

/// Writes `rec` and its change-log entry, and updates every derived table.
pub fn apply_record(
    conn: &Connection,
    rec: &Record,
    stamp: &ChangeStamp<'_>,
    novelty: Novelty,
) -> Result<Applied, StoreError> {
    let kind = rec.kind().as_str();
    let key = rec.key();
    let old = match novelty {
        Novelty::Created => None,
        Novelty::Unknown => load_record(conn, kind, &key)?,
    };
    if let Record::MasterToken(t) = rec {
        crate::fence::saw_token(conn, t, stamp.at)?;
    }
    let newer = match &old {
        // Ledger entries and invoices are written once: what is here stays.
        Some(_) if matches!(rec, Record::FolioEntry(_) | Record::Invoice(_)) => false,
        Some(o) if o.meta().version == rec.meta().version => outranks(conn, rec, o, stamp)?,
        Some(o) => o.meta().version < rec.meta().version,
        // Not here: never created, or deleted — a version older than its deletion stays out.
        None => match novelty {
            Novelty::Created => true,
            Novelty::Unknown => deleted_at(conn, rec)?.is_none_or(|v| v < rec.meta().version),
        },
    };
    let body = serde_json::to_string(rec)?;
    if newer {
        write_state(conn, rec, old.as_ref(), stamp, novelty)?;
    }
    log_change(conn, rec, stamp, &body)?;
    Ok(if newer {
        Applied::Written
    } else {
        Applied::Stale
    })
}

/// Between two states at one version: the one written at the higher epoch (the other was
/// written under a master later fenced); for the master token, the epoch's rightful claim.
fn outranks(
    conn: &Connection,
    rec: &Record,
    stored: &Record,
    stamp: &ChangeStamp<'_>,
) -> Result<bool, StoreError> {
    if let (Record::MasterToken(new), Record::MasterToken(old)) = (rec, stored) {
        return Ok(innsync_core::fencing::token_outranks(new, old));
    }
    let stored: Option<(String, i64, i64, String)> = conn
        .prepare_cached(
            "SELECT c.origin, c.epoch, c.seq, c.authority FROM records r
             JOIN changes c ON c.origin = r.origin AND c.seq = r.seq
             WHERE r.kind = ?1 AND r.key = ?2",
        )?
        .query_row(params![rec.kind().as_str(), rec.key()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((origin, epoch, seq, authority)) = stored else {
        return Ok(false);
    };
    let new_epoch = stamp.epoch as i64;
    if new_epoch != epoch {
        return Ok(new_epoch > epoch);
    }
    // The same epoch: the stored state outranks, unless a fence quarantined it — an env write
    // of a master that lost its epoch, kept here only because putting the record back failed
    // (a room taken since). A legitimate state of the same version then takes its place, as it
    // did on every server that learned the fence first (chaos seed 3072).
    if authority != "env" {
        return Ok(false);
    }
    let origin = ServerCode::parse(&origin).map_err(StoreError::Corrupt)?;
    Ok(
        crate::fence::is_fenced(conn, &origin, epoch as u64, seq as u64)?
            && !crate::fence::is_fenced(conn, stamp.origin, stamp.epoch, stamp.seq)?,
    )
}

/// The version at which the record was deleted, if it was.
fn deleted_at(conn: &Connection, rec: &Record) -> Result<Option<u64>, StoreError> {
    if matches!(rec, Record::Tombstone(_)) {
        return Ok(None);
    }
    let key = Record::tombstone_key(rec.kind(), &rec.key());
    Ok(conn
        .prepare_cached("SELECT version FROM records WHERE kind = 'tombstone' AND key = ?1")?
        .query_row([key], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|v| v as u64))
}

/// Points the record at its new state and updates every derived table.
pub(crate) fn write_state(
    conn: &Connection,
    rec: &Record,
    old: Option<&Record>,
    stamp: &ChangeStamp<'_>,
    novelty: Novelty,
) -> Result<(), StoreError> {
    let kind = rec.kind().as_str();
    let key = rec.key();
    let meta = rec.meta();
    // A deletion takes the record out (with what it held) before its tombstone, which keeps the
    // record's id, takes its place.
    if let Record::Tombstone(t) = rec {
        if let Some(gone) = load_record(conn, t.deleted_kind.as_str(), &t.deleted_key)? {
            if gone.meta().version < meta.version {
                remove_record(conn, &gone)?;
            }
        }
    }
    let upsert = match novelty {
        Novelty::Created => {
            "INSERT INTO records (kind, key, id, owner, version, origin, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        }
        Novelty::Unknown => {
            "INSERT INTO records (kind, key, id, owner, version, origin, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (kind, key) DO UPDATE SET owner = ?4, version = ?5, origin = ?6, seq = ?7"
        }
    };
    conn.prepare_cached(upsert)?.execute(params![
        kind,
        key,
        meta.id.as_str(),
        meta.owner.to_string(),
        meta.version as i64,
        stamp.origin.as_str(),
        stamp.seq as i64
    ])?;
    match rec {
        Record::Booking(b) => write_booking(conn, b, old, stamp, novelty)?,
        Record::Room(r) => write_room(conn, r, old)?,
        // Grants never change once written: only their first arrival moves units.
        Record::AllotmentGrant(g) if old.is_none() => {
            for d in grant_deltas(g) {
                add_granted(conn, &d, d.delta)?;
            }
        }
        Record::FolioEntry(e) => crate::ledger::index_entry(conn, e)?,
        Record::Invoice(i) => crate::ledger::index_invoice(conn, i)?,
        Record::Guest(g) => crate::guests::on_write(conn, g, old)?,
        Record::MasterToken(t) => {
            // The token moves the master this server obeys; a newer epoch always wins.
            conn.prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('master', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
            )?
            .execute([t.server.as_str()])?;
            conn.prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('epoch', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
            )?
            .execute([t.epoch.to_string()])?;
            // Its fence was enforced when the claim was noted (`fence::saw_token`, called for
            // every token wherever it arrives), not only when the token is the newest.
        }
        _ => {}
    }
    Ok(())
}

/// A booking's derived rows: units sold, room nights, the PMS outbox and the bookings index.
fn write_booking(
    conn: &Connection,
    b: &innsync_core::Booking,
    old: Option<&Record>,
    stamp: &ChangeStamp<'_>,
    novelty: Novelty,
) -> Result<(), StoreError> {
    let old_b = match old {
        Some(Record::Booking(o)) => Some(o),
        _ => None,
    };
    for d in sold_deltas(old_b, b) {
        add_sold(
            conn,
            &d.property,
            &d.room_type,
            &d.night,
            &d.holder,
            d.delta,
        )?;
    }
    if let Some(o) = old_b {
        let mut del = conn.prepare_cached(
            "DELETE FROM room_nights WHERE property = ?1 AND room = ?2 AND night = ?3 AND booking = ?4",
        )?;
        for (room, night) in room_nights(o) {
            del.execute(params![
                o.property,
                room,
                night_text(night),
                o.meta.id.as_str()
            ])?;
        }
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO room_nights (property, room, night, booking) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (room, night) in room_nights(b) {
        ins.execute(params![
            b.property,
            room,
            night_text(night),
            b.meta.id.as_str()
        ])?;
    }
    for e in room_events(old_b, b) {
        let mut outbox = conn.prepare_cached(
            "INSERT INTO pms_outbox (property, room, occupied, guest_name, booking, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        outbox.execute(params![
            e.property,
            e.room,
            e.occupied,
            e.guest_name,
            e.booking,
            stamp.at
        ])?;
    }
    conn.prepare_cached(
        "INSERT INTO bookings (id, property, room_type, arrival, departure, status,
            hold_until, guest_name, owner, updated_at, guest_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET property = ?2, room_type = ?3, arrival = ?4,
            departure = ?5, status = ?6, hold_until = ?7, guest_name = ?8, owner = ?9,
            updated_at = ?10, guest_id = ?11",
    )?
    .execute(params![
        b.meta.id.as_str(),
        b.property,
        b.room_type,
        night_text(b.arrival),
        night_text(b.departure),
        b.status.as_str(),
        b.hold_until.map(time_text),
        b.guest_name,
        b.meta.owner.to_string(),
        time_text(b.updated_at),
        b.guest_id.as_str(),
    ])?;
    // A booking of an erased guest keeps no name, wherever it arrives from. One this writer
    // just created needs no look: the core books no erased guest (`for_new_booking`), and a
    // line added to a reservation copies its lead's name as stored here — anonymised already
    // if the erasure is known here — with no notes.
    if novelty == Novelty::Unknown {
        crate::guests::on_booking_write(conn, b)?;
    }
    Ok(())
}

/// A room's derived rows: capacity and out-of-order counters.
fn write_room(
    conn: &Connection,
    r: &innsync_core::Room,
    old: Option<&Record>,
) -> Result<(), StoreError> {
    let old_r = match old {
        Some(Record::Room(o)) => Some(o),
        _ => None,
    };
    for d in service_deltas(old_r, r) {
        match d {
            ServiceDelta::Capacity {
                property,
                room_type,
                delta,
            } => {
                add_counter(
                    conn,
                    "INSERT INTO capacity (property, room_type, rooms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (property, room_type) DO UPDATE SET rooms = rooms + ?3",
                    "UPDATE capacity SET rooms = rooms + ?3 WHERE property = ?1 AND room_type = ?2",
                    params![property, room_type, delta],
                    delta,
                )?;
            }
            ServiceDelta::OutOfOrder {
                property,
                room_type,
                night,
                delta,
            } => {
                add_counter(
                    conn,
                    "INSERT INTO out_of_order (property, room_type, night, rooms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (property, room_type, night) DO UPDATE SET rooms = rooms + ?4",
                    "UPDATE out_of_order SET rooms = rooms + ?4
                     WHERE property = ?1 AND room_type = ?2 AND night = ?3",
                    params![property, room_type, night_text(night), delta],
                    delta,
                )?;
            }
        }
    }
    Ok(())
}

/// Appends the change to the log: every change, even one older than the stored record, so
/// that the log re-served to other servers has no holes.
pub(crate) fn log_change(
    conn: &Connection,
    rec: &Record,
    stamp: &ChangeStamp<'_>,
    body: &str,
) -> Result<(), StoreError> {
    let meta = rec.meta();
    // The log's reservation columns (its indexes find a reservation's lines and a number).
    let (reservation, number) = match rec {
        Record::Booking(b) => (
            b.reservation.as_ref().map(RecordId::as_str),
            b.reservation_number
                .and_then(|n| i64::try_from(n.get()).ok()),
        ),
        _ => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO changes (origin, seq, epoch, authority, kind, record_id, version, at, actor,
            action, detail, body, reservation, reservation_number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        stamp.origin.as_str(),
        stamp.seq as i64,
        stamp.epoch as i64,
        meta.owner.to_string(),
        rec.kind().as_str(),
        meta.id.as_str(),
        meta.version as i64,
        stamp.at,
        stamp.actor,
        stamp.action,
        stamp.detail,
        body,
        reservation,
        number
    ])?;
    Ok(())
}

/// Adds `delta` to a holder's net granted units on a night (negative for the giver, so no
/// `CHECK`: only the sum over holders is fixed, at zero).
pub(crate) fn add_granted(conn: &Connection, d: &GrantDelta, delta: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO allotments (property, room_type, holder, night, units) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (property, room_type, holder, night) DO UPDATE SET units = units + ?5",
    )?
    .execute(params![
        d.property,
        d.room_type,
        d.holder.to_string(),
        night_text(d.night),
        delta
    ])?;
    Ok(())
}

fn add_sold(
    conn: &Connection,
    property: &str,
    room_type: &str,
    night: &chrono::NaiveDate,
    holder: &Authority,
    delta: i64,
) -> Result<(), StoreError> {
    add_counter(
        conn,
        "INSERT INTO sold (property, room_type, night, holder, units) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (property, room_type, night, holder) DO UPDATE SET units = units + ?5",
        "UPDATE sold SET units = units + ?5
         WHERE property = ?1 AND room_type = ?2 AND night = ?3 AND holder = ?4",
        params![
            property,
            room_type,
            night_text(*night),
            holder.to_string(),
            delta
        ],
        delta,
    )
}

/// Adds `delta` to a derived counter. Growth upserts; shrinking must find the row, because
/// SQLite checks `CHECK (x >= 0)` on an upsert's inserted values before it sees the conflict.
/// A shrink with no row is a bug in the deltas, reported rather than hidden. (Updating first
/// and inserting on a miss was measured: dearer, as most of a booking's nights have no row
/// for its holder yet.)
fn add_counter(
    conn: &Connection,
    upsert: &str,
    update: &str,
    p: &[&dyn rusqlite::ToSql],
    delta: i64,
) -> Result<(), StoreError> {
    if delta > 0 {
        conn.prepare_cached(upsert)?.execute(p)?;
    } else if conn.prepare_cached(update)?.execute(p)? != 1 {
        return Err(StoreError::Corrupt(format!(
            "a derived counter would go below zero ({delta})"
        )));
    }
    Ok(())
}

/// Removes a record with its derived counters and index rows: a fenced record that never had a
/// legitimate state, or a deleted one.
pub(crate) fn remove_record(conn: &Connection, current: &Record) -> Result<(), StoreError> {
    match current {
        Record::Booking(b) => {
            let mut gone = b.clone();
            gone.status = innsync_core::BookingStatus::Cancelled;
            for d in sold_deltas(Some(b), &gone) {
                conn.prepare_cached(
                    "UPDATE sold SET units = units + ?5
                     WHERE property = ?1 AND room_type = ?2 AND night = ?3 AND holder = ?4",
                )?
                .execute(params![
                    d.property,
                    d.room_type,
                    night_text(d.night),
                    d.holder.to_string(),
                    d.delta
                ])?;
            }
            for (room, night) in room_nights(b) {
                conn.prepare_cached(
                    "DELETE FROM room_nights WHERE property = ?1 AND room = ?2 AND night = ?3 AND booking = ?4",
                )?
                .execute(params![b.property, room, night_text(night), b.meta.id.as_str()])?;
            }
            conn.prepare_cached("DELETE FROM bookings WHERE id = ?1")?
                .execute([b.meta.id.as_str()])?;
        }
        Record::Room(r) => {
            for d in service_deltas(None, r) {
                match d {
                    ServiceDelta::Capacity {
                        property,
                        room_type,
                        delta,
                    } => {
                        conn.prepare_cached(
                            "UPDATE capacity SET rooms = rooms - ?3 WHERE property = ?1 AND room_type = ?2",
                        )?
                        .execute(params![property, room_type, delta])?;
                    }
                    ServiceDelta::OutOfOrder {
                        property,
                        room_type,
                        night,
                        delta,
                    } => {
                        conn.prepare_cached(
                            "UPDATE out_of_order SET rooms = rooms - ?4
                             WHERE property = ?1 AND room_type = ?2 AND night = ?3",
                        )?
                        .execute(params![
                            property,
                            room_type,
                            night_text(night),
                            delta
                        ])?;
                    }
                }
            }
        }
        Record::AllotmentGrant(g) => {
            for d in innsync_core::allotment::grant_deltas(g) {
                add_granted(conn, &d, -d.delta)?;
            }
        }
        Record::Guest(g) => crate::guests::unindex(conn, g)?,
        _ => {}
    }
    conn.prepare_cached("DELETE FROM records WHERE kind = ?1 AND key = ?2")?
        .execute(params![current.kind().as_str(), current.key()])?;
    Ok(())
}

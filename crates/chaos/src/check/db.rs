//! What the checker reads from each server's database file, read-only while the server runs.
//!
//! The only SQL of the harness's checks besides the ledger's ([`crate::money`]): the checker
//! judges the files themselves, not what a server says of them.

use innsync_core::Record;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why a database could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}: {source}")]
pub struct ReadError {
    path: String,
    source: rusqlite::Error,
}

/// What the checker reads from one database.
#[derive(Clone, Debug, Default)]
pub struct DbState {
    /// Bookings by reference.
    pub bookings: BTreeMap<String, innsync_core::Booking>,
    /// Room numbers of the env property.
    pub rooms: BTreeSet<String>,
    /// Rooms of each (property, room type).
    pub capacity: BTreeMap<(String, String), i64>,
    /// Ids of the allotment grants.
    pub grants: BTreeSet<String>,
    /// Conflicts: (origin, seq, record id, kind, theirs).
    pub conflicts: Vec<(String, u64, String, String, Value)>,
    /// Fences: (server, epoch, seq).
    pub fences: Vec<(String, u64, u64)>,
    /// Master tokens written: (origin, seq, server, epoch).
    pub tokens: Vec<(String, u64, String, u64)>,
    /// Env writes other than tokens: (origin, seq, epoch).
    pub env_writes: Vec<(String, u64, u64)>,
    /// Pending operations: (id, state, result).
    pub pending: Vec<(i64, String, Option<String>)>,
}

/// Reads what the checker needs from a database file (read-only, while the server runs).
pub fn read_db(path: &std::path::Path) -> Result<DbState, ReadError> {
    let err = |source| ReadError {
        path: path.display().to_string(),
        source,
    };
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let mut s = DbState::default();
    let rows = |sql: &str| -> Result<Vec<Vec<rusqlite::types::Value>>, rusqlite::Error> {
        let mut st = c.prepare(sql)?;
        let n = st.column_count();
        let r = st
            .query_map([], |r| {
                (0..n).map(|i| r.get(i)).collect::<Result<Vec<_>, _>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(r)
    };
    use rusqlite::types::Value as V;
    let text = |v: &V| match v {
        V::Text(t) => t.clone(),
        V::Integer(i) => i.to_string(),
        _ => String::new(),
    };
    let int = |v: &V| match v {
        V::Integer(i) => *i,
        _ => 0,
    };
    for r in rows("SELECT id FROM records WHERE kind = 'allotment_grant'").map_err(err)? {
        s.grants.insert(text(&r[0]));
    }
    for r in rows("SELECT kind, body FROM record_bodies WHERE kind IN ('booking', 'room')")
        .map_err(err)?
    {
        match serde_json::from_str::<Record>(&text(&r[1])) {
            Ok(Record::Booking(b)) => {
                s.bookings.insert(b.meta.id.to_string(), b);
            }
            Ok(Record::Room(room)) => {
                *s.capacity
                    .entry((room.property.clone(), room.room_type.clone()))
                    .or_default() += 1;
                if room.property == crate::plan::ENV_PROPERTY {
                    s.rooms.insert(room.number);
                }
            }
            _ => {}
        }
    }
    for r in rows("SELECT origin, seq, record_id, kind, theirs FROM conflicts").map_err(err)? {
        s.conflicts.push((
            text(&r[0]),
            int(&r[1]) as u64,
            text(&r[2]),
            text(&r[3]),
            serde_json::from_str(&text(&r[4])).unwrap_or(Value::Null),
        ));
    }
    for r in rows("SELECT server, epoch, seq FROM fences").map_err(err)? {
        s.fences
            .push((text(&r[0]), int(&r[1]) as u64, int(&r[2]) as u64));
    }
    for r in rows(
        "SELECT origin, seq, body FROM changes WHERE kind = 'master_token' ORDER BY origin, seq",
    )
    .map_err(err)?
    {
        if let Ok(Record::MasterToken(t)) = serde_json::from_str::<Record>(&text(&r[2])) {
            s.tokens.push((
                text(&r[0]),
                int(&r[1]) as u64,
                t.server.to_string(),
                t.epoch,
            ));
        }
    }
    for r in rows(
        "SELECT origin, seq, epoch FROM changes WHERE authority = 'env' AND kind != 'master_token'",
    )
    .map_err(err)?
    {
        s.env_writes
            .push((text(&r[0]), int(&r[1]) as u64, int(&r[2]) as u64));
    }
    for r in rows("SELECT id, state, result FROM pending_ops").map_err(err)? {
        let result = match &r[2] {
            V::Text(t) => Some(t.clone()),
            _ => None,
        };
        s.pending.push((int(&r[0]), text(&r[1]), result));
    }
    Ok(s)
}

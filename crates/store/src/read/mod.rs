//! Reads: a small pool of read-only connections and the queries the API and UI need. Readers
//! see the last committed state and never block the writer (WAL).

mod availability;
pub(crate) mod board;
mod bookings;
mod check;
mod commits;
mod conflicts;
mod log;
mod pms;
mod position;
mod reference;
mod stock;
mod touch;

pub use availability::{Availability, NightAvailability, RoomTypeNights};
pub use bookings::BookingFilter;
pub use commits::Commits;
pub use conflicts::ConflictFilter;
pub use log::AuditRow;
pub use pms::{OutboxEvent, PmsLinkRow};
pub use position::Position;

use crate::error::StoreError;
use crate::schema::open_reader;
use crate::sql_view::load_record;
use innsync_core::dates::Nights;
use innsync_core::{Booking, Property, Record, ServerCode, User};
use rusqlite::{Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};

/// Most idle read connections kept open.
pub const MAX_IDLE_READERS: usize = 16;

/// A pool of read-only connections to the store's file.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The read state of search traffic (`board.rs`), shared by every connection: written
    /// by a read that catches it up, read by the reads it already holds the answer of.
    board: RwLock<board::Board>,
    /// The writer's commit count (`commits.rs`); `None` for a pool over a file no writer of
    /// this process writes, which then always reads a snapshot.
    commits: Option<Arc<Commits>>,
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
    /// A pool over the database at `path`; connections open on first use. Every read opens
    /// a snapshot (nothing tells the pool when the file changes).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            board: RwLock::new(board::Board::default()),
            commits: None,
        }
    }

    /// A pool over the database the writer that counts `commits` writes: reads of search
    /// traffic are answered from memory while the count has not moved (`commits.rs`).
    pub(crate) fn fed_by(path: PathBuf, commits: Arc<Commits>) -> Self {
        Self {
            commits: Some(commits),
            ..Self::new(path)
        }
    }

    /// The board to catch up; a board a panicking read left behind starts afresh.
    fn board_to_write(&self) -> RwLockWriteGuard<'_, board::Board> {
        match self.board.write() {
            Ok(g) => g,
            Err(poisoned) => {
                self.board.clear_poison();
                let mut g = poisoned.into_inner();
                *g = board::Board::default();
                g
            }
        }
    }

    /// `f` over the read state without a snapshot, when the board is at the writer's last
    /// commit and holds `property` over `nights` (`commits.rs` says why that is exact);
    /// `None` when it is not, or when a catch-up holds the board: read with a snapshot then.
    /// Never blocks and never touches the database, so the async threads may call it.
    pub(crate) fn with_stock_now<R>(
        &self,
        property: &str,
        nights: Nights,
        f: impl FnOnce(&board::Served<'_>, &str, &Position) -> R,
    ) -> Option<R> {
        let seen = self.commits.as_ref()?.seen();
        let guard = self.board.try_read().ok()?;
        let (served, here, pos) = guard.now(seen, property, &nights)?;
        Some(f(&served, here, pos))
    }

    /// The change-log position of the last commit, from the read state when it is at the
    /// writer's last commit; `None`: read it with [`ReadPool::position`].
    pub fn position_now(&self) -> Option<Position> {
        let seen = self.commits.as_ref()?.seen();
        self.board.try_read().ok()?.position_at(seen).cloned()
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

    /// The change-log position of the last commit: what a conditional read (`If-None-Match`)
    /// compares before reading anything else.
    pub fn position(&self) -> Result<Position, StoreError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let pos = Position::read(&tx)?;
            tx.commit()?;
            Ok(pos)
        })
    }

    /// Runs `f` on a property's reference records and stock over `nights`, in one read
    /// transaction, from the board when it can (caught up to the snapshot first); with the
    /// authority this server sells under and the position read. `None`: no such property.
    pub(crate) fn with_stock<R>(
        &self,
        property: &str,
        nights: Nights,
        f: impl FnOnce(&board::Served<'_>, &str, &Position) -> R,
    ) -> Result<Option<R>, StoreError> {
        // Read before the snapshot starts, so the snapshot holds every commit counted.
        let seen = self.commits.as_ref().map(|c| c.seen());
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let pos = Position::read(&tx)?;
            let mut guard = self.board_to_write();
            let out = (|| -> Result<Option<R>, StoreError> {
                if guard.catch_up(&tx, &pos)? {
                    if let Some(seen) = seen {
                        guard.caught_up_with(seen);
                    }
                    let here = guard.here().to_string();
                    return Ok(guard
                        .serve(&tx, property, nights)?
                        .map(|s| f(&s, &here, &pos)));
                }
                // The snapshot is older than the board: the board's newer state if it has it.
                let here_now = guard.here().to_string();
                if let Some((served, at)) = guard.cached(property, &nights) {
                    return Ok(Some(f(&served, &here_now, at)));
                }
                let here = here(&tx)?.to_string();
                Ok(board::alone(&tx, property, nights)?.map(|s| f(&s, &here, &pos)))
            })();
            if out.is_err() {
                // Half caught up: start afresh on the next read.
                *guard = board::Board::default();
            }
            drop(guard);
            tx.commit()?;
            out
        })
    }
}

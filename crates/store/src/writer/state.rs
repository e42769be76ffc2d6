//! The writer thread's own state: its connection, counters and standing, loaded from the
//! `meta` table at open and after a snapshot replaced the store.

use super::{Clock, WriterSettings, WriterStats};
use crate::error::StoreError;
use crate::schema::open_writer;
use crate::sql_view::ReferenceCache;
use chrono::{DateTime, Utc};
use innsync_core::decide::Ctx;
use innsync_core::{IdSource, RecordId, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// The ids and seqs this server has handed out (`meta.last_id`, `meta.last_seq`); a failed
/// batch puts them back, so neither has gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counters {
    pub(super) last_id: u64,
    pub(super) last_seq: u64,
    /// The last reservation number's sequence (`meta.last_reservation`), once read; `None`
    /// until then and again after changes from elsewhere landed (reservation.rs).
    pub(super) last_reservation: Option<u64>,
}

/// Where this server stands when it decides: who it is, the master it obeys and at which
/// epoch, whether env writes are frozen, and the environment's owners, holders and archives.
/// [`Standing::ctx`] is the one place the core's [`Ctx`] is built from it, for every command of
/// a batch.
pub(super) struct Standing {
    pub(super) server: ServerCode,
    pub(super) master: ServerCode,
    pub(super) epoch: u64,
    /// Env writes refused while the master hands over.
    pub(super) frozen: bool,
    /// A fence stands on this server's own changes at `epoch` (a forced takeover it has not yet
    /// seen the token of moved past it, or a claim to the epoch outranks its own): every env
    /// write it added here would be quarantined on every server, so it adds none and answers
    /// as a server that is not the master.
    pub(super) fenced: bool,
    pub(super) property_owners: Vec<(String, ServerCode)>,
    pub(super) holders: Vec<ServerCode>,
    pub(super) archives: Vec<ServerCode>,
}

impl Standing {
    /// The core's context for a command decided at `now` for `actor`.
    pub(super) fn ctx<'a>(&'a self, now: DateTime<Utc>, actor: &'a str) -> Ctx<'a> {
        Ctx {
            now,
            server: &self.server,
            // A fenced master is no longer the master of its epoch, and does not yet know who is.
            master: if self.fenced && self.master == self.server {
                None
            } else {
                Some(&self.master)
            },
            actor,
            property_owners: &self.property_owners,
            holders: &self.holders,
            archives: &self.archives,
            epoch: self.epoch,
            frozen: self.frozen,
        }
    }
}

/// Everything the writer thread owns.
pub(super) struct State {
    pub(super) conn: Connection,
    pub(super) standing: Standing,
    pub(super) counters: Counters,
    pub(super) clock: Clock,
    pub(super) stats: Arc<WriterStats>,
    pub(super) cache: RefCell<ReferenceCache>,
    pub(super) changed: tokio::sync::watch::Sender<u64>,
    /// Every transaction committed, counted for the read pool (`read/commits.rs`).
    pub(super) commits: Arc<crate::read::Commits>,
    /// A master token was written or applied in the current batch.
    pub(super) master_moved: bool,
    /// Whether the last failed batch failed for a reason that may differ between two runs
    /// (I/O, a full disk, corruption) rather than for its content.
    pub(super) failed_fatally: bool,
    /// Changes are numbered in local commit order (`meta.commit_order`): each batch records
    /// its time in `meta.batch_at`.
    pub(super) commit_order: bool,
}

/// The core's id source over the writer's counter.
pub(super) struct Ids<'a> {
    pub(super) server: &'a ServerCode,
    pub(super) last: &'a mut u64,
    /// The writer's copy of the reservation counter.
    pub(super) last_reservation: &'a mut Option<u64>,
    /// The batch's transaction: the reservation counter lives in `meta` (reservation.rs).
    pub(super) conn: &'a Connection,
}

impl IdSource for Ids<'_> {
    fn next_id(&mut self) -> RecordId {
        *self.last += 1;
        RecordId::new(self.server, *self.last)
    }

    fn next_reservation_number(
        &mut self,
    ) -> Result<innsync_core::ReservationNumber, innsync_core::ReservationNumberError> {
        crate::reservation::next(self.conn, self.server, self.last_reservation)
    }
}

/// A value of the `meta` table.
pub(super) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Sets a value of the `meta` table.
pub(super) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// A number of the `meta` table; 0 when unset.
pub(super) fn meta_u64(conn: &Connection, key: &str) -> Result<u64, StoreError> {
    match get_meta(conn, key)? {
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("meta {key} = {v:?}"))),
        None => Ok(0),
    }
}

/// Opens (or creates) the store for `server` and loads the writer's state from it.
pub(super) fn open_state(
    data_dir: &Path,
    server: &ServerCode,
    clock: Clock,
    settings: &WriterSettings,
) -> Result<(State, std::path::PathBuf), StoreError> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(crate::DB_FILE);
    let conn = open_writer(&path)?;
    match get_meta(&conn, "server")? {
        Some(s) if s != server.as_str() => {
            return Err(StoreError::Setup(format!(
                "{} holds the data of server {s}, not {server}",
                data_dir.display()
            )))
        }
        Some(_) => {}
        None => {
            let master = settings.initial_master.as_ref().unwrap_or(server);
            set_meta(&conn, "server", server.as_str())?;
            set_meta(&conn, "master", master.as_str())?;
            set_meta(&conn, "epoch", "1")?;
        }
    }
    let (changed_tx, _) = tokio::sync::watch::channel(0);
    let mut state = State {
        conn,
        standing: Standing {
            server: server.clone(),
            master: server.clone(),
            epoch: 0,
            frozen: false,
            fenced: false,
            property_owners: settings.property_owners.clone(),
            holders: settings.holders.clone(),
            archives: settings.archives.clone(),
        },
        counters: Counters {
            last_id: 0,
            last_seq: 0,
            last_reservation: None,
        },
        clock,
        stats: Arc::new(WriterStats::default()),
        cache: RefCell::new(ReferenceCache::default()),
        changed: changed_tx,
        commits: Arc::default(),
        master_moved: false,
        failed_fatally: false,
        commit_order: false,
    };
    reload_counters(&mut state)?;
    state.changed.send_replace(state.counters.last_seq);
    Ok((state, path))
}

/// Reads the counters, master and epoch from the meta table (at open, and after a snapshot
/// replaced the whole store).
pub(super) fn reload_counters(st: &mut State) -> Result<(), StoreError> {
    st.counters = Counters {
        last_id: meta_u64(&st.conn, "last_id")?,
        last_seq: meta_u64(&st.conn, "last_seq")?,
        last_reservation: None,
    };
    st.standing.master = get_meta(&st.conn, "master")?
        .map(|m| ServerCode::parse(&m).map_err(StoreError::Corrupt))
        .transpose()?
        .unwrap_or_else(|| st.standing.server.clone());
    st.standing.epoch = meta_u64(&st.conn, "epoch")?;
    st.standing.fenced = fenced_at(&st.conn, &st.standing.server, st.standing.epoch)?;
    st.commit_order = get_meta(&st.conn, "commit_order")?.is_some();
    Ok(())
}

/// Whether a fence stands on `server`'s own changes at `epoch`. A fence is drawn at a change
/// the server has already written, so every change it would add at that epoch lies beyond it.
pub(super) fn fenced_at(
    conn: &Connection,
    server: &ServerCode,
    epoch: u64,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM fences WHERE server = ?1 AND epoch = ?2")?
        .query_row(params![server.as_str(), epoch as i64], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The master and epoch as the transaction `conn` is in sees them.
pub(super) fn master_in(conn: &Connection) -> Result<(Option<ServerCode>, u64), StoreError> {
    let master = get_meta(conn, "master")?
        .map(|m| ServerCode::parse(&m).map_err(StoreError::Corrupt))
        .transpose()?;
    Ok((master, meta_u64(conn, "epoch")?))
}

/// Reads the master and epoch back from the meta table after a commit (or a failed one).
pub(super) fn reload_master(st: &mut State) -> Result<(), StoreError> {
    if let Some(m) = get_meta(&st.conn, "master")? {
        st.standing.master = ServerCode::parse(&m).map_err(StoreError::Corrupt)?;
    }
    st.standing.epoch = meta_u64(&st.conn, "epoch")?;
    st.standing.fenced = fenced_at(&st.conn, &st.standing.server, st.standing.epoch)?;
    if st.standing.master != st.standing.server {
        // No longer master: nothing left to freeze here.
        st.standing.frozen = false;
    }
    Ok(())
}

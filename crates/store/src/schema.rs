//! The schema and connection settings.
//!
//! The change log is the store: `changes` holds every record state ever written (with who,
//! when and why — the audit log), and `records` points each record at the change that last
//! wrote it. Derived tables (`sold`, `capacity`, `out_of_order`, `room_nights`, `bookings`)
//! are maintained only by [`crate::apply`], from records, and so is `pms_outbox`: the ordered
//! room-occupancy events (check-in, move, check-out) the PMS links deliver, written in the same
//! transaction as the booking change. `pms_links` holds each link's settings and how far into
//! the outbox it has delivered. `allotments` is derived from the grant records the same way.

use crate::error::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// The schema version this binary writes: the number of [`MIGRATIONS`]. A file with a newer
/// version is refused by an older binary; an older file is brought up to date at open.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a reader waits on a lock before failing (a named setting, not a magic number).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// WAL pages written before the writer checkpoints them into the database file.
pub const WAL_AUTOCHECKPOINT_PAGES: i64 = 4_000;

/// Version 1: the records, change log, derived counters and local tables.
const V1: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
    kind TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,
    version INTEGER NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE bookings (
    id TEXT PRIMARY KEY, property TEXT NOT NULL, room_type TEXT NOT NULL, arrival TEXT NOT NULL,
    departure TEXT NOT NULL, status TEXT NOT NULL, hold_until TEXT, guest_name TEXT NOT NULL,
    owner TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX bookings_by_property ON bookings (property, arrival);
CREATE INDEX bookings_by_hold ON bookings (hold_until) WHERE status = 'provisional';
CREATE TABLE capacity (
    property TEXT NOT NULL, room_type TEXT NOT NULL, rooms INTEGER NOT NULL CHECK (rooms >= 0),
    PRIMARY KEY (property, room_type)) WITHOUT ROWID;
CREATE TABLE out_of_order (
    property TEXT NOT NULL, room_type TEXT NOT NULL, night TEXT NOT NULL,
    rooms INTEGER NOT NULL CHECK (rooms >= 0),
    PRIMARY KEY (property, room_type, night)) WITHOUT ROWID;
CREATE TABLE sold (
    property TEXT NOT NULL, room_type TEXT NOT NULL, night TEXT NOT NULL, holder TEXT NOT NULL,
    units INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (property, room_type, night, holder)) WITHOUT ROWID;
CREATE TABLE room_nights (
    property TEXT NOT NULL, room TEXT NOT NULL, night TEXT NOT NULL, booking TEXT NOT NULL,
    PRIMARY KEY (property, room, night)) WITHOUT ROWID;
CREATE TABLE changes (
    origin TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, authority TEXT NOT NULL,
    kind TEXT NOT NULL, record_id TEXT NOT NULL, version INTEGER NOT NULL, at TEXT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (origin, seq)) WITHOUT ROWID;
CREATE INDEX changes_by_record ON changes (record_id, at);
CREATE INDEX changes_by_time ON changes (at);
-- A record's state is the body of the change that last wrote it: stored once, in the log.
CREATE VIEW record_bodies AS
    SELECT r.kind, r.key, r.id, r.version, c.body FROM records r
    JOIN changes c ON c.origin = r.origin AND c.seq = r.seq;
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, outcome TEXT NOT NULL, at TEXT NOT NULL)
    WITHOUT ROWID;
CREATE TABLE pms_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, property TEXT NOT NULL, room TEXT NOT NULL,
    occupied INTEGER NOT NULL, guest_name TEXT, booking TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX pms_outbox_by_property ON pms_outbox (property, id);
CREATE TABLE pms_links (
    name TEXT PRIMARY KEY, config TEXT NOT NULL, delivered INTEGER NOT NULL) WITHOUT ROWID;
-- Replicated changes that could not be applied here (they would break an invariant): kept,
-- with the version they would have replaced, for an operator; never applied silently.
CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL, record_id TEXT NOT NULL,
    kind TEXT NOT NULL, reason TEXT NOT NULL, theirs TEXT NOT NULL, ours TEXT,
    detected_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', UNIQUE (origin, seq));
-- Lines drawn by forced takeovers: env writes of `server` at `epoch` after `seq` are fenced.
CREATE TABLE fences (
    server TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (server, epoch)) WITHOUT ROWID;
-- Work for another server that it must acknowledge: a write forwarded to its owner. Durable;
-- states pending -> in_progress -> done | retry | failed | canceled.
CREATE TABLE pending_ops (
    id INTEGER PRIMARY KEY, target TEXT NOT NULL, command TEXT NOT NULL, actor TEXT NOT NULL,
    summary TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL, last_error TEXT, result TEXT, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE INDEX pending_by_state ON pending_ops (state, next_at);
-- How far this server has applied each other server's change log.
CREATE TABLE cursors (origin TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY, username TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL)
    WITHOUT ROWID;
"#;

/// Version 2: allotments. `allotments` holds, per (property, room type, holder, night), the
/// units granted to the holder net of those it gave — derived from the grant records by
/// [`crate::apply`]; a holder's allotment is that plus, for the property's owner, the rooms in
/// service.
const V2: &str = r#"
CREATE TABLE allotments (
    property TEXT NOT NULL, room_type TEXT NOT NULL, holder TEXT NOT NULL, night TEXT NOT NULL,
    units INTEGER NOT NULL,
    PRIMARY KEY (property, room_type, holder, night)) WITHOUT ROWID;
"#;

/// Version 3: distribution. Bookings are indexed by guest (a guest still referred to is not
/// deleted; partial replication sends a server the guests of its own bookings). Pending
/// operations gain a pool (pools run in parallel, FIFO within each), the record they concern
/// (one record's operations never overtake each other; duplicates coalesce), the rule that made
/// them, what they do (`relay`, `transfer`, `copy`, `delete_copy`) and how far a multi-step
/// operation has got (`phase`).
const V3: &str = r#"
ALTER TABLE bookings ADD COLUMN guest_id TEXT;
UPDATE bookings SET guest_id = (
    SELECT json_extract(c.body, '$.guest_id') FROM records r
    JOIN changes c ON c.origin = r.origin AND c.seq = r.seq
    WHERE r.kind = 'booking' AND r.key = bookings.id);
CREATE INDEX bookings_by_guest ON bookings (guest_id);
ALTER TABLE pending_ops ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
ALTER TABLE pending_ops ADD COLUMN op TEXT NOT NULL DEFAULT 'relay';
ALTER TABLE pending_ops ADD COLUMN record_id TEXT;
ALTER TABLE pending_ops ADD COLUMN rule TEXT;
ALTER TABLE pending_ops ADD COLUMN phase TEXT;
CREATE INDEX pending_by_pool ON pending_ops (pool, state, id);
CREATE INDEX pending_by_record ON pending_ops (record_id, id) WHERE record_id IS NOT NULL;
"#;

/// Version 4: the local commit order of the change log (issue 7, backups): once a server has a
/// change-log archive, [`COMMIT_ORDER_TRIGGER`] numbers every row of `changes` here as it is
/// inserted, with the time of the batch that wrote it. The archive and point-in-time restore
/// read it; nothing else does, and a server without an archive pays nothing for it.
const V_CHANGE_ORDER: &str = r#"
CREATE TABLE change_order (
    n INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL, committed_at TEXT NOT NULL);
"#;

/// Version 5: every master token ever seen, by epoch. Two servers can claim one epoch (a
/// forced takeover racing a handover): the claim that ranks first — a takeover before a grant,
/// then the higher server code — is the epoch's master everywhere, whatever the order the
/// claims arrive in, and the other claimants' env writes of that epoch are fenced.
const V5: &str = r#"
CREATE TABLE epochs (
    epoch INTEGER NOT NULL, server TEXT NOT NULL, takeover INTEGER NOT NULL,
    PRIMARY KEY (epoch, server, takeover)) WITHOUT ROWID;
"#;

/// Bookings are found by their numeric reservation number (FIAS `G#`, searched by
/// the front desk). A booking's number never changes, so any logged version of it names the
/// booking; the index also gives each server the highest number of its own range at once.
const V_RESERVATION_NUMBER: &str = r#"
CREATE INDEX changes_by_reservation_number ON changes (json_extract(body, '$.reservation_number'))
    WHERE kind = 'booking';
"#;

/// The ledger (issue 18). Folio entries and invoices are records; these tables are
/// their indexes, kept by [`crate::apply`] when a record first arrives (they are written once):
/// `ledger_entries` for the reports (by property and business date), `invoices` for the
/// lookups by booking and the per-server, per-year series. Departures are indexed for the
/// night audit and the departures report.
const V_LEDGER: &str = r#"
CREATE INDEX bookings_by_departure ON bookings (property, departure);
CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY, booking TEXT NOT NULL, property TEXT NOT NULL, folio TEXT NOT NULL,
    kind TEXT NOT NULL, item TEXT, business_date TEXT NOT NULL, amount INTEGER NOT NULL,
    tax INTEGER NOT NULL, owner TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX ledger_by_date ON ledger_entries (property, business_date);
CREATE INDEX ledger_by_booking ON ledger_entries (booking);
CREATE TABLE invoices (
    number TEXT PRIMARY KEY, booking TEXT NOT NULL, series TEXT NOT NULL, year INTEGER NOT NULL,
    seq INTEGER NOT NULL, total INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX invoices_by_booking ON invoices (booking);
CREATE INDEX invoices_by_series ON invoices (series, year, seq);
"#;

/// Created by the writer when commit order tracking is turned on (`meta.commit_order`), not by
/// a migration: `meta.batch_at` is the time of the batch, set by the writer at the start of
/// each transaction (the leader's time in a cluster).
pub const COMMIT_ORDER_TRIGGER: &str = r#"
CREATE TRIGGER IF NOT EXISTS changes_commit_order AFTER INSERT ON changes BEGIN
    INSERT INTO change_order (origin, seq, committed_at) VALUES (NEW.origin, NEW.seq,
        COALESCE((SELECT value FROM meta WHERE key = 'batch_at'), NEW.at));
END;
"#;

/// Every schema step in order; `PRAGMA user_version` counts how many a file has had. A step is
/// never edited once released: a change is a new step appended here.
/// Every claim to be master (a master token as written, with the fence a takeover carries), so
/// the one fencing rule can be run over all of them whatever order they arrived in; filled from
/// the tokens already in the change log. Replaces `epochs`, which kept no fences.
const V_CLAIMS: &str = r#"
CREATE TABLE claims (
    epoch INTEGER NOT NULL, server TEXT NOT NULL, takeover INTEGER NOT NULL,
    fence_server TEXT NOT NULL, fence_epoch INTEGER NOT NULL, fence_seq INTEGER NOT NULL,
    PRIMARY KEY (epoch, server, takeover, fence_server, fence_epoch, fence_seq)) WITHOUT ROWID;
INSERT OR IGNORE INTO claims
    SELECT json_extract(body, '$.epoch'), json_extract(body, '$.server'),
        COALESCE(json_type(body, '$.fence') = 'object', 0),
        COALESCE(json_extract(body, '$.fence.server'), ''),
        COALESCE(json_extract(body, '$.fence.epoch'), 0),
        COALESCE(json_extract(body, '$.fence.seq'), 0)
    FROM changes WHERE kind = 'master_token';
DROP TABLE epochs;
"#;

/// A replicated change blocked by an invariant here is kept whole with its conflict, so it can
/// be retried once the blocker has gone (`blocked.rs`).
const V_BLOCKED_CHANGES: &str = r#"
ALTER TABLE conflicts ADD COLUMN change TEXT;
"#;

/// Guest search (issue 17): derived from guest records by `crate::guests` — normalised name,
/// lower-case e-mail and reversed phone digits per guest (`erased` marks an erased guest, kept
/// with no personal data), every name word and every trigram of a word, each indexed so exact
/// and prefix searches do not grow with the number of guests. Filled from existing guests on
/// first open (`meta.guest_search_built`).
const V_GUEST_SEARCH: &str = r#"
CREATE TABLE guest_search (
    guest_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone_rev TEXT,
    erased INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX guest_search_by_email ON guest_search (email);
CREATE INDEX guest_search_by_phone ON guest_search (phone_rev);
CREATE TABLE guest_tokens (
    token TEXT NOT NULL, guest_id TEXT NOT NULL, PRIMARY KEY (token, guest_id)) WITHOUT ROWID;
CREATE INDEX guest_tokens_by_guest ON guest_tokens (guest_id);
CREATE TABLE guest_trigrams (
    trigram TEXT NOT NULL, guest_id TEXT NOT NULL, PRIMARY KEY (trigram, guest_id)) WITHOUT ROWID;
CREATE INDEX guest_trigrams_by_guest ON guest_trigrams (guest_id);
"#;

/// Reads at booking-engine scale (issue 20): a property's bookings list walks (property, id)
/// from its `after` reference (keyset paging, cost flat in the table's size); the stock read
/// seeks grants by (property, room type, night) whatever their holder (grants are rare writes,
/// so the index costs the booking path nothing).
const V_READS_INDEXES: &str = r#"
CREATE INDEX bookings_by_property_ref ON bookings (property, id);
CREATE INDEX allotments_by_night ON allotments (property, room_type, night);
"#;

/// Reservations of several lines (issue 17): the lines of a reservation are the bookings whose
/// body carries its reference, found by this index on the change log.
const V_RESV_LINES: &str = r#"
CREATE INDEX changes_by_reservation ON changes (json_extract(body, '$.reservation'))
    WHERE kind = 'booking';
"#;

/// The guest index made cheap to keep (issue 17's booking cost) and flat to search (issue 20):
/// a name word's postings are deleted by the table's own key, computed from the state being
/// replaced (`guests::unindex`), so no second index by guest is kept; trigrams index the
/// vocabulary of distinct name words (`name_words`), not every guest, so a guest with a known
/// name costs a posting per word and the fuzzy pass reads words, not guests. The index is
/// rebuilt from the guest records on the next open.
const V_GUEST_INDEX_LEAN: &str = r#"
DROP INDEX IF EXISTS guest_tokens_by_guest;
DROP TABLE IF EXISTS guest_trigrams;
CREATE TABLE name_words (word TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE name_word_trigrams (
    trigram TEXT NOT NULL, word TEXT NOT NULL, PRIMARY KEY (trigram, word)) WITHOUT ROWID;
DELETE FROM meta WHERE key = 'guest_search_built';
"#;

/// A booking change's reservation and reservation number as columns of the log, set by
/// [`crate::apply`] from the record in hand (issue 17's booking cost): the expression indexes
/// they replace parsed every booking body's JSON twice more on insert. Partial indexes: only
/// booking changes that carry them are indexed.
const V_CHANGE_RESERVATION_KEYS: &str = r#"
ALTER TABLE changes ADD COLUMN reservation TEXT;
ALTER TABLE changes ADD COLUMN reservation_number INTEGER;
UPDATE changes SET reservation = json_extract(body, '$.reservation'),
    reservation_number = json_extract(body, '$.reservation_number')
    WHERE kind = 'booking';
DROP INDEX IF EXISTS changes_by_reservation_number;
DROP INDEX IF EXISTS changes_by_reservation;
CREATE INDEX changes_by_reservation_no ON changes (reservation_number)
    WHERE reservation_number IS NOT NULL;
CREATE INDEX changes_by_reservation_ref ON changes (reservation)
    WHERE reservation IS NOT NULL;
"#;

/// A guest's e-mail and phone are indexed only when given (issue 17's booking cost): many
/// guests booked at the desk or by phone have neither, and an index entry for a NULL is never
/// searched (`email = ?` and a phone prefix range both imply NOT NULL, so the searches keep
/// their index).
const V_GUEST_CONTACT_PARTIAL: &str = r#"
DROP INDEX IF EXISTS guest_search_by_email;
DROP INDEX IF EXISTS guest_search_by_phone;
CREATE INDEX guest_search_by_email ON guest_search (email) WHERE email IS NOT NULL;
CREATE INDEX guest_search_by_phone ON guest_search (phone_rev) WHERE phone_rev IS NOT NULL;
"#;

/// Every migration step, in order; `PRAGMA user_version` counts those applied.
pub const MIGRATIONS: &[&str] = &[
    V1,
    V2,
    V3,
    V_CHANGE_ORDER,
    V5,
    V_CLAIMS,
    V_RESERVATION_NUMBER,
    V_BLOCKED_CHANGES,
    V_LEDGER,
    V_GUEST_SEARCH,
    V_READS_INDEXES,
    V_RESV_LINES,
    V_GUEST_INDEX_LEAN,
    V_CHANGE_RESERVATION_KEYS,
    V_GUEST_CONTACT_PARTIAL,
];

/// Prepared statements the writer's connection keeps. A booking's decision and its apply use
/// some 30 distinct statements (stock, grants, guests and their search index, reservation
/// numbers, change log…); with rusqlite's default of 16 the cache thrashed and every booking
/// re-parsed most of its SQL (issue 17's benchmark: over half of all instructions were
/// `sqlite3Prepare`).
pub const WRITER_STATEMENT_CACHE: usize = 256;

/// Prepared statements a reader's connection keeps (availability, quote, lists…).
pub const READER_STATEMENT_CACHE: usize = 128;

/// Opens the writer's connection: creates the schema on first use and checks its version.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL + FULL: every commit is fsynced before it is acknowledged.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -64_000)?;
    // Statement journals in memory: every replicated change is applied in a savepoint, and
    // with the default the pages it touches were first copied to a temporary file — a
    // `pwrite` per page, a third of a catch-up's time (perf, issue 20). They are never needed
    // after a crash (the WAL is), and one savepoint holds only the pages of one change.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    migrate(&conn, path)?;
    crate::guests::build_index_once(&conn)?;
    Ok(conn)
}

/// Brings the file up to [`SCHEMA_VERSION`], each step in its own transaction with the version
/// bump, so a crash leaves the file at a step boundary.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::Setup(format!(
            "{} has schema version {version}; this innsync understands up to {SCHEMA_VERSION}",
            path.display()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = i + 1;
        conn.execute_batch(&format!(
            "BEGIN; {step} PRAGMA user_version = {next}; COMMIT;"
        ))?;
    }
    Ok(())
}

/// Opens a read-only connection for the read pool.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_prepared_statement_cache_capacity(READER_STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_file_is_brought_up_to_date_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&format!(
                "BEGIN; {} PRAGMA user_version = 1; COMMIT;",
                MIGRATIONS[0]
            ))
            .unwrap();
        }
        let c = open_writer(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM allotments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(c);
        let err = open_writer(&path).unwrap_err().to_string();
        assert!(err.contains("schema version"), "{err}");
    }
}

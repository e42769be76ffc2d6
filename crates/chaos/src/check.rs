//! The checker: the guarantees, judged over the history and every server's final database
//! after the faults are healed. Each check has a name; a violation says which check, where
//! and what.
//!
//! - `converged`: every server's digest is the same after heal;
//! - `pending_drained`: no pending operation is left waiting (each is done, failed or
//!   canceled);
//! - `invariants`: `innsync check` holds on every data directory — no night oversold (units
//!   sold never exceed rooms in service), no room taken twice, derived counters equal to the
//!   records;
//! - `acknowledged_bookings`: every booking a client was told was made (201/200), or that was
//!   queued (202) and whose pending operation completed, is on every server, in the state it
//!   was acknowledged in or a later one — unless a fence quarantined that write as a conflict;
//! - `booked_once`: no booking request (one idempotency key, one guest name) made two
//!   bookings, however it was retried, relayed or duplicated;
//! - `acknowledged_env_writes`: every env write acknowledged (a room added) is a record or a
//!   quarantined conflict on every server, never lost;
//! - `one_master_per_epoch`: the env writes that count (not fenced, not quarantined) of each
//!   epoch come from one of its claimants only — two claims of one epoch are settled by the
//!   store (the first-ranked claim is the master everywhere), so they are counted, not failed;
//! - `epochs_grow`: the tokens each server wrote have growing epochs.
//!
//! - `acknowledged_grants`: every allotment grant acknowledged is a record (or a conflict) on
//!   every server; that no holder gives or sells more than it holds is `innsync check`'s.
//! - `acknowledged_payments`: every ledger entry acknowledged (a deposit, charge or payment
//!   the workload adds after a confirm, check-in or check-out) is on every server
//!   ([`crate::money`]).

use crate::history::{completions, Event, Outcome};
use innsync_core::booking::{next_status, BookingAction};
use innsync_core::{BookingStatus, Record};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One server's end of the run.
#[derive(Clone, Debug)]
pub struct Final {
    /// Its code.
    pub code: String,
    /// Its database file.
    pub db: PathBuf,
    /// Its digest (empty if it did not answer).
    pub digest: String,
    /// What `innsync check --data-dir` said (Err: its message).
    pub invariants: Result<(), String>,
}

/// A guarantee broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which check.
    pub check: &'static str,
    /// What, where.
    pub detail: String,
}

/// What the checker looked at, for the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    /// Bookings acknowledged and found.
    pub acknowledged_bookings: usize,
    /// Booking writes found reverted by a fence (quarantined as conflicts).
    pub fenced_booking_writes: usize,
    /// Env writes acknowledged.
    pub acknowledged_env_writes: usize,
    /// Of those, quarantined as conflicts after a forced takeover.
    pub fenced_env_writes: usize,
    /// Pending operations seen.
    pub pending_operations: usize,
    /// Epochs seen.
    pub epochs: usize,
    /// Epochs claimed by two servers and settled.
    pub disputed_epochs: usize,
    /// Conflicts on the first server.
    pub conflicts: usize,
    /// Allotment grants acknowledged (and found on every server, or quarantined).
    pub acknowledged_grants: usize,
    /// Nights sold beyond the rooms by several authorities together, each within the rooms
    /// on its own: the gap before allotments (issue 4), counted instead of failing only with
    /// `lenient_stock`.
    pub cross_authority_oversold_nights: usize,
}

/// How the stock check treats nights sold beyond the rooms by several authorities together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum StockRule {
    /// As before allotments (issue 4), when servers sold from the whole inventory: only one
    /// authority selling beyond the rooms is a violation; nights oversold by several together
    /// are counted and reported (`--lenient-stock`, to compare with older builds).
    WholeInventoryPerAuthority,
    /// Any night sold beyond its rooms is a violation: every server sells only from the
    /// allotments it holds (the default).
    Strict,
}

/// The nights sold beyond their rooms: `(property, room type, night, total units, rooms,
/// whether one authority alone sold beyond them)`.
pub fn oversold(s: &DbState) -> Vec<(String, String, chrono::NaiveDate, i64, i64, bool)> {
    let mut total: BTreeMap<(String, String, chrono::NaiveDate), i64> = BTreeMap::new();
    let mut by_holder: BTreeMap<(String, String, chrono::NaiveDate, String), i64> = BTreeMap::new();
    for b in s.bookings.values() {
        if !matches!(
            b.status,
            BookingStatus::Provisional | BookingStatus::Confirmed | BookingStatus::CheckedIn
        ) {
            continue;
        }
        let mut night = b.arrival;
        while night < b.departure {
            let k = (b.property.clone(), b.room_type.clone(), night);
            *total.entry(k).or_default() += i64::from(b.units);
            *by_holder
                .entry((
                    b.property.clone(),
                    b.room_type.clone(),
                    night,
                    b.holder.to_string(),
                ))
                .or_default() += i64::from(b.units);
            night = night.succ_opt().unwrap_or(b.departure);
        }
    }
    let mut out = Vec::new();
    for ((p, t, night), units) in total {
        let rooms = s
            .capacity
            .get(&(p.clone(), t.clone()))
            .copied()
            .unwrap_or(0);
        if units > rooms {
            let alone = by_holder
                .iter()
                .any(|((hp, ht, hn, _), u)| *hp == p && *ht == t && *hn == night && *u > rooms);
            out.push((p, t, night, units, rooms, alone));
        }
    }
    out
}

/// The checker's verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verdict {
    /// Broken guarantees (empty: the run passed).
    pub violations: Vec<Violation>,
    /// What was looked at.
    pub checked: Checked,
}

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

/// Whether `to` is `from` or can follow it through the booking state machine.
pub fn reachable(from: BookingStatus, to: BookingStatus) -> bool {
    let actions = [
        BookingAction::Confirm,
        BookingAction::Cancel,
        BookingAction::Expire,
        BookingAction::CheckIn,
        BookingAction::CheckOut,
        BookingAction::NoShow,
    ];
    let mut seen = BTreeSet::from([from]);
    let mut todo = vec![from];
    while let Some(s) = todo.pop() {
        if s == to {
            return true;
        }
        for a in actions {
            if let Some(n) = next_status(s, a) {
                if seen.insert(n) {
                    todo.push(n);
                }
            }
        }
    }
    false
}

/// Every booking record (`"kind": "booking"` with an id and a status) anywhere in `v`: the
/// owner's answer to a pending operation, whatever its envelope.
fn bookings_in(v: &Value, out: &mut Vec<(String, BookingStatus)>) {
    match v {
        Value::Object(m) => {
            if m.get("kind").and_then(Value::as_str) == Some("booking") {
                if let (Some(id), Some(st)) = (
                    m.get("id").and_then(Value::as_str),
                    m.get("status").and_then(status_of),
                ) {
                    out.push((id.to_string(), st));
                }
            }
            for x in m.values() {
                bookings_in(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| bookings_in(x, out)),
        _ => {}
    }
}

fn status_of(v: &Value) -> Option<BookingStatus> {
    serde_json::from_value(v.clone()).ok()
}

/// Judges a run: `events` its history, `finals` each server after heal (databases read with
/// [`read_db`] into `states`, same order), `initial_master` the file's.
pub fn check(
    events: &[Event],
    finals: &[Final],
    states: &[DbState],
    initial_master: &str,
    stock: StockRule,
) -> Verdict {
    let mut v = Verdict::default();
    let found = no_night_oversold(&mut v, finals, states, stock);
    converged(&mut v, finals);
    invariants(&mut v, finals, &found);
    pending_drained(&mut v, finals, states);
    let done = completions(events);
    let conflict_records: BTreeSet<&str> = states
        .iter()
        .flat_map(|s| s.conflicts.iter().map(|c| c.2.as_str()))
        .collect();
    let (acked, refs_by_key) = acknowledged(&mut v, &done, states);
    booked_once(&mut v, &refs_by_key, finals, states);
    acknowledged_bookings(&mut v, &acked, &conflict_records, finals, states);
    acknowledged_env_writes(&mut v, &done, finals, states);
    acknowledged_grants(&mut v, &done, &conflict_records, finals, states);
    masters_and_epochs(&mut v, finals, states, initial_master);
    crate::money::acknowledged_payments(&mut v, events, finals);
    v.checked.conflicts = states.first().map_or(0, |s| s.conflicts.len());
    v
}

/// A booking's last acknowledged state and the op that acknowledged it, by reference.
type Acked = BTreeMap<String, (BookingStatus, u64)>;

impl Verdict {
    fn fail(&mut self, check: &'static str, detail: String) {
        self.violations.push(Violation { check, detail });
    }
}

/// `no_night_oversold`, from the records themselves (innsync check says the same, first
/// violation only); per server, whether it has any oversold night.
fn no_night_oversold(
    v: &mut Verdict,
    finals: &[Final],
    states: &[DbState],
    stock: StockRule,
) -> Vec<bool> {
    let mut found = vec![false; finals.len()];
    for (i, (f, s)) in finals.iter().zip(states).enumerate() {
        let over = oversold(s);
        let mut real = false;
        for (p, t, night, units, rooms, alone) in &over {
            if *alone || stock == StockRule::Strict {
                real = true;
                v.violations.push(Violation {
                    check: "no_night_oversold",
                    detail: format!(
                        "on {}: {p}/{t} on {night}: {units} units sold, {rooms} rooms{}",
                        f.code,
                        if *alone {
                            ", by one authority alone"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        if i == 0 {
            v.checked.cross_authority_oversold_nights = over.iter().filter(|o| !o.5).count();
        }
        let _ = real;
        found[i] = !over.is_empty();
    }
    found
}

/// `converged`: every server holds the same data after heal.
fn converged(v: &mut Verdict, finals: &[Final]) {
    let digests: BTreeSet<&str> = finals.iter().map(|f| f.digest.as_str()).collect();
    if digests.len() != 1 || digests.contains("") {
        let list: Vec<String> = finals
            .iter()
            .map(|f| format!("{}={}", f.code, f.digest.get(..12).unwrap_or(&f.digest)))
            .collect();
        v.fail(
            "converged",
            format!("digests differ after heal: {}", list.join(" ")),
        );
    }
}

/// `invariants`: `innsync check` passes everywhere (a stock message is judged by
/// [`no_night_oversold`]).
fn invariants(v: &mut Verdict, finals: &[Final], found: &[bool]) {
    for (i, f) in finals.iter().enumerate() {
        if let Err(e) = &f.invariants {
            // The stock rule is the last one innsync check tests: a stock message means every
            // other invariant held, and the night is judged above.
            let stock_only = e.contains("units sold") && e.contains("rooms in service");
            if !stock_only || !found[i] {
                v.fail("invariants", format!("innsync check on {}: {e}", f.code));
            }
        }
    }
}

/// `pending_drained`: no pending operation is left unfinished.
fn pending_drained(v: &mut Verdict, finals: &[Final], states: &[DbState]) {
    for (f, s) in finals.iter().zip(states) {
        for (id, state, _) in &s.pending {
            if !matches!(state.as_str(), "done" | "failed" | "canceled") {
                v.fail(
                    "pending_drained",
                    format!("pending operation {id} on {} is still {state}", f.code),
                );
            }
        }
    }
}

/// What each booking was last acknowledged as (from the history, and from pending operations
/// that completed), and the bookings each idempotency key was answered with.
fn acknowledged(
    v: &mut Verdict,
    done: &BTreeMap<u64, &Event>,
    states: &[DbState],
) -> (Acked, BTreeMap<String, BTreeSet<String>>) {
    let mut acked: BTreeMap<String, (BookingStatus, u64)> = BTreeMap::new();
    let mut refs_by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (op, e) in done {
        let Outcome::Ok { status } = e.outcome else {
            continue;
        };
        if status == 202 {
            v.checked.pending_operations += 1;
        }
        let reference = e.detail["reference"].as_str();
        match e.kind.as_str() {
            "book" | "retry_booking" => {
                if let (Some(r), Some(key)) = (reference, e.detail["key"].as_str()) {
                    refs_by_key
                        .entry(key.to_string())
                        .or_default()
                        .insert(r.to_string());
                }
                if let (Some(r), Some(st)) = (reference, status_of(&e.detail["status"])) {
                    acked.entry(r.to_string()).or_insert((st, *op));
                }
            }
            "cancel" | "confirm" | "check_in" | "check_out" if status != 202 => {
                if let (Some(r), Some(st)) = (reference, status_of(&e.detail["status"])) {
                    // Later acknowledgements win (ops complete in history order).
                    acked.insert(r.to_string(), (st, *op));
                }
            }
            _ => {}
        }
    }
    // Bookings delivered by pending operations (202 answers whose operation completed).
    for s in states {
        for (_, state, result) in &s.pending {
            if state != "done" {
                continue;
            }
            let Some(r) = result
                .as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
            else {
                continue;
            };
            let mut found = Vec::new();
            bookings_in(&r, &mut found);
            for (id, st) in found {
                acked.entry(id).or_insert((st, 0));
            }
        }
    }
    (acked, refs_by_key)
}

/// `booked_once`: one idempotency key, one booking request, one booking.
fn booked_once(
    v: &mut Verdict,
    refs_by_key: &BTreeMap<String, BTreeSet<String>>,
    finals: &[Final],
    states: &[DbState],
) {
    for (key, refs) in refs_by_key {
        if refs.len() > 1 {
            v.fail(
                "booked_once",
                format!("idempotency key {key} was answered with several bookings: {refs:?}"),
            );
        }
    }
    for (f, s) in finals.iter().zip(states) {
        let mut by_guest: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (r, b) in &s.bookings {
            by_guest
                .entry(b.guest_name.as_str())
                .or_default()
                .push(r.as_str());
        }
        for (guest, refs) in by_guest {
            if refs.len() > 1 && guest.starts_with("client-") {
                v.fail(
                    "booked_once",
                    format!(
                        "one booking request ({guest}) made {} bookings on {}: {refs:?}",
                        refs.len(),
                        f.code
                    ),
                );
            }
        }
    }
}

/// `acknowledged_bookings`: every acknowledged booking is found, in a state reachable from the
/// acknowledged one (unless a fence reverted it).
fn acknowledged_bookings(
    v: &mut Verdict,
    acked: &Acked,
    conflict_records: &BTreeSet<&str>,
    finals: &[Final],
    states: &[DbState],
) {
    for (r, (st, op)) in acked {
        let fenced = conflict_records.contains(r.as_str());
        for (f, s) in finals.iter().zip(states) {
            match s.bookings.get(r) {
                None if fenced => {}
                None => v.fail(
                    "acknowledged_bookings",
                    format!(
                        "{r} (acknowledged {st:?} by op {op}) is missing on {}",
                        f.code
                    ),
                ),
                Some(b) if !reachable(*st, b.status) && !fenced => v.fail(
                    "acknowledged_bookings",
                    format!(
                        "{r} was acknowledged {st:?} (op {op}) but is {:?} on {}",
                        b.status, f.code
                    ),
                ),
                Some(_) => {}
            }
        }
        if fenced {
            v.checked.fenced_booking_writes += 1;
        } else {
            v.checked.acknowledged_bookings += 1;
        }
    }
}

/// `acknowledged_env_writes`: every acknowledged env write is a record or a conflict.
fn acknowledged_env_writes(
    v: &mut Verdict,
    done: &BTreeMap<u64, &Event>,
    finals: &[Final],
    states: &[DbState],
) {
    for e in done.values() {
        if e.kind != "add_room" || !matches!(e.outcome, Outcome::Ok { .. }) {
            continue;
        }
        let Some(n) = e.detail["number"].as_str() else {
            continue;
        };
        v.checked.acknowledged_env_writes += 1;
        let mut fenced_somewhere = false;
        for (f, s) in finals.iter().zip(states) {
            let in_conflicts = s
                .conflicts
                .iter()
                .any(|c| c.3 == "room" && c.4["number"] == n);
            fenced_somewhere |= in_conflicts;
            if !s.rooms.contains(n) && !in_conflicts {
                v.fail(
                    "acknowledged_env_writes",
                    format!(
                        "room {n} (op {}, on {}) is neither a record nor a conflict on {}",
                        e.op, e.target, f.code
                    ),
                );
            }
        }
        if fenced_somewhere {
            v.checked.fenced_env_writes += 1;
        }
    }
}

/// `acknowledged_grants`: every acknowledged grant is a record or a conflict.
fn acknowledged_grants(
    v: &mut Verdict,
    done: &BTreeMap<u64, &Event>,
    conflict_records: &BTreeSet<&str>,
    finals: &[Final],
    states: &[DbState],
) {
    for e in done.values() {
        if e.kind != "grant" || !matches!(e.outcome, Outcome::Ok { .. }) {
            continue;
        }
        let Some(id) = e.detail["id"].as_str() else {
            continue;
        };
        v.checked.acknowledged_grants += 1;
        for (f, s) in finals.iter().zip(states) {
            if !s.grants.contains(id) && !conflict_records.contains(id) {
                v.fail(
                    "acknowledged_grants",
                    format!(
                        "grant {id} (op {}, on {}) is neither a record nor a conflict on {}",
                        e.op, e.target, f.code
                    ),
                );
            }
        }
    }
}

/// `one_master_per_epoch` and `epochs_grow`.
fn masters_and_epochs(v: &mut Verdict, finals: &[Final], states: &[DbState], initial_master: &str) {
    let mut claims: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    claims
        .entry(1)
        .or_default()
        .insert(initial_master.to_string());
    for s in states {
        for (_, _, server, epoch) in &s.tokens {
            claims.entry(*epoch).or_default().insert(server.clone());
        }
    }
    v.checked.epochs = claims.len();
    // Two claims of one epoch (a takeover racing a handover) are allowed since disputed epochs
    // are settled (the claim that ranks first is the master everywhere, the others' env writes
    // fenced): what must hold is that only one claimant's env writes count, checked below.
    v.checked.disputed_epochs = claims.values().filter(|s| s.len() > 1).count();
    for (f, s) in finals.iter().zip(states) {
        let quarantined: BTreeSet<(&str, u64)> =
            s.conflicts.iter().map(|c| (c.0.as_str(), c.1)).collect();
        let fenced = |origin: &str, epoch: u64, seq: u64| {
            s.fences
                .iter()
                .any(|(srv, e, fseq)| srv == origin && *e == epoch && seq > *fseq)
        };
        let mut writers: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
        for (origin, seq, epoch) in &s.env_writes {
            if quarantined.contains(&(origin.as_str(), *seq)) || fenced(origin, *epoch, *seq) {
                continue;
            }
            writers.entry(*epoch).or_default().insert(origin.as_str());
        }
        for (epoch, origins) in writers {
            let master = claims.get(&epoch);
            if origins.len() > 1 {
                v.fail(
                    "one_master_per_epoch",
                    format!(
                        "on {}: env writes of epoch {epoch} from {origins:?} count as legitimate",
                        f.code
                    ),
                );
            } else if let Some(o) = origins.iter().next() {
                if master.is_some_and(|m| !m.contains(*o)) {
                    v.fail(
                        "one_master_per_epoch",
                        format!("on {}: {o} wrote env records at epoch {epoch}, whose master was {master:?}", f.code),
                    );
                }
            }
        }
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for (origin, seq, _, epoch) in &s.tokens {
            if let Some(prev) = last.insert(origin.as_str(), *epoch) {
                if *epoch <= prev {
                    v.fail(
                        "epochs_grow",
                        format!("on {}: {origin} wrote a token at epoch {epoch} (seq {seq}) after one at epoch {prev}", f.code),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus::*;

    #[test]
    fn later_states_are_those_the_state_machine_reaches() {
        assert!(reachable(Confirmed, Confirmed));
        assert!(reachable(Provisional, CheckedOut));
        assert!(reachable(Confirmed, Cancelled));
        assert!(!reachable(Cancelled, Confirmed));
        assert!(!reachable(CheckedIn, Confirmed));
        assert!(!reachable(CheckedOut, CheckedIn));
    }

    fn fin(code: &str, digest: &str) -> Final {
        Final {
            code: code.into(),
            db: PathBuf::new(),
            digest: digest.into(),
            invariants: Ok(()),
        }
    }

    #[test]
    fn two_claims_of_one_epoch_and_a_second_writer_are_violations() {
        let mut a = DbState::default();
        a.tokens.push(("RS".into(), 5, "RS".into(), 2));
        a.env_writes.push(("RS".into(), 6, 2));
        let mut b = DbState::default();
        b.tokens.push(("RA".into(), 3, "RA".into(), 2));
        b.env_writes.push(("RA".into(), 4, 2));
        b.env_writes.push(("RS".into(), 6, 2));
        let v = check(
            &[],
            &[fin("RS", "x"), fin("RA", "x")],
            &[a, b.clone()],
            "WB",
            StockRule::Strict,
        );
        let checks: Vec<&str> = v.violations.iter().map(|v| v.check).collect();
        assert!(checks.contains(&"one_master_per_epoch"), "{v:?}");
        // A fenced write does not count.
        b.fences.push(("RA".into(), 2, 3));
        let mut only_b = b.clone();
        only_b.env_writes.retain(|w| w.0 == "RA");
        only_b.tokens.clear();
        let v = check(&[], &[fin("RA", "x")], &[only_b], "WB", StockRule::Strict);
        assert!(v.violations.is_empty(), "{v:?}");
    }

    fn booking(id: &str, holder: &str, units: u32) -> innsync_core::Booking {
        let owner = if holder == "env" {
            innsync_core::Authority::Env
        } else {
            innsync_core::Authority::Server(innsync_core::ServerCode::parse(holder).unwrap())
        };
        let v = serde_json::json!({"kind": "booking", "id": id, "owner": owner, "version": 1,
            "property": "KRL", "room_type": "DLX", "arrival": "2026-12-02", "departure": "2026-12-04",
            "units": units, "guest_id": "WB-000001", "guest_name": id, "status": "confirmed",
            "hold_until": null, "holder": owner, "stays": [], "price": null, "notes": null,
            "cancel_reason": null, "created_on": "WB", "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z"});
        match serde_json::from_value(v).unwrap() {
            Record::Booking(b) => b,
            _ => unreachable!(),
        }
    }

    #[test]
    fn nights_sold_beyond_the_rooms_are_told_apart_by_who_sold_them() {
        let mut s = DbState::default();
        s.capacity.insert(("KRL".into(), "DLX".into()), 2);
        s.bookings.insert("PA-1".into(), booking("PA-1", "PA", 1));
        s.bookings.insert("WB-1".into(), booking("WB-1", "env", 2));
        let over = oversold(&s);
        assert_eq!(over.len(), 2, "both nights: {over:?}");
        assert!(over.iter().all(|o| o.3 == 3 && o.4 == 2 && !o.5));
        let f = [fin("PA", "x")];
        let lenient = check(
            &[],
            &f,
            &[s.clone()],
            "WB",
            StockRule::WholeInventoryPerAuthority,
        );
        assert!(lenient.violations.is_empty(), "{lenient:?}");
        assert_eq!(lenient.checked.cross_authority_oversold_nights, 2);
        let strict = check(&[], &f, &[s.clone()], "WB", StockRule::Strict);
        assert_eq!(strict.violations.len(), 2);
        // One authority alone beyond the rooms is always a violation.
        s.bookings.insert("WB-2".into(), booking("WB-2", "env", 1));
        let v = check(&[], &f, &[s], "WB", StockRule::WholeInventoryPerAuthority);
        assert!(
            v.violations
                .iter()
                .all(|x| x.detail.contains("one authority alone")),
            "{v:?}"
        );
        assert_eq!(v.violations.len(), 2);
    }

    #[test]
    fn differing_digests_and_undrained_queues_are_violations() {
        let mut s = DbState::default();
        s.pending.push((3, "retry".into(), None));
        let v = check(
            &[],
            &[fin("WB", "a"), fin("RS", "b")],
            &[s, DbState::default()],
            "WB",
            StockRule::Strict,
        );
        let checks: Vec<&str> = v.violations.iter().map(|v| v.check).collect();
        assert_eq!(checks, vec!["converged", "pending_drained"]);
    }
}

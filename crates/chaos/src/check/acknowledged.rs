//! The checks that hold the servers to what clients were told: `acknowledged_bookings`,
//! `booked_once`, `acknowledged_env_writes`, `acknowledged_grants`.
//!
//! Together because they share one reading of the history: what was acknowledged, and how a
//! booking's status may have moved on since.

use super::{Acked, DbState, Final, Verdict};
use crate::history::{Event, Outcome};
use innsync_core::booking::{next_status, BookingAction};
use innsync_core::BookingStatus;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

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

/// What each booking was last acknowledged as (from the history, and from pending operations
/// that completed), and the bookings each idempotency key was answered with.
pub(super) fn acknowledged(
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
pub(super) fn booked_once(
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
pub(super) fn acknowledged_bookings(
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
pub(super) fn acknowledged_env_writes(
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
pub(super) fn acknowledged_grants(
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

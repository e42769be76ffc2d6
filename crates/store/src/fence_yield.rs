//! A legitimate write wins over a fenced record's older state (chaos finding 9).
//!
//! Under the conservative fencing rule a losing claim's stricter fence counts too, so a change
//! that the winning master saw as legitimate — and built on — can be quarantined later: the
//! record goes back to (or stays at) its last legitimate state. That state can collide with what
//! the winner built since: the room a fenced move freed, given to another stay. On a server where
//! the winner's stay came first, the revert fails and the moved booking keeps its newest state
//! (`fence.rs`, shown as a conflict). On a server where the fence came first — the move reverted,
//! or quarantined at the door — the winner's stay would be blocked instead, and servers would
//! differ for good. Here that second order is brought to the first's end: a replicated booking
//! blocked from a room by a booking whose newest change here is not its current state (a
//! fenced one) puts the blocker at that newest state, then applies. Both orders end with the same
//! records; the fenced change stays listed among the conflicts.
//!
//! Why it is sound: a legitimate master only puts a stay in a room it saw free, so a legitimate
//! stay that collides with the blocker's legitimate state was decided on the blocker's newer,
//! fenced state — the one the guests are really in.

use crate::apply::{apply_record, write_state, Applied, ChangeStamp, Novelty};
use crate::error::StoreError;
use crate::sql_view::{load_record, night_text};
use innsync_core::{Record, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};

/// Most blockers tried for one blocked change: a stay's room nights name at most a handful of
/// other bookings, and this bounds the cost of the blocked path whatever the input.
pub const MAX_BLOCKERS_TRIED: usize = 8;

/// Tries to apply `rec` — a replicated change that a room taken here blocked — by putting a
/// blocking booking at its newest known state. Each attempt in its own savepoint: nothing
/// changes unless both succeed. Returns the applied outcome, or `None` (still blocked).
pub fn apply_past_a_fenced_blocker(
    conn: &Connection,
    rec: &Record,
    stamp: &ChangeStamp<'_>,
) -> Result<Option<Applied>, StoreError> {
    let Record::Booking(b) = rec else {
        return Ok(None);
    };
    let mut blockers: Vec<String> = Vec::new();
    let mut taken = conn.prepare_cached(
        "SELECT booking FROM room_nights WHERE property = ?1 AND room = ?2 AND night = ?3",
    )?;
    for (room, night) in innsync_core::stock::room_nights(b) {
        let by: Option<String> = taken
            .query_row(params![b.property, room, night_text(night)], |r| r.get(0))
            .optional()?;
        if let Some(other) = by {
            if other != b.meta.id.as_str() && !blockers.contains(&other) {
                blockers.push(other);
            }
        }
        if blockers.len() >= MAX_BLOCKERS_TRIED {
            break;
        }
    }
    for blocker in blockers {
        let Some(newest) = newest_elsewhere(conn, &blocker)? else {
            continue;
        };
        crate::savepoint::Savepoint::FenceYield.begin(conn)?;
        match put_newest_then_apply(conn, &blocker, &newest, rec, stamp) {
            Ok(applied) => {
                crate::savepoint::Savepoint::FenceYield.release(conn)?;
                tracing::info!(%blocker, "a booking held back by a fence took its newest state for a legitimate stay");
                return Ok(Some(applied));
            }
            Err(StoreError::Sqlite(_)) => {
                crate::savepoint::Savepoint::FenceYield.roll_back(conn)?;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

/// A booking's newest change in the log, when it is newer than what the booking holds here.
struct Newest {
    origin: String,
    seq: i64,
    epoch: i64,
    at: String,
    actor: String,
    action: String,
    detail: String,
    body: String,
}

fn newest_elsewhere(conn: &Connection, booking: &str) -> Result<Option<Newest>, StoreError> {
    let current: Option<i64> = conn
        .prepare_cached("SELECT version FROM records WHERE kind = 'booking' AND key = ?1")?
        .query_row([booking], |r| r.get(0))
        .optional()?;
    let Some(current) = current else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(
            "SELECT origin, seq, epoch, at, actor, action, detail, body FROM changes
             WHERE record_id = ?1 AND kind = 'booking' AND version > ?2
             ORDER BY version DESC, epoch DESC LIMIT 1",
        )?
        .query_row(params![booking, current], |r| {
            Ok(Newest {
                origin: r.get(0)?,
                seq: r.get(1)?,
                epoch: r.get(2)?,
                at: r.get(3)?,
                actor: r.get(4)?,
                action: r.get(5)?,
                detail: r.get(6)?,
                body: r.get(7)?,
            })
        })
        .optional()?)
}

/// Puts the blocker at its newest state (as a server that could not revert it holds it), notes
/// that on its conflicts, then applies the blocked change.
fn put_newest_then_apply(
    conn: &Connection,
    blocker: &str,
    newest: &Newest,
    rec: &Record,
    stamp: &ChangeStamp<'_>,
) -> Result<Applied, StoreError> {
    let state: Record = serde_json::from_str(&newest.body)?;
    let origin = ServerCode::parse(&newest.origin).map_err(StoreError::Corrupt)?;
    let current = load_record(conn, "booking", blocker)?;
    write_state(
        conn,
        &state,
        current.as_ref(),
        &ChangeStamp {
            origin: &origin,
            seq: newest.seq as u64,
            epoch: newest.epoch as u64,
            at: &newest.at,
            actor: &newest.actor,
            action: &newest.action,
            detail: &newest.detail,
        },
        Novelty::Unknown,
    )?;
    conn.prepare_cached(
        "UPDATE conflicts SET ours = ?2, reason = reason || ?3
         WHERE record_id = ?1 AND kind = 'booking' AND status = 'open' AND change IS NULL",
    )?
    .execute(params![
        blocker,
        newest.body,
        "; a legitimate stay was built on it, so it is kept as it was for an operator"
    ])?;
    apply_record(conn, rec, stamp, Novelty::Unknown)
}

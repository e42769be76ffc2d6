//! Replicated changes blocked by an invariant here — a room taken on a night by another stay
//! that this server held when the change arrived — are quarantined, and retried once the
//! blocker may have gone. Whether a change is blocked depends on the order changes arrive in
//! (chaos finding 8: a check-in met a stay that a later check-out, or a fence's revert, took
//! away), so a blocked change that would still be its record's newest state is applied as soon
//! as it no longer breaks anything, as every other server applied it. One that still does stays
//! open for an operator.

use crate::apply::{apply_record, Applied, ChangeStamp, Novelty};
use crate::change::Change;
use crate::error::StoreError;
use rusqlite::{params, Connection};

/// Most blocked changes tried again after one replicated batch: the retry's cost is bounded,
/// and the oldest are tried first, so none waits forever behind newer ones.
pub const MAX_RETRIED_PER_BATCH: usize = 64;

/// The reason every blocked change is kept with (the SQL constraint it broke follows).
pub const BLOCKED: &str = "cannot be applied here";

/// Keeps a blocked change as a conflict, with the whole change so it can be retried.
pub fn quarantine(conn: &Connection, c: &Change, why: &str, at: &str) -> Result<(), StoreError> {
    crate::fence::record_conflict(
        conn,
        &c.origin,
        c.seq,
        &c.record,
        &format!("{BLOCKED}: {why}"),
        at,
    )?;
    conn.prepare_cached("UPDATE conflicts SET change = ?3 WHERE origin = ?1 AND seq = ?2")?
        .execute(params![
            c.origin.as_str(),
            c.seq as i64,
            serde_json::to_string(c)?
        ])?;
    Ok(())
}

/// Tries the oldest open blocked changes again; returns how many are applied now. Each in its
/// own savepoint: one still blocked is left open, untouched.
pub fn retry(conn: &Connection) -> Result<u64, StoreError> {
    let open: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT id, change FROM conflicts WHERE status = 'open' AND change IS NOT NULL
             ORDER BY id LIMIT ?1",
        )?
        .query_map([MAX_RETRIED_PER_BATCH as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut applied = 0;
    for (id, body) in open {
        let c: Change = serde_json::from_str(&body)?;
        if c.authority == innsync_core::Authority::Env
            && crate::fence::is_fenced(conn, &c.origin, c.epoch, c.seq)?
        {
            continue;
        }
        let stamp = ChangeStamp {
            origin: &c.origin,
            seq: c.seq,
            epoch: c.epoch,
            at: &c.at,
            actor: &c.actor,
            action: &c.action,
            detail: &c.detail,
        };
        crate::savepoint::Savepoint::Blocked.begin(conn)?;
        match apply_record(conn, &c.record, &stamp, Novelty::Unknown) {
            Ok(a) => {
                crate::savepoint::Savepoint::Blocked.release(conn)?;
                // Applied now, or logged as older than what this server holds: either way it
                // is where every other server has it.
                conn.prepare_cached("UPDATE conflicts SET status = 'applied' WHERE id = ?1")?
                    .execute([id])?;
                if a == Applied::Written {
                    applied += 1;
                }
            }
            Err(StoreError::Sqlite(_)) => {
                crate::savepoint::Savepoint::Blocked.roll_back(conn)?;
                if let Some(a) =
                    crate::fence_yield::apply_past_a_fenced_blocker(conn, &c.record, &stamp)?
                {
                    conn.prepare_cached("UPDATE conflicts SET status = 'applied' WHERE id = ?1")?
                        .execute([id])?;
                    if a == Applied::Written {
                        applied += 1;
                    }
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(applied)
}

//! Fencing after a forced takeover: the old master's env writes beyond the fence are not
//! legitimate. Wherever they are — already applied here, or arriving later — they are kept in
//! `conflicts` with the version they would replace, and never count as the record's state:
//! a record whose current state is fenced goes back to its last legitimate version (or away,
//! if it never had one). Nothing is applied silently, nothing is lost.

use crate::apply::{write_state, ChangeStamp, Novelty};
use crate::error::StoreError;
use crate::view::load_record;
use innsync_core::{Record, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};

/// Whether a change of `origin` at `epoch` with `seq` is beyond a known fence.
pub fn is_fenced(
    conn: &Connection,
    origin: &ServerCode,
    epoch: u64,
    seq: u64,
) -> Result<bool, StoreError> {
    let fence: Option<i64> = conn
        .prepare_cached("SELECT seq FROM fences WHERE server = ?1 AND epoch = ?2")?
        .query_row(params![origin.as_str(), epoch as i64], |r| r.get(0))
        .optional()?;
    Ok(fence.is_some_and(|f| seq as i64 > f))
}

/// Records a conflict once (by origin and seq).
pub fn record_conflict(
    conn: &Connection,
    origin: &ServerCode,
    seq: u64,
    theirs: &Record,
    reason: &str,
    at: &str,
) -> Result<(), StoreError> {
    let ours = load_record(conn, theirs.kind().as_str(), &theirs.key())?
        .map(|r| serde_json::to_string(&r))
        .transpose()?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO conflicts (origin, seq, record_id, kind, reason, theirs, ours, detected_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        origin.as_str(),
        seq as i64,
        theirs.meta().id.as_str(),
        theirs.kind().as_str(),
        reason,
        serde_json::to_string(theirs)?,
        ours,
        at
    ])?;
    Ok(())
}

/// How a claim to an epoch ranks against another claim to the same epoch: a forced takeover
/// before a grant, then the higher server code. Every server ranks the same way, so they all
/// agree on one master per epoch whatever order the claims arrive in.
pub fn claim_rank(t: &innsync_core::record::MasterToken) -> (bool, String) {
    (t.fence.is_some(), t.server.to_string())
}

/// Notes a claim to an epoch (every master token applied or arriving late). When two servers
/// claim one epoch, the claims that rank below the first are not legitimate: their servers'
/// env writes of that epoch are fenced from their first change (seq 0), here and wherever the
/// claims arrive.
pub fn saw_token(
    conn: &Connection,
    t: &innsync_core::record::MasterToken,
    at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO epochs (epoch, server, takeover) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        t.epoch as i64,
        t.server.as_str(),
        i64::from(t.fence.is_some())
    ])?;
    let claims: Vec<(String, bool)> = conn
        .prepare_cached("SELECT server, takeover FROM epochs WHERE epoch = ?1")?
        .query_map([t.epoch as i64], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? != 0))
        })?
        .collect::<Result<_, _>>()?;
    let Some(first) = claims
        .iter()
        .max_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)))
        .map(|c| c.0.clone())
    else {
        return Ok(());
    };
    for (server, _) in claims.iter().filter(|c| c.0 != first) {
        let loser = ServerCode::parse(server).map_err(StoreError::Corrupt)?;
        let f = innsync_core::record::Fence {
            server: loser,
            epoch: t.epoch,
            seq: 0,
        };
        learn(conn, &f, at)?;
    }
    Ok(())
}

/// Learns a fence: stores it, and quarantines every env change of the old master beyond it
/// that is already here, putting each affected record back to its last legitimate state. Of two
/// fences on one server and epoch the stricter (lower seq) holds.
pub fn learn(
    conn: &Connection,
    f: &innsync_core::record::Fence,
    at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO fences (server, epoch, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (server, epoch) DO UPDATE SET seq = MIN(seq, excluded.seq)",
    )?
    .execute(params![f.server.as_str(), f.epoch as i64, f.seq as i64])?;
    let fenced: Vec<(u64, String)> = conn
        .prepare_cached(
            "SELECT seq, body FROM changes WHERE origin = ?1 AND epoch = ?2 AND seq > ?3
             AND authority = 'env' AND kind != 'master_token' ORDER BY seq",
        )?
        .query_map(
            params![f.server.as_str(), f.epoch as i64, f.seq as i64],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    let reason = if f.seq == 0 {
        format!(
            "written by {} as master of epoch {}, which {} did not win: another server's claim to that epoch ranks first",
            f.server, f.epoch, f.server
        )
    } else {
        format!(
            "written by {} at epoch {} after a forced takeover fenced it at its change {}",
            f.server, f.epoch, f.seq
        )
    };
    let mut touched: Vec<(String, String)> = Vec::new();
    for (seq, body) in &fenced {
        let rec: Record = serde_json::from_str(body)?;
        record_conflict(conn, &f.server, *seq, &rec, &reason, at)?;
        let k = (rec.kind().as_str().to_string(), rec.key());
        if !touched.contains(&k) {
            touched.push(k);
        }
    }
    for (kind, key) in touched {
        revert(conn, &kind, &key, f, at)?;
    }
    Ok(())
}

/// Puts a record whose current state is fenced back to its latest legitimate state.
fn revert(
    conn: &Connection,
    kind: &str,
    key: &str,
    f: &innsync_core::record::Fence,
    at: &str,
) -> Result<(), StoreError> {
    let Some((origin, seq)) = conn
        .prepare_cached("SELECT origin, seq FROM records WHERE kind = ?1 AND key = ?2")?
        .query_row(params![kind, key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?
    else {
        return Ok(());
    };
    let points_at_fenced = origin == f.server.as_str() && {
        let epoch: i64 = conn
            .prepare_cached("SELECT epoch FROM changes WHERE origin = ?1 AND seq = ?2")?
            .query_row(params![origin, seq], |r| r.get(0))?;
        epoch as u64 == f.epoch && seq as u64 > f.seq
    };
    if !points_at_fenced {
        return Ok(());
    }
    let Some(current) = load_record(conn, kind, key)? else {
        return Ok(());
    };
    let record_id = current.meta().id.to_string();
    let legit: Option<(String, i64, String)> = conn
        .prepare_cached(
            "SELECT origin, seq, body FROM changes c WHERE record_id = ?1 AND kind = ?2
             AND NOT (origin = ?3 AND epoch = ?4 AND seq > ?5)
             AND NOT (authority = 'env' AND EXISTS (SELECT 1 FROM fences f
                 WHERE f.server = c.origin AND f.epoch = c.epoch AND c.seq > f.seq))
             ORDER BY version DESC, epoch DESC LIMIT 1",
        )?
        .query_row(
            params![
                record_id,
                kind,
                f.server.as_str(),
                f.epoch as i64,
                f.seq as i64
            ],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match legit {
        Some((o, s, body)) => {
            let rec: Record = serde_json::from_str(&body)?;
            let origin = ServerCode::parse(&o).map_err(StoreError::Corrupt)?;
            let stamp = ChangeStamp {
                origin: &origin,
                seq: s as u64,
                epoch: 0,
                at,
                actor: "fence",
                action: "fence.revert",
                detail: "",
            };
            write_state(conn, &rec, Some(&current), &stamp, Novelty::Unknown)
        }
        None => remove(conn, &current),
    }
}

/// Removes a record that exists only through fenced changes, with its derived counters.
fn remove(conn: &Connection, current: &Record) -> Result<(), StoreError> {
    crate::apply::remove_record(conn, current)
}

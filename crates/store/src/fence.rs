//! Fencing after a forced takeover: the old master's env writes beyond the fence are not
//! legitimate. Wherever they are — already applied here, or arriving later — they are kept in
//! `conflicts` with the version they would replace, and never count as the record's state:
//! a record whose current state is fenced goes back to its last legitimate version (or away,
//! if it never had one). Nothing is applied silently, nothing is lost.

use crate::apply::{write_state, ChangeStamp, Novelty};
use crate::error::StoreError;
use crate::view::load_record;
use innsync_core::fencing::{Claim, Claims, FenceAt};
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

/// Notes a claim to an epoch — every master token this server sees: applied, arriving after a
/// newer one, or quarantined at the door — and enforces every fence the claim makes tighter
/// under the one fencing rule ([`innsync_core::fencing`]). Because the rule is a function of
/// the set of claims alone, and a claim is noted wherever its token turns up, every server ends
/// with the same fences whatever order the tokens arrive in.
pub fn saw_token(
    conn: &Connection,
    t: &innsync_core::record::MasterToken,
    at: &str,
) -> Result<(), StoreError> {
    let claim = Claim::from(t);
    let mut claims = Claims::from_claims(load_claims(conn)?);
    let tightened = claims.learn(claim.clone());
    let (fs, fe, fq) = claim.fence.as_ref().map_or((String::new(), 0, 0), |f| {
        (f.server.to_string(), f.epoch as i64, f.seq as i64)
    });
    conn.prepare_cached(
        "INSERT OR IGNORE INTO claims (epoch, server, takeover, fence_server, fence_epoch, fence_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        claim.epoch as i64,
        claim.server.as_str(),
        i64::from(claim.takeover),
        fs,
        fe,
        fq
    ])?;
    for f in tightened {
        learn(
            conn,
            &innsync_core::record::Fence {
                server: f.server,
                epoch: f.epoch,
                seq: f.seq,
            },
            at,
        )?;
    }
    Ok(())
}

/// Every claim this server has noted.
pub fn load_claims(conn: &Connection) -> Result<Vec<Claim>, StoreError> {
    let rows: Vec<(i64, String, i64, String, i64, i64)> = conn
        .prepare_cached(
            "SELECT epoch, server, takeover, fence_server, fence_epoch, fence_seq FROM claims",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(epoch, server, takeover, fs, fe, fq)| {
            let fence = if fs.is_empty() {
                None
            } else {
                Some(FenceAt {
                    server: ServerCode::parse(&fs).map_err(StoreError::Corrupt)?,
                    epoch: fe as u64,
                    seq: fq as u64,
                })
            };
            Ok(Claim {
                epoch: epoch as u64,
                server: ServerCode::parse(&server).map_err(StoreError::Corrupt)?,
                takeover: takeover != 0,
                fence,
            })
        })
        .collect()
}

/// Enforces a fence the rule made tighter: stores it, and quarantines every env change of the
/// old master beyond it that is already here, putting each affected record back to its last
/// legitimate state. Of two fences on one server and epoch the stricter (lower seq) holds.
fn learn(conn: &Connection, f: &innsync_core::record::Fence, at: &str) -> Result<(), StoreError> {
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
    let fenced: Vec<(u64, Record)> = fenced
        .into_iter()
        .map(|(seq, body)| Ok((seq, serde_json::from_str(&body)?)))
        .collect::<Result<_, StoreError>>()?;
    let mut touched: Vec<(String, String)> = Vec::new();
    for (_, rec) in &fenced {
        let k = (rec.kind().as_str().to_string(), rec.key());
        if !touched.contains(&k) {
            touched.push(k);
        }
    }
    // Each record put back in its own savepoint: a legitimate older state can collide with what
    // the new master built since (a room given to another stay after the fenced move that this
    // rule, being conservative, now quarantines). Such a record stays as it is, its conflict says
    // so, and the claim and its fences still hold here: losing the token over one record would
    // leave this server apart from every other (chaos seed 25008 of the long run).
    let mut stuck: Vec<(String, String, String)> = Vec::new();
    for (kind, key) in touched {
        crate::savepoint::Savepoint::FenceRevert.begin(conn)?;
        match revert(conn, &kind, &key, f, at) {
            Ok(()) => crate::savepoint::Savepoint::FenceRevert.release(conn)?,
            Err(StoreError::Sqlite(e)) => {
                crate::savepoint::Savepoint::FenceRevert.roll_back(conn)?;
                tracing::warn!(%kind, %key, error = %e, "a fenced record could not be put back here");
                stuck.push((kind, key, e.to_string()));
            }
            Err(other) => return Err(other),
        }
    }
    // Recorded after the reverts, so "ours" is what this server holds now (or nothing), never
    // the quarantined version itself.
    for (seq, rec) in &fenced {
        let why = stuck
            .iter()
            .find(|(k, key, _)| k == rec.kind().as_str() && *key == rec.key())
            .map_or_else(
                || reason.clone(),
                |(_, _, e)| format!("{reason}; putting the record back failed here ({e}), so it is kept as it was for an operator"),
            );
        record_conflict(conn, &f.server, *seq, rec, &why, at)?;
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

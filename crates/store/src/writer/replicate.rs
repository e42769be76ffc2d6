//! Applying changes pulled from other servers inside the writer's transaction: each origin's
//! cursor, gaps held back, and what cannot be applied here quarantined as a conflict.

use super::job::Skipped;
use crate::apply::{apply_record, Applied, ChangeStamp, Novelty};
use crate::change::{Change, ReplicationReport};
use crate::error::StoreError;
use crate::savepoint::Savepoint;
use crate::sql_view::time_text;
use chrono::{DateTime, Utc};
use innsync_core::ServerCode;
use rusqlite::{params, OptionalExtension, Transaction};

/// Applies replicated changes inside the batch's transaction. The cursor of each origin is
/// read and advanced here, in the same transaction as the changes, so a change is applied
/// exactly once and never before the changes of its origin that precede it; a change beyond a
/// gap is not applied (it is pulled again once the gap is filled).
pub(super) fn run_replicate(
    tx: &Transaction<'_>,
    me: &ServerCode,
    changes: &[Change],
    skipped: Option<&Skipped>,
    now: DateTime<Utc>,
) -> Result<ReplicationReport, StoreError> {
    // Optimistic first: the whole pull in one savepoint. Almost every pull applies cleanly;
    // a savepoint per change costs its statements and a copy of every page each change first
    // touches. A pull with a change that fails here is undone and applied again one change at a
    // time, so that change alone is kept as a conflict — the same store either way.
    let pull = Savepoint::ReplicatedPull;
    pull.begin(tx)?;
    match apply_changes(tx, me, changes, skipped, now, Guard::Pull) {
        Ok(report) => {
            pull.release(tx)?;
            Ok(report)
        }
        Err(e) => {
            pull.roll_back(tx)?;
            match e {
                StoreError::Sqlite(_) => {
                    apply_changes(tx, me, changes, skipped, now, Guard::EachChange)
                }
                other => Err(other),
            }
        }
    }
}

/// What undoes a change that cannot be applied here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Nothing of its own: its failure fails the pull (which is then applied change by change).
    Pull,
    /// A savepoint per change: a change that fails is rolled back and kept as a conflict.
    EachChange,
}

/// Applies one pull's changes under `guard`; with [`Guard::Pull`] the first change that fails
/// fails the whole call (the caller undoes it and applies again with [`Guard::EachChange`]).
fn apply_changes(
    tx: &Transaction<'_>,
    me: &ServerCode,
    changes: &[Change],
    skipped: Option<&Skipped>,
    now: DateTime<Utc>,
    guard: Guard,
) -> Result<ReplicationReport, StoreError> {
    let mut report = ReplicationReport::default();
    let mut cursors: std::collections::HashMap<ServerCode, u64> = Default::default();
    let mut gapped: std::collections::HashSet<ServerCode> = Default::default();
    for c in changes {
        if &c.origin == me {
            // Our own log is ours alone: never take it back from a peer.
            report.duplicates += 1;
            continue;
        }
        let cursor = match cursors.get(&c.origin) {
            Some(s) => *s,
            None => tx
                .prepare_cached("SELECT seq FROM cursors WHERE origin = ?1")?
                .query_row([c.origin.as_str()], |r| r.get::<_, i64>(0))
                .optional()?
                .map_or(0, |s| s as u64),
        };
        if c.seq <= cursor {
            report.duplicates += 1;
            cursors.insert(c.origin.clone(), cursor);
            continue;
        }
        if c.seq > cursor + 1 {
            report.held += 1;
            gapped.insert(c.origin.clone());
            cursors.insert(c.origin.clone(), cursor);
            continue;
        }
        if c.record.meta().owner != c.authority {
            let reason = format!(
                "change {}#{} claims authority {} for a record owned by {}",
                c.origin,
                c.seq,
                c.authority,
                c.record.meta().owner
            );
            quarantine(tx, c, &reason, now)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
            continue;
        }
        // The one date horizon: a night this store could not keep is never applied.
        if let Err(why) = innsync_core::record_dates::check_storable(&c.record) {
            quarantine(tx, c, &format!("cannot be applied here: {why}"), now)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
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
        // An env write of a fenced old master: kept as a conflict, never applied; but logged,
        // so the log re-served to others has no holes. A master token is the exception: it is
        // a claim, and the token record is the first-ranked claim of the highest epoch on
        // every server, fenced writer or not, so it is always applied (and noted as a claim).
        if c.authority == innsync_core::Authority::Env
            && !matches!(c.record, innsync_core::Record::MasterToken(_))
            && crate::fence::is_fenced(tx, &c.origin, c.epoch, c.seq)?
        {
            let reason = format!(
                "written by {} at epoch {} after a forced takeover fenced it",
                c.origin, c.epoch
            );
            quarantine(tx, c, &reason, now)?;
            crate::apply::log_change(tx, &c.record, &stamp, &serde_json::to_string(&c.record)?)?;
            report.conflicts += 1;
            cursors.insert(c.origin.clone(), c.seq);
            continue;
        }
        // Each change in its own savepoint (when guarded): one that would break an invariant
        // here (a room taken twice on a night) is quarantined as a conflict, and replication
        // goes on.
        let each = guard == Guard::EachChange;
        if each {
            Savepoint::Replicated.begin(tx)?;
        }
        match apply_record(tx, &c.record, &stamp, Novelty::Unknown) {
            Ok(applied) => {
                if each {
                    Savepoint::Replicated.release(tx)?;
                }
                if applied == Applied::Stale {
                    report.stale += 1;
                }
                report.applied += 1;
            }
            Err(StoreError::Sqlite(e)) if each => {
                Savepoint::Replicated.roll_back(tx)?;
                // Blocked by a fence's revert that a legitimate change built on: the revert
                // gives way, as it would have had this change come first (finding 9).
                if let Some(applied) =
                    crate::fence_yield::apply_past_a_fenced_blocker(tx, &c.record, &stamp)?
                {
                    if applied == Applied::Stale {
                        report.stale += 1;
                    }
                    report.applied += 1;
                } else {
                    crate::blocked::quarantine(tx, c, &e.to_string(), &time_text(now))?;
                    tracing::warn!(origin = %c.origin, seq = c.seq, error = %e, "replicated change quarantined as a conflict");
                    report.conflicts += 1;
                }
            }
            Err(other) => return Err(other),
        }
        cursors.insert(c.origin.clone(), c.seq);
    }
    // A change blocked earlier (a room taken by a stay that has gone since) is applied once it
    // no longer breaks anything, so arrival order does not decide what a server ends with.
    if report.applied > 0 {
        report.applied += crate::blocked::retry(tx)?;
    }
    advance_cursors(tx, me, cursors, &gapped, skipped)?;
    Ok(report)
}

/// Writes each origin's cursor as this pull leaves it, moving past what the serving server
/// left out (not for this server) unless a gap means something before it is still missing.
fn advance_cursors(
    tx: &Transaction<'_>,
    me: &ServerCode,
    mut cursors: std::collections::HashMap<ServerCode, u64>,
    gapped: &std::collections::HashSet<ServerCode>,
    skipped: Option<&Skipped>,
) -> Result<(), StoreError> {
    // What the serving server left out was not for this server: move past it, unless a gap
    // means something before it is still missing.
    if let Some(s) = skipped {
        for (origin, last) in &s.scanned {
            let Ok(o) = ServerCode::parse(origin) else {
                continue;
            };
            if &o == me || gapped.contains(&o) {
                continue;
            }
            let cur = match cursors.get(&o) {
                Some(c) => *c,
                None => tx
                    .prepare_cached("SELECT seq FROM cursors WHERE origin = ?1")?
                    .query_row([origin.as_str()], |r| r.get::<_, i64>(0))
                    .optional()?
                    .map_or(0, |s| s as u64),
            };
            if cur >= s.from.get(origin).copied().unwrap_or(0) {
                cursors.insert(o, cur.max(*last));
            }
        }
    }
    let mut up = tx.prepare_cached(
        "INSERT INTO cursors (origin, seq) VALUES (?1, ?2)
         ON CONFLICT (origin) DO UPDATE SET seq = MAX(seq, ?2)",
    )?;
    for (origin, seq) in cursors {
        up.execute(params![origin.as_str(), seq as i64])?;
    }
    Ok(())
}

/// Keeps a replicated change that cannot be applied here, with the version it would have
/// replaced, for an operator: never applied silently, never lost.
fn quarantine(
    tx: &Transaction<'_>,
    c: &Change,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::fence::record_conflict(tx, &c.origin, c.seq, &c.record, reason, &time_text(now))
}

//! The pending-operation queue: durable work for another server (or a partner environment)
//! that it must acknowledge — a forwarded write, a rule's transfer or copy. Operations run in
//! named pools (pools in parallel, FIFO within one); an operation about a record never starts
//! while an older one about the same record is unfinished; a rule's operation that has not
//! started yet absorbs a newer duplicate instead of queueing it twice. States: `pending →
//! in_progress → done | retry | failed | canceled`.

use crate::error::StoreError;
use crate::read::ReadPool;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// States in which an operation still has work to do.
pub const OPEN_STATES: [&str; 3] = ["pending", "retry", "in_progress"];
/// Most operations one rules scan may queue (the scan resumes after them).
pub const MAX_ENQUEUE_BATCH: usize = 1_000;
/// Longest payload of an operation (the command or the record reference), in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// A queued operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOp {
    /// Its id: the order it was queued in.
    pub id: i64,
    /// Who must carry it out: a server code, or `partner:NAME`.
    pub target: String,
    /// What it does: `relay`, `transfer`, `copy`, `delete_copy`, `delete`.
    pub op: String,
    /// Its payload as JSON (the command, or what the rule asked for).
    pub command: String,
    /// Who asked (a user, or `rule:NAME`).
    pub actor: String,
    /// A line for operators.
    pub summary: String,
    /// The pool it runs in.
    pub pool: String,
    /// The record it is about, if any: its operations never overtake each other.
    pub record_id: Option<String>,
    /// The distribution rule that made it, if any.
    pub rule: Option<String>,
    /// `pending`, `in_progress`, `done`, `retry`, `failed` or `canceled`.
    pub state: String,
    /// How far a multi-step operation has got.
    pub phase: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is tried next.
    pub next_at: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The answer, when done.
    pub result: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, target, op, command, actor, summary, pool, record_id, rule, state, phase,
    attempts, next_at, last_error, result, created_at, updated_at";

impl PendingOp {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            target: r.get(1)?,
            op: r.get(2)?,
            command: r.get(3)?,
            actor: r.get(4)?,
            summary: r.get(5)?,
            pool: r.get(6)?,
            record_id: r.get(7)?,
            rule: r.get(8)?,
            state: r.get(9)?,
            phase: r.get(10)?,
            attempts: r.get::<_, i64>(11)? as u32,
            next_at: r.get(12)?,
            last_error: r.get(13)?,
            result: r.get(14)?,
            created_at: r.get(15)?,
            updated_at: r.get(16)?,
        })
    }

    /// Whether it still has work to do.
    pub fn is_open(&self) -> bool {
        OPEN_STATES.contains(&self.state.as_str())
    }
}

/// An operation to queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPending {
    /// Who must carry it out.
    pub target: String,
    /// What it does.
    pub op: String,
    /// Its payload as JSON.
    pub command: String,
    /// Who asked.
    pub actor: String,
    /// A line for operators.
    pub summary: String,
    /// Its pool.
    pub pool: String,
    /// The record it is about.
    pub record_id: Option<String>,
    /// The rule that made it.
    pub rule: Option<String>,
    /// Not before this time (RFC 3339), for hourly and daily updates; now when absent.
    pub not_before: Option<String>,
    /// Whether a not-yet-started operation of the same rule, record, target and kind takes this
    /// one's payload instead of a second operation being queued.
    pub coalesce: bool,
}

/// Queues `op` (or folds it into its not-yet-started duplicate); returns the id it is under.
pub(crate) fn enqueue(conn: &Connection, op: &NewPending, now: &str) -> Result<i64, StoreError> {
    if op.command.len() > MAX_PAYLOAD_BYTES {
        return Err(StoreError::Refused(
            innsync_core::DomainError::InvalidInput(format!(
                "an operation's payload is {} bytes; at most {MAX_PAYLOAD_BYTES}",
                op.command.len()
            )),
        ));
    }
    let next_at = op.not_before.as_deref().unwrap_or(now);
    if op.coalesce {
        let twin: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM pending_ops WHERE rule IS ?1 AND record_id IS ?2 AND target = ?3
                 AND op = ?4 AND state = 'pending' AND attempts = 0 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![op.rule, op.record_id, op.target, op.op], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = twin {
            conn.prepare_cached(
                "UPDATE pending_ops SET command = ?2, summary = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![id, op.command, op.summary, now])?;
            return Ok(id);
        }
    }
    conn.prepare_cached(
        "INSERT INTO pending_ops (target, op, command, actor, summary, pool, record_id, rule,
            state, next_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?10, ?10)",
    )?
    .execute(params![
        op.target,
        op.op,
        op.command,
        op.actor,
        op.summary,
        op.pool,
        op.record_id,
        op.rule,
        next_at,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// What happened to an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// Its id.
    pub id: i64,
    /// New state.
    pub state: String,
    /// New phase, when it moved on.
    pub phase: Option<String>,
    /// When to try again (RFC 3339).
    pub next_at: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The answer, when done.
    pub result: Option<String>,
    /// Whether this was an attempt (counts towards the retry limit).
    pub attempted: bool,
}

/// Records what happened to an operation.
pub(crate) fn update(conn: &Connection, u: &PendingUpdate, now: &str) -> Result<(), StoreError> {
    debug_assert!(
        [
            "pending",
            "in_progress",
            "done",
            "retry",
            "failed",
            "canceled"
        ]
        .contains(&u.state.as_str()),
        "a known state: {}",
        u.state
    );
    conn.prepare_cached(
        "UPDATE pending_ops SET state = ?2, phase = COALESCE(?3, phase), next_at = COALESCE(?4, next_at),
            last_error = CASE WHEN ?2 IN ('done', 'pending') THEN NULL ELSE COALESCE(?5, last_error) END,
            result = COALESCE(?6, result), attempts = attempts + ?7, updated_at = ?8 WHERE id = ?1",
    )?
    .execute(params![
        u.id,
        u.state,
        u.phase,
        u.next_at,
        u.error,
        u.result,
        i64::from(u.attempted),
        now
    ])?;
    Ok(())
}

/// The queue at a glance, for operators and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// Operations with work to do.
    pub depth: u64,
    /// When the oldest of them was queued.
    pub oldest_created_at: Option<String>,
    /// Operations that failed and wait for an operator.
    pub failed: u64,
    /// Per target: the last operation it completed, and when.
    pub last_success: Vec<(String, String)>,
    /// Per pool: operations with work to do.
    pub pools: Vec<(String, u64)>,
}

impl ReadPool {
    /// Operations, newest first, filtered by state and pool when given.
    pub fn pending(
        &self,
        state: Option<&str>,
        pool: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PendingOp>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM pending_ops WHERE (?1 IS NULL OR state = ?1)
                 AND (?2 IS NULL OR pool = ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = st.query_map(params![state, pool, limit as i64], PendingOp::from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// One operation.
    pub fn pending_op(&self, id: i64) -> Result<Option<PendingOp>, StoreError> {
        self.with(|c| {
            Ok(
                c.prepare_cached(&format!("SELECT {COLUMNS} FROM pending_ops WHERE id = ?1"))?
                    .query_row([id], PendingOp::from_row)
                    .optional()?,
            )
        })
    }

    /// The pool's operations due at `now`, oldest first, leaving out any whose record has an
    /// older operation still unfinished (in any pool): one record's operations run in order.
    /// A retry due after `latest` (the longest a retry ever waits) counts as due too: the clock
    /// was stepped back since it was scheduled, and it must not wait for the step. (Hourly and
    /// daily updates are `pending` with a later time of their own, and wait for it.)
    pub fn due_pending(
        &self,
        pool: &str,
        now: &str,
        latest: &str,
        limit: usize,
    ) -> Result<Vec<PendingOp>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM pending_ops p WHERE pool = ?1
                 AND state IN ('pending', 'retry', 'in_progress')
                 AND (next_at <= ?2 OR (state = 'retry' AND next_at > ?4))
                 AND NOT EXISTS (SELECT 1 FROM pending_ops o WHERE p.record_id IS NOT NULL
                     AND o.record_id = p.record_id AND o.id < p.id
                     AND o.state IN ('pending', 'retry', 'in_progress'))
                 ORDER BY id LIMIT ?3"
            ))?;
            let rows = st.query_map(
                params![pool, now, limit as i64, latest],
                PendingOp::from_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The pools that have operations with work to do.
    pub fn open_pools(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT DISTINCT pool FROM pending_ops
                 WHERE state IN ('pending', 'retry', 'in_progress') ORDER BY pool",
            )?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Whether `rule` already queued an operation for `record_id` at `target` (not canceled):
    /// a scheduled rule acts on a record once.
    pub fn rule_op_exists(
        &self,
        rule: &str,
        record_id: &str,
        target: &str,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            Ok(c.prepare_cached(
                "SELECT 1 FROM pending_ops WHERE rule = ?1 AND record_id = ?2 AND target = ?3
                 AND state != 'canceled' LIMIT 1",
            )?
            .query_row(params![rule, record_id, target], |_| Ok(()))
            .optional()?
            .is_some())
        })
    }

    /// Depth, oldest open item, failures, per-target last success and per-pool depth.
    pub fn pending_summary(&self) -> Result<QueueSummary, StoreError> {
        self.with(|c| {
            let (depth, oldest, failed) = c.query_row(
                "SELECT COUNT(*) FILTER (WHERE state IN ('pending', 'retry', 'in_progress')),
                        MIN(created_at) FILTER (WHERE state IN ('pending', 'retry', 'in_progress')),
                        COUNT(*) FILTER (WHERE state = 'failed')
                 FROM pending_ops",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, i64>(2)? as u64,
                    ))
                },
            )?;
            let mut st = c.prepare_cached(
                "SELECT target, MAX(updated_at) FROM pending_ops WHERE state = 'done'
                 GROUP BY target ORDER BY target",
            )?;
            let last_success = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut st = c.prepare_cached(
                "SELECT pool, COUNT(*) FROM pending_ops
                 WHERE state IN ('pending', 'retry', 'in_progress') GROUP BY pool ORDER BY pool",
            )?;
            let pools = st
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?;
            Ok(QueueSummary {
                depth,
                oldest_created_at: oldest,
                failed,
                last_success,
                pools,
            })
        })
    }
}

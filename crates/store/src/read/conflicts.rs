//! Quarantined replicated changes, for operators.

use super::ReadPool;
use crate::error::StoreError;
use innsync_core::Record;
use rusqlite::params;

impl ReadPool {
    /// Quarantined replicated changes, newest first.
    pub fn conflicts(
        &self,
        limit: usize,
        filter: &ConflictFilter,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        self.with(|c| {
            // The change that was quarantined says who wrote it, where and when: the agent who
            // was told "booking created" can find that it was undone.
            let mut st = c.prepare_cached(
                "SELECT k.id, k.origin, k.seq, k.record_id, k.kind, k.reason, k.theirs, k.ours,
                    k.detected_at, k.status, ch.actor, ch.at, ch.action, ch.detail
                 FROM conflicts k LEFT JOIN changes ch ON ch.origin = k.origin AND ch.seq = k.seq
                 WHERE (?2 IS NULL OR k.origin = ?2) AND (?3 IS NULL OR ch.actor = ?3)
                   AND (?4 IS NULL OR k.status = ?4) AND (?5 IS NULL OR k.id = ?5)
                 ORDER BY k.id DESC LIMIT ?1",
            )?;
            let rows = st.query_map(
                params![
                    limit as i64,
                    filter.origin.as_deref(),
                    filter.actor.as_deref(),
                    filter.status.as_deref(),
                    filter.id
                ],
                |r| {
                    let theirs: String = r.get(6)?;
                    let ours: Option<String> = r.get(7)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        theirs,
                        ours,
                        r.get::<_, String>(8)?,
                        r.get::<_, String>(9)?,
                        (
                            r.get::<_, Option<String>>(10)?,
                            r.get::<_, Option<String>>(11)?,
                            r.get::<_, Option<String>>(12)?,
                            r.get::<_, Option<String>>(13)?,
                        ),
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (id, origin, seq, record_id, kind, reason, theirs, ours, detected, status, w) =
                    row?;
                let theirs_rec: Option<Record> = serde_json::from_str(&theirs).ok();
                let ours_rec: Option<Record> =
                    ours.as_deref().and_then(|o| serde_json::from_str(o).ok());
                let (actor, at, action, detail) = w;
                out.push(serde_json::json!({
                    "id": id,
                    "origin": origin,
                    "seq": seq,
                    "record_id": record_id,
                    "kind": kind,
                    "reason": reason,
                    "record": theirs_rec.as_ref().map(innsync_core::describe::describe),
                    "ours_in_words": ours_rec.as_ref().map(innsync_core::describe::describe),
                    "link": theirs_rec.as_ref().and_then(innsync_core::describe::ui_link),
                    "written_by": { "server": origin, "user": actor, "at": at, "action": action, "detail": detail },
                    "theirs": serde_json::from_str::<serde_json::Value>(&theirs).unwrap_or_default(),
                    "ours": ours.and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok()),
                    "detected_at": detected,
                    "status": status,
                }));
            }
            Ok(out)
        })
    }

    /// Open conflicts of changes this server wrote itself: acknowledged writes of its own users
    /// that a fence undid.
    pub fn own_open_conflicts(&self, me: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM conflicts WHERE status = 'open' AND origin = ?1",
                [me],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }

    /// Open conflicts.
    pub fn open_conflicts(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM conflicts WHERE status = 'open'",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }
}

/// Which conflicts to list.
#[derive(Clone, Debug, Default)]
pub struct ConflictFilter {
    /// Only those written by this server.
    pub origin: Option<String>,
    /// Only those written by this user.
    pub actor: Option<String>,
    /// Only those in this state (`open`, `applied`, `discarded`).
    pub status: Option<String>,
    /// Only this one.
    pub id: Option<i64>,
}

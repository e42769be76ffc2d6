//! The change log as read: the audit log, cursors, and the changes served to peers and rules.

use super::{bodies, ReadPool};
use crate::error::StoreError;
use innsync_core::{Record, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// One audit log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// When.
    pub at: String,
    /// On which server.
    pub server: String,
    /// Who.
    pub actor: String,
    /// What (`booking.cancel`).
    pub action: String,
    /// Which record.
    pub record_id: String,
    /// Summary.
    pub detail: String,
}

impl ReadPool {
    /// The audit log of one record, oldest first; or the newest lines of the whole log.
    pub fn audit(
        &self,
        record_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.with(|c| {
            let map = |r: &rusqlite::Row<'_>| {
                Ok(AuditRow {
                    at: r.get(0)?,
                    server: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    record_id: r.get(4)?,
                    detail: r.get(5)?,
                })
            };
            let rows: Vec<AuditRow> = match record_id {
                Some(id) => c
                    .prepare_cached(
                        "SELECT at, origin, actor, action, record_id, detail FROM changes
                         WHERE record_id = ?1 ORDER BY at, origin, seq LIMIT ?2",
                    )?
                    .query_map(params![id, limit as i64], map)?
                    .collect::<Result<_, _>>()?,
                None => c
                    .prepare_cached(
                        "SELECT at, origin, actor, action, record_id, detail FROM changes
                         ORDER BY at DESC, origin, seq DESC LIMIT ?1",
                    )?
                    .query_map(params![limit as i64], map)?
                    .collect::<Result<_, _>>()?,
            };
            Ok(rows)
        })
    }

    /// How far this server has each server's log: the cursors it pulls with, its own included.
    pub fn cursors(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        self.with(|c| {
            let mut out = std::collections::BTreeMap::new();
            let mut st = c.prepare_cached("SELECT origin, seq FROM cursors")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                out.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64);
            }
            let me: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'server'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            let last: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(me) = me {
                out.insert(me, last.and_then(|l| l.parse().ok()).unwrap_or(0));
            }
            Ok(out)
        })
    }

    /// This server's own changes after `seq`, in order, at most `limit`, and how far the
    /// distribution rules have looked (`rules_cursor`): what the rules act on.
    pub fn own_changes_after(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<crate::Change>, StoreError> {
        let me = self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'server'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(StoreError::from)
        })?;
        let Some(me) = me else { return Ok(vec![]) };
        let mut cursor = std::collections::BTreeMap::new();
        for (origin, have) in self.cursors()? {
            cursor.insert(origin, have);
        }
        cursor.insert(me, seq);
        self.changes_after(&cursor, limit)
    }

    /// Records of `kind` in key order, at most `limit`: what a scheduled rule looks at.
    pub fn records_of_kind(&self, kind: &str, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.with(|c| {
            bodies(
                c,
                "SELECT body FROM record_bodies WHERE kind = ?1 ORDER BY key LIMIT ?2",
                params![kind, limit as i64],
                Some,
            )
        })
    }

    /// How far the distribution rules have looked into this server's own changes.
    pub fn rules_cursor(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT value FROM meta WHERE key = 'rules_cursor'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
        })
    }

    /// Changes this server holds beyond `cursor`, of every origin (re-serving what it got from
    /// others), each origin's in order, at most `limit` in all.
    pub fn changes_after(
        &self,
        cursor: &std::collections::BTreeMap<String, u64>,
        limit: usize,
    ) -> Result<Vec<crate::Change>, StoreError> {
        Ok(self
            .changes_after_filtered(cursor, limit, None, &|_, _| Ok(true))?
            .0)
    }

    /// Like [`ReadPool::changes_after`], for a peer that receives only some records (partial
    /// replication): `keep` says which; at most `limit` changes are looked at, and the answer
    /// also says, per origin, the last change looked at — everything up to it that the peer
    /// should have is in the batch, so it may move its cursor there. `only_origin` serves one
    /// origin's log alone (a server with holes in the others' logs re-serves only its own).
    #[allow(
        clippy::type_complexity,
        reason = "the changes and how far each origin was looked at"
    )]
    pub fn changes_after_filtered(
        &self,
        cursor: &std::collections::BTreeMap<String, u64>,
        limit: usize,
        only_origin: Option<&str>,
        keep: &dyn Fn(&Connection, &crate::Change) -> Result<bool, StoreError>,
    ) -> Result<(Vec<crate::Change>, std::collections::BTreeMap<String, u64>), StoreError> {
        let held = self.cursors()?;
        self.with(|c| {
            let mut scanned = std::collections::BTreeMap::new();
            let mut looked = 0usize;
            let mut out = Vec::new();
            let mut st = c.prepare_cached(
                "SELECT origin, seq, epoch, authority, at, actor, action, detail, body FROM changes
                 WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            for (origin, have) in &held {
                let from = cursor.get(origin).copied().unwrap_or(0);
                if from >= *have || looked >= limit || only_origin.is_some_and(|o| o != origin) {
                    continue;
                }
                let mut rows = st.query(params![origin, from as i64, (limit - looked) as i64])?;
                while let Some(r) = rows.next()? {
                    let origin: String = r.get(0)?;
                    let authority: String = r.get(3)?;
                    let body: String = r.get(8)?;
                    let change = crate::Change {
                        origin: ServerCode::parse(&origin).map_err(StoreError::Corrupt)?,
                        seq: r.get::<_, i64>(1)? as u64,
                        epoch: r.get::<_, i64>(2)? as u64,
                        authority: innsync_core::Authority::parse(&authority)
                            .map_err(StoreError::Corrupt)?,
                        at: r.get(4)?,
                        actor: r.get(5)?,
                        action: r.get(6)?,
                        detail: r.get(7)?,
                        record: serde_json::from_str(&body)?,
                    };
                    looked += 1;
                    scanned.insert(origin, change.seq);
                    if keep(c, &change)? {
                        out.push(change);
                    }
                }
            }
            Ok((out, scanned))
        })
    }
}

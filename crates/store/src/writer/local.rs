//! Writes to this server's own tables (tokens, PMS links, the pending queue, conflicts'
//! status, the commit order): not records, never replicated to other servers.

use super::job::LocalWrite;
use super::state::set_meta;
use crate::error::StoreError;
use crate::sql_view::time_text;
use chrono::{DateTime, Utc};
use rusqlite::{params, Transaction};

/// Runs a local write; the id of the operation it queued, for `EnqueuePending`.
pub(super) fn run_local(
    tx: &Transaction<'_>,
    w: &LocalWrite,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    match w {
        LocalWrite::Token {
            hash,
            username,
            label,
        } => {
            tx.execute(
                "INSERT INTO tokens (hash, username, label, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, username, label, time_text(now)],
            )?;
        }
        LocalWrite::EnqueuePending(op) => {
            let id = crate::pending::enqueue(tx, op, &time_text(now))?;
            return Ok(Some(id));
        }
        LocalWrite::PendingState(u) => crate::pending::update(tx, u, &time_text(now))?,
        LocalWrite::PendingStates(us) => {
            let at = time_text(now);
            for u in us {
                crate::pending::update(tx, u, &at)?;
            }
        }
        LocalWrite::RulesScanned { upto, ops } => {
            let at = time_text(now);
            for op in ops {
                crate::pending::enqueue(tx, op, &at)?;
            }
            set_meta(tx, "rules_cursor", &upto.to_string())?;
        }
        LocalWrite::ConflictStatus { id, status } => {
            tx.execute(
                "UPDATE conflicts SET status = ?2 WHERE id = ?1",
                params![id, status],
            )?;
        }
        LocalWrite::RevokeToken { hash } => {
            tx.execute("DELETE FROM tokens WHERE hash = ?1", [hash])?;
        }
        LocalWrite::PmsLink { name, config } => {
            // A new link starts after the events already queued: its first General Reset
            // carries the whole state anyway.
            tx.execute(
                "INSERT INTO pms_links (name, config, delivered)
                 VALUES (?1, ?2, (SELECT COALESCE(MAX(id), 0) FROM pms_outbox))
                 ON CONFLICT (name) DO UPDATE SET config = ?2",
                params![name, config],
            )?;
        }
        LocalWrite::PmsDelivered { name, upto } => {
            tx.execute(
                "UPDATE pms_links SET delivered = MAX(delivered, ?2) WHERE name = ?1",
                params![name, upto],
            )?;
        }
        LocalWrite::TrackCommitOrder => {
            tx.execute_batch(crate::schema::COMMIT_ORDER_TRIGGER)?;
            set_meta(tx, "commit_order", "1")?;
        }
        LocalWrite::Recovered => {
            tx.execute(
                "DELETE FROM meta WHERE key = ?1",
                [crate::backup::RESTORED_KEY],
            )?;
        }
    }
    Ok(None)
}

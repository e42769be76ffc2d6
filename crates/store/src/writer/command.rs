//! Running one domain command inside the batch's transaction: the idempotency key, the core's
//! decision, the records it writes and the change log.

use super::job::WriteOutcome;
use super::state::{Counters, Ids};
use crate::apply::{apply_record, Applied, ChangeStamp, Novelty};
use crate::error::StoreError;
use crate::sql_view::{time_text, ReferenceCache, SqlView};
use innsync_core::decide::{decide, Ctx};
use innsync_core::Command;
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use std::cell::RefCell;

fn fingerprint(actor: &str, cmd: &Command) -> Result<String, StoreError> {
    let mut h = Sha256::new();
    h.update(actor.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(cmd)?);
    Ok(hex::encode(h.finalize()))
}

/// Runs one command inside the batch's transaction. The inner `Result` is the command's
/// answer (a refusal writes nothing: deciding reads only); the outer one is a statement
/// failure that aborts the whole batch. `ctx` is [`super::state::Standing::ctx`]: who asks,
/// when, and where this server stands.
pub(super) fn run_command(
    tx: &Transaction<'_>,
    cache: &RefCell<ReferenceCache>,
    ctx: &Ctx<'_>,
    counters: &mut Counters,
    cmd: &Command,
    idempotency_key: Option<&str>,
) -> Result<Result<WriteOutcome, StoreError>, StoreError> {
    let (actor, now) = (ctx.actor, ctx.now);
    let idem = match idempotency_key {
        Some(k) => {
            let key = format!("{actor}\u{0}{k}");
            let fp = fingerprint(actor, cmd)?;
            let seen: Option<(String, String)> = tx
                .prepare_cached("SELECT fingerprint, outcome FROM idempotency WHERE key = ?1")?
                .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((seen_fp, outcome)) = seen {
                if seen_fp != fp {
                    return Ok(Err(StoreError::Refused(
                        innsync_core::DomainError::InvalidInput(format!(
                            "Idempotency-Key {k:?} was already used for a different request"
                        )),
                    )));
                }
                return Ok(Ok(WriteOutcome::Replayed(serde_json::from_str(&outcome)?)));
            }
            Some((key, fp))
        }
        None => None,
    };
    let saved = *counters;
    let decided = {
        let mut ids = Ids {
            server: ctx.server,
            last: &mut counters.last_id,
            last_reservation: &mut counters.last_reservation,
            conn: tx,
        };
        decide(cmd, &SqlView::cached(tx, cache), &mut ids, ctx)
    };
    let decision = match decided {
        Ok(d) => d,
        Err(innsync_core::DomainError::Storage(e)) => return Err(StoreError::Corrupt(e.0)),
        Err(e) => {
            // Refused: nothing was written; the ids it drew are handed out again.
            *counters = saved;
            return Ok(Err(StoreError::Refused(e)));
        }
    };
    let at = time_text(now);
    for rec in &decision.writes {
        counters.last_seq += 1;
        let entry = decision.audit.iter().find(|a| a.record == rec.meta().id);
        let stamp = ChangeStamp {
            origin: ctx.server,
            seq: counters.last_seq,
            epoch: ctx.epoch,
            at: &at,
            actor,
            action: entry.map_or(cmd.name(), |a| a.action.as_str()),
            detail: entry.map_or("", |a| a.detail.as_str()),
        };
        let novelty = if rec.meta().version == 1 {
            Novelty::Created
        } else {
            Novelty::Unknown
        };
        let applied = apply_record(tx, rec, &stamp, novelty)?;
        if applied != Applied::Written {
            // The decision read a state older than the one it writes over: a bug, but one
            // command's, not the writer's — the batch fails and is re-run one request at a time.
            return Err(StoreError::Corrupt(format!(
                "{} {} was decided at version {} but a newer one is stored",
                rec.kind().as_str(),
                rec.key(),
                rec.meta().version
            )));
        }
        if ReferenceCache::caches(rec.kind().as_str()) {
            cache.borrow_mut().forget(rec.kind().as_str(), &rec.key());
        }
    }
    if let Some((key, fp)) = &idem {
        tx.prepare_cached(
            "INSERT INTO idempotency (key, fingerprint, outcome, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            key,
            fp,
            serde_json::to_string(&decision.outcome)?,
            time_text(now)
        ])?;
    }
    Ok(Ok(WriteOutcome::Done(decision.outcome)))
}

//! The writer thread's loop and its batches: take everything queued, run it in one
//! transaction, answer after the commit; when a statement fails mid-batch, run the batch again
//! one job per transaction.

use super::command::run_command;
use super::job::{Job, LocalWrite, Request, WriteOutcome};
use super::local::run_local;
use super::replicate::run_replicate;
use super::state::{
    fenced_at, get_meta, master_in, reload_master, set_meta, Counters, Standing, State,
};
use crate::error::StoreError;
use crate::sql_view::time_text;
use crate::sql_view::ReferenceCache;
use chrono::{DateTime, Utc};
use innsync_core::decide::Outcome;
use innsync_core::Command;
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

pub(super) fn run(mut st: State, mut rx: mpsc::Receiver<Request>, max_batch: usize) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    let mut replies = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        if let Job::Pause(wait) = first.job {
            let _ = first
                .reply
                .send(Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })));
            // Returns when the guard is dropped.
            let _ = wait.recv();
            continue;
        }
        jobs.push(first.job);
        replies.push(first.reply);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(r) => {
                    jobs.push(r.job);
                    replies.push(r.reply);
                }
                Err(_) => break,
            }
        }
        debug_assert!(
            !jobs.is_empty() && jobs.len() <= max_batch,
            "a batch holds 1..=max_batch jobs"
        );
        let now = (st.clock)();
        let results = execute(&mut st, now, &jobs, None).unwrap_or_else(|e| {
            let msg = e.to_string();
            jobs.iter()
                .map(|_| Err(StoreError::Unavailable(msg.clone())))
                .collect()
        });
        debug_assert_eq!(results.len(), jobs.len());
        jobs.clear();
        for (reply, res) in replies.drain(..).zip(results) {
            // The caller may have gone away; the write stands either way.
            let _ = reply.send(res);
        }
    }
    tracing::info!("writer stopped: every handle dropped");
}

/// Where a cluster node records, in the batch's own transaction, which Raft log entry the
/// store has applied (an opaque mark written by `innsync-cluster`).
pub(crate) const APPLIED_KEY: &str = "raft_applied";
/// With [`APPLIED_KEY`]: the last job applied of an entry that had to be run one job per
/// transaction, so a crash in between resumes after it, never applying a job twice.
const APPLIED_PART_KEY: &str = "raft_applied_part";

/// Runs jobs as one batch; when a statement fails mid-batch (nothing of it is on disk), runs
/// each job in a transaction of its own so one bad job cannot fail the others. With a mark
/// (a cluster node), every transaction also records how far the entry got, and jobs already
/// applied before a crash are skipped. `Err` only when the failure may not be reproducible
/// (I/O, a full disk, corruption): a cluster node must stop rather than diverge.
pub(super) fn execute(
    st: &mut State,
    now: DateTime<Utc>,
    jobs: &[Job],
    mark: Option<&str>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let mut skip = 0;
    if let Some(m) = mark {
        if get_meta(&st.conn, APPLIED_KEY)?.as_deref() == Some(m) {
            match get_meta(&st.conn, APPLIED_PART_KEY)? {
                None => skip = jobs.len(),
                Some(p) => {
                    skip = p
                        .parse::<usize>()
                        .map_err(|_| StoreError::Corrupt(format!("meta {APPLIED_PART_KEY}")))?
                        + 1
                }
            }
        }
    }
    let already = || Err(StoreError::Unavailable("applied before a restart".into()));
    if skip == 0 {
        match run_batch(st, now, jobs, mark.map(|m| (m, None))) {
            Ok(results) => return Ok(results),
            Err(e) if st.failed_fatally && mark.is_some() => return Err(e),
            Err(e) if jobs.len() == 1 => return Ok(vec![Err(e)]),
            Err(_) => {}
        }
    }
    let mut out: Vec<_> = (0..skip.min(jobs.len())).map(|_| already()).collect();
    for (i, job) in jobs.iter().enumerate().skip(skip) {
        let last = i + 1 == jobs.len();
        let m = mark.map(|m| (m, if last { None } else { Some(i) }));
        match run_batch(st, now, std::slice::from_ref(job), m) {
            Ok(mut one) => out.push(
                one.pop()
                    .unwrap_or_else(|| Err(StoreError::Unavailable("no answer".into()))),
            ),
            Err(e) if st.failed_fatally && mark.is_some() => return Err(e),
            Err(e) => {
                if let Some((m, part)) = m {
                    // The failed job must still count as done, or a restart would retry it.
                    let tx = st.conn.transaction()?;
                    set_meta(&tx, APPLIED_KEY, m)?;
                    match part {
                        Some(p) => set_meta(&tx, APPLIED_PART_KEY, &p.to_string())?,
                        None => {
                            tx.execute("DELETE FROM meta WHERE key = ?1", [APPLIED_PART_KEY])?;
                        }
                    }
                    tx.commit()?;
                    st.commits.committed();
                }
                out.push(Err(e))
            }
        }
    }
    Ok(out)
}

/// Applies a cluster's committed entries (each a segment with its mark), as many as can be in
/// one transaction: one commit per call rather than per entry. The result is the same as
/// [`execute`] run on each entry in turn — a segment that moves the master ends the
/// transaction ([`run_segments`]), and when a statement fails, or an entry was applied partly
/// before a restart, the entries are run one at a time by [`execute`] — so every node ends
/// with the same store however openraft groups the entries it hands over.
pub(super) fn execute_entries(
    st: &mut State,
    entries: &[Segment<'_>],
) -> Result<SegmentAnswers, StoreError> {
    let mut out = Vec::with_capacity(entries.len());
    let applied = get_meta(&st.conn, APPLIED_KEY)?;
    let mut careful = entries
        .iter()
        .any(|e| e.2.is_some() && e.2 == applied.as_deref());
    let mut rest = entries;
    while let Some((now, jobs, mark)) = rest.first().copied() {
        if !careful && rest.len() > 1 {
            match run_segments(st, rest, None) {
                Ok((answers, _)) if !answers.is_empty() => {
                    rest = &rest[answers.len().min(rest.len())..];
                    out.extend(answers);
                    continue;
                }
                Ok(_) => careful = true,
                Err(e) if st.failed_fatally => return Err(e),
                Err(_) => careful = true,
            }
        }
        out.push(execute(st, now, jobs, mark)?);
        rest = &rest[1..];
    }
    Ok(out)
}

/// Whether a failure may not happen again on another run of the same batch (so a cluster node
/// cannot assume its peers failed the same way).
fn is_fatal(e: &StoreError) -> bool {
    use rusqlite::ErrorCode as C;
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            C::SystemIoFailure
                | C::DiskFull
                | C::DatabaseCorrupt
                | C::NotADatabase
                | C::CannotOpen
                | C::OutOfMemory
                | C::ReadOnly
                | C::PermissionDenied
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::FileLockingProtocolFailed
        ),
        StoreError::Setup(_) => true,
        _ => false,
    }
}

/// Runs a batch in one transaction. Refusals are answers, not failures; an `Err` means a
/// statement or the commit failed and nothing of the batch is on disk.
fn run_batch(
    st: &mut State,
    now: DateTime<Utc>,
    batch: &[Job],
    mark: Option<(&str, Option<usize>)>,
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let (m, part) = mark.map_or((None, None), |(m, p)| (Some(m), p));
    let (mut answers, _) = run_segments(st, &[(now, batch, m)], part)?;
    Ok(answers.pop().unwrap_or_default())
}

/// A segment of a transaction: its time, its jobs and, on a cluster node, the mark of the
/// entry it is.
pub(super) type Segment<'a> = (DateTime<Utc>, &'a [Job], Option<&'a str>);

/// Answers of the jobs of each segment run, in order.
pub(super) type SegmentAnswers = Vec<Vec<Result<WriteOutcome, StoreError>>>;

/// Runs segments (each its own time and jobs: a cluster's committed entries) in one
/// transaction, as [`run_batch`] runs one, and records the mark of the last segment run (with
/// `part`, the last job applied of an entry run one job per transaction). A segment that moved
/// the master ends the transaction: the ones after it run in later ones, after the master is
/// reloaded, exactly as if each segment had had a transaction of its own. Answers the segments
/// run (a prefix) and whether the transaction was cut short there.
pub(super) fn run_segments(
    st: &mut State,
    segments: &[Segment<'_>],
    part: Option<usize>,
) -> Result<(SegmentAnswers, bool), StoreError> {
    let before = st.counters;
    let n: usize = segments.iter().map(|s| s.1.len()).sum();
    #[allow(
        clippy::type_complexity,
        reason = "the answers, whether remote changes landed, whether cut short"
    )]
    let attempt = (|| -> Result<(SegmentAnswers, bool, bool), StoreError> {
        let tx = st
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(segments.len());
        let mut inb = InBatch {
            standing: &mut st.standing,
            counters: &mut st.counters,
            cache: &st.cache,
            master_moved: &mut st.master_moved,
            commit_order: &mut st.commit_order,
            wrote_remote: false,
        };
        let mut mark = None;
        for (now, batch, m) in segments {
            if *inb.master_moved {
                break;
            }
            mark = *m;
            // The batch's time, for the local commit order of the change log (backup.rs). An
            // empty batch (a cluster's blank or membership entry) has no time of its own.
            if *inb.commit_order && !batch.is_empty() {
                set_meta(&tx, "batch_at", &time_text(*now))?;
            }
            let mut answers = Vec::with_capacity(batch.len());
            for job in *batch {
                let res = run_job(&mut inb, &tx, *now, job)?;
                // A refused local write (too large) is an answer but not a domain refusal.
                if matches!(res, Err(StoreError::Refused(_))) && !matches!(job, Job::Local(_)) {
                    st.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                answers.push(res);
            }
            debug_assert_eq!(answers.len(), batch.len(), "one answer per job");
            results.push(answers);
        }
        let cut = results.len() < segments.len();
        let wrote_remote = inb.wrote_remote;
        if (st.counters.last_id, st.counters.last_seq) != (before.last_id, before.last_seq) {
            set_meta(&tx, "last_id", &st.counters.last_id.to_string())?;
            set_meta(&tx, "last_seq", &st.counters.last_seq.to_string())?;
        }
        if let Some(r) = st.counters.last_reservation {
            if before.last_reservation != Some(r) {
                crate::reservation::save(&tx, r)?;
            }
        }
        let part = part.filter(|_| !cut);
        if let Some(m) = mark {
            // A cluster node: which entry this transaction applied, and the replicated freeze.
            set_meta(&tx, APPLIED_KEY, m)?;
            match part {
                Some(p) => set_meta(&tx, APPLIED_PART_KEY, &p.to_string())?,
                None => {
                    tx.execute("DELETE FROM meta WHERE key = ?1", [APPLIED_PART_KEY])?;
                }
            }
            set_meta(&tx, "frozen", if st.standing.frozen { "1" } else { "0" })?;
        }
        tx.commit()?;
        Ok((results, wrote_remote, cut))
    })();
    st.stats.commands.fetch_add(n as u64, Ordering::Relaxed);
    st.stats.max_batch.fetch_max(n as u64, Ordering::Relaxed);
    // Counted whatever the outcome: a count too many only sends the next read to a snapshot.
    st.commits.committed();
    match attempt {
        Ok((results, wrote_remote, cut)) => {
            debug_assert!(
                st.counters.last_seq >= before.last_seq && st.counters.last_id >= before.last_id,
                "a committed batch never takes back a seq or an id"
            );
            if wrote_remote || st.counters.last_seq != before.last_seq {
                st.changed.send_modify(|n| *n += 1);
            }
            // A token written or received here moves the master this writer obeys.
            if std::mem::take(&mut st.master_moved) {
                if let Err(e) = reload_master(st) {
                    tracing::error!(error = %e, "could not reload the master token");
                }
            }
            st.stats.batches.fetch_add(1, Ordering::Relaxed);
            st.stats.last_write_failed.store(false, Ordering::Relaxed);
            st.stats
                .changes
                .fetch_add(st.counters.last_seq - before.last_seq, Ordering::Relaxed);
            st.failed_fatally = false;
            Ok((results, cut))
        }
        Err(e) => {
            st.failed_fatally = is_fatal(&e);
            st.commit_order = get_meta(&st.conn, "commit_order").ok().flatten().is_some();
            // Nothing of the batch is on disk: forget the ids and seqs it used, anything
            // cached from inside the failed transaction, and any master it moved.
            st.counters = before;
            st.master_moved = false;
            if let Err(e) = reload_master(st) {
                tracing::error!(error = %e, "could not reload the master token");
            }
            st.cache.borrow_mut().clear();
            st.stats.commit_failures.fetch_add(1, Ordering::Relaxed);
            st.stats.last_write_failed.store(true, Ordering::Relaxed);
            tracing::error!(error = %e, commands = n, "batch failed; nothing of it acknowledged");
            Err(StoreError::Unavailable(format!("the write failed: {e}")))
        }
    }
}

/// What a job of a batch may change of the writer's state: everything but the connection,
/// which the batch's transaction holds.
struct InBatch<'s> {
    standing: &'s mut Standing,
    counters: &'s mut Counters,
    cache: &'s RefCell<ReferenceCache>,
    master_moved: &'s mut bool,
    commit_order: &'s mut bool,
    /// Changes from other servers (or this server's own, recovered) were written.
    wrote_remote: bool,
}

/// Runs one job of a batch inside its transaction. `Err` is a statement failure that aborts
/// the batch; refusals are answers.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per job kind; what each does to the batch's state is easiest to check side by side"
)]
fn run_job(
    b: &mut InBatch<'_>,
    tx: &rusqlite::Transaction<'_>,
    now: DateTime<Utc>,
    job: &Job,
) -> Result<Result<WriteOutcome, StoreError>, StoreError> {
    let res = match job {
        Job::Command {
            cmd,
            actor,
            idempotency_key,
        } => {
            let res = run_command(
                tx,
                b.cache,
                &b.standing.ctx(now, actor),
                b.counters,
                cmd,
                idempotency_key.as_deref(),
            )?;
            // A grant moves the master at once: the next command of this very batch
            // is decided under the new token (the old master writes nothing env-owned
            // after its grant, even without a freeze).
            if let (Command::GrantMaster { to, epoch, .. }, Ok(_)) = (cmd.as_ref(), &res) {
                b.standing.master = to.clone();
                b.standing.epoch = *epoch;
                b.standing.frozen = false;
            }
            if let (Command::TakeOver { .. }, Ok(_)) = (cmd.as_ref(), &res) {
                b.standing.master = b.standing.server.clone();
                b.standing.epoch += 1;
                b.standing.fenced = fenced_at(tx, &b.standing.server, b.standing.epoch)?;
            }
            if matches!(
                cmd.as_ref(),
                Command::GrantMaster { .. } | Command::TakeOver { .. }
            ) {
                *b.master_moved = true;
            }
            res
        }
        Job::Local(w) => {
            let queued = match run_local(tx, w, now) {
                Ok(q) => q,
                // A refused write (too large) is an answer; a statement failure aborts.
                Err(StoreError::Refused(e)) => return Ok(Err(StoreError::Refused(e))),
                Err(e) => return Err(e),
            };
            if matches!(w, LocalWrite::TrackCommitOrder) {
                *b.commit_order = true;
            }
            match queued {
                Some(id) => Ok(WriteOutcome::Enqueued(id)),
                None => Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })),
            }
        }
        Job::PendingCommand {
            id,
            cmd,
            actor,
            done,
        } => {
            // The operation's command and its new state commit together: a crash
            // leaves both or neither, so the command is never run twice.
            let ctx = b.standing.ctx(now, actor);
            let res = run_command(tx, b.cache, &ctx, b.counters, cmd, None)?;
            let update = match &res {
                Ok(out) => crate::pending::PendingUpdate {
                    result: Some(serde_json::to_string(out)?),
                    ..done.clone()
                },
                Err(e) => crate::pending::PendingUpdate {
                    id: *id,
                    state: "failed".into(),
                    phase: None,
                    next_at: None,
                    error: Some(e.to_string()),
                    result: None,
                    attempted: true,
                },
            };
            crate::pending::update(tx, &update, &time_text(now))?;
            res
        }
        // A pause behind other requests in a batch holds nothing: it is answered at once.
        Job::Pause(_) => Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] })),
        Job::Freeze(on) => {
            b.standing.frozen = *on;
            Ok(WriteOutcome::Done(Outcome::Expired { ids: vec![] }))
        }
        Job::Replicate(changes, skipped) => {
            let token = changes
                .iter()
                .any(|c| matches!(c.record, innsync_core::Record::MasterToken(_)));
            let report = run_replicate(tx, &b.standing.server, changes, skipped.as_ref(), now)?;
            if token {
                // A replicated token moves the master at once, like a local grant: the
                // next command of this very batch is decided under it.
                *b.master_moved = true;
                let (master, epoch) = master_in(tx)?;
                if let Some(m) = master {
                    b.standing.master = m;
                }
                b.standing.epoch = epoch;
                if b.standing.master != b.standing.server {
                    b.standing.frozen = false;
                }
            }
            if token || report.conflicts > 0 {
                // The batch may have drawn a fence on this server's own writes.
                b.standing.fenced = fenced_at(tx, &b.standing.server, b.standing.epoch)?;
            }
            if report.applied > 0 {
                b.cache.borrow_mut().clear();
                b.wrote_remote = true;
                // They may hold numbers this server gave out before a restore.
                b.counters.last_reservation = None;
            }
            Ok(WriteOutcome::Replicated(report))
        }
        Job::RecoverOwn(changes) => {
            let report = crate::backup::replay_own(
                tx,
                &b.standing.server,
                changes,
                &mut b.counters.last_id,
                &mut b.counters.last_seq,
            )?;
            b.counters.last_reservation = None;
            b.cache.borrow_mut().clear();
            *b.master_moved = true;
            b.wrote_remote = true;
            Ok(WriteOutcome::Replicated(report))
        }
    };
    Ok(res)
}

#[cfg(test)]
mod fatal_tests {
    use super::*;

    #[test]
    fn only_failures_that_may_not_repeat_elsewhere_stop_a_cluster_node() {
        let sqlite = |code| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code,
                    extended_code: 0,
                },
                None,
            ))
        };
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::SystemIoFailure)));
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::DiskFull)));
        assert!(is_fatal(&sqlite(rusqlite::ErrorCode::DatabaseCorrupt)));
        assert!(is_fatal(&StoreError::Setup("no space".into())));
        // The batch's own content fails the same way on every node.
        assert!(!is_fatal(&sqlite(rusqlite::ErrorCode::ConstraintViolation)));
        assert!(!is_fatal(&StoreError::Corrupt("bad body".into())));
    }
}

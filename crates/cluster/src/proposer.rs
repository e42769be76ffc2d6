//! The proposer: where a cluster node's writer requests go. It takes every request waiting (up
//! to the batch limit) into one batch stamped with this node's time, proposes it to Raft, and
//! answers each request with its job's answer once the entry is committed by a quorum and
//! applied here. Proposals are pipelined: the next batch is collected while earlier ones are
//! being replicated, up to a limit of batches in flight.

use crate::types::{Proposal, Raft};
use innsync_store::{Batch, Clock, Job, Request, StoreError, WriteOutcome};
use openraft::error::{ClientWriteError, RaftError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

type Answers = Vec<Result<WriteOutcome, StoreError>>;

/// The proposals of this process waiting for their entry to be applied.
#[derive(Default)]
pub struct Waiters {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Answers>>>,
}

impl Waiters {
    fn register(&self) -> (u64, oneshot::Receiver<Answers>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            w.insert(id, tx);
        }
        (id, rx)
    }

    fn forget(&self, id: u64) {
        if let Ok(mut w) = self.waiting.lock() {
            w.remove(&id);
        }
    }

    /// Hands the answers of an applied entry to whoever proposed it here.
    pub fn complete(&self, id: u64, answers: Answers) {
        let tx = self.waiting.lock().ok().and_then(|mut w| w.remove(&id));
        if let Some(tx) = tx {
            let _ = tx.send(answers);
        }
    }
}

/// Limits of the proposer.
#[derive(Clone, Debug)]
pub struct ProposerSettings {
    /// Most jobs in one entry.
    pub max_batch: usize,
    /// Most entries proposed and not yet answered.
    pub in_flight: usize,
    /// How long a proposal may wait for its commit before the callers are told the outcome is
    /// unknown (an isolated leader cannot commit).
    pub write_timeout: Duration,
}

/// Why a proposal was not committed, as the callers are told.
pub(crate) fn refusal(e: &RaftError<u64, ClientWriteError<u64, openraft::BasicNode>>) -> String {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => match &f.leader_node {
            Some(n) => format!(
                "this node is not the cluster's leader (node {} at {} is); nothing was written, retry",
                f.leader_id.unwrap_or_default(),
                n.addr
            ),
            None => "the cluster has no leader right now (an election is running or a quorum \
                     is lost); nothing was written, retry shortly"
                .into(),
        },
        RaftError::APIError(e) => format!("the cluster refused the write: {e}"),
        RaftError::Fatal(e) => format!("this cluster node has stopped: {e}"),
    }
}

/// Runs until every writer handle is gone.
pub async fn run(
    raft: Raft,
    mut rx: mpsc::Receiver<Request>,
    waiters: Arc<Waiters>,
    nonce: u64,
    clock: Clock,
    settings: ProposerSettings,
) {
    let in_flight = Arc::new(Semaphore::new(settings.in_flight.max(1)));
    let max_batch = settings.max_batch.max(1);
    while let Some(first) = rx.recv().await {
        if let Job::Pause(wait) = first.job {
            let _ = first
                .reply
                .send(Ok(WriteOutcome::Done(innsync_core::Outcome::Expired {
                    ids: vec![],
                })));
            let _ = tokio::task::spawn_blocking(move || wait.recv()).await;
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first.job];
        let mut replies = vec![first.reply];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(Request {
                    job: Job::Pause(_),
                    reply,
                }) => {
                    // A pause behind other requests holds nothing: answered at once.
                    let _ = reply.send(Ok(WriteOutcome::Done(innsync_core::Outcome::Expired {
                        ids: vec![],
                    })));
                }
                Ok(r) => {
                    jobs.push(r.job);
                    replies.push(r.reply);
                }
                Err(_) => break,
            }
        }
        let fail_all = |replies: Vec<oneshot::Sender<_>>, why: String| {
            for r in replies {
                let _ = r.send(Err(StoreError::Unavailable(why.clone())));
            }
        };
        let batch = Batch { now: clock(), jobs };
        let text = match serde_json::to_string(&batch) {
            Ok(t) => t,
            Err(e) => {
                fail_all(replies, format!("the batch could not be encoded: {e}"));
                continue;
            }
        };
        let (id, answers) = waiters.register();
        let proposal = Proposal {
            proposer: nonce,
            id,
            batch: text,
        };
        // Enqueued in order here; committed and answered in the background.
        let committed = match raft.client_write_ff(proposal).await {
            Ok(rx) => rx,
            Err(e) => {
                waiters.forget(id);
                fail_all(replies, format!("this cluster node has stopped: {e}"));
                return;
            }
        };
        let (waiters, timeout) = (waiters.clone(), settings.write_timeout);
        tokio::spawn(async move {
            let _permit = permit;
            let outcome = tokio::time::timeout(timeout, committed).await;
            let why = match outcome {
                Ok(Ok(Ok(_))) => match answers.await {
                    Ok(a) => {
                        for (r, a) in replies.into_iter().zip(a) {
                            let _ = r.send(a);
                        }
                        return;
                    }
                    Err(_) => "the entry was applied but its answers were lost".to_string(),
                },
                Ok(Ok(Err(e))) => refusal(&RaftError::APIError(e)),
                Ok(Err(_)) => "this cluster node stopped before the write committed; its outcome \
                               is unknown, retry with the same Idempotency-Key"
                    .to_string(),
                Err(_) => format!(
                    "the write was not committed by a quorum within {timeout:?}; its outcome is \
                     unknown, retry with the same Idempotency-Key"
                ),
            };
            waiters.forget(id);
            for r in replies {
                let _ = r.send(Err(StoreError::Unavailable(why.clone())));
            }
        });
    }
}

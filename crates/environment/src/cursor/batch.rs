//! Planning one incoming batch against the cursors: apply, skip or hold each change.

use super::CursorMap;
use crate::config::Fingerprint;
use crate::limits::{MAX_BATCH_CHANGES, MAX_ORIGINS};
use innsync_core::ServerCode;
use std::collections::{BTreeMap, BTreeSet};

/// What the cursor logic needs of a change: where it comes from and its place in that log.
pub trait Sequenced {
    /// The server that wrote it.
    fn origin(&self) -> &ServerCode;
    /// Its position in the origin's log, from 1, without gaps.
    fn seq(&self) -> u64;
}

/// A batch as received from a peer: the peer's environment fingerprint and changes of any
/// origins (a peer re-serves what it got from others), each origin's in increasing seq order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<C> {
    /// The sender's environment fingerprint; a batch from another environment is refused.
    pub fingerprint: Fingerprint,
    /// The changes, in the sender's order.
    pub changes: Vec<C>,
}

/// What to do with one change of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeDecision {
    /// The next change of its origin: apply it (in batch order).
    Apply,
    /// Already applied (seq ≤ cursor): applying again would apply it twice.
    SkipDuplicate,
    /// An earlier change of its origin is missing: keep it aside (or drop it to be re-pulled).
    Hold,
}

/// A missing run of an origin's log: changes `expected..got` have not arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The origin.
    pub origin: ServerCode,
    /// The seq awaited (cursor + 1).
    pub expected: u64,
    /// The first seq that arrived beyond it.
    pub got: u64,
}

/// The decisions for a batch, one per change in batch order, and the cursors once every
/// [`ChangeDecision::Apply`] change has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPlan {
    /// One decision per change, same index as the batch.
    pub decisions: Vec<ChangeDecision>,
    /// One gap per origin that has one, in origin order: to report and to pull again.
    pub gaps: Vec<Gap>,
    /// The cursors after applying: store them in the same transaction as the changes.
    pub cursors_after: CursorMap,
}

/// A batch that decoded but cannot be right; it is refused whole and nothing of it applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GarbledBatch {
    /// From a server with another environment file.
    #[error("the batch is from environment {got}, not ours ({expected})")]
    WrongEnvironment {
        /// Ours.
        expected: Fingerprint,
        /// Theirs.
        got: Fingerprint,
    },
    /// More changes than a batch may hold.
    #[error("the batch has {changes} changes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        changes: usize,
        /// The limit.
        max: usize,
    },
    /// Seq 0 does not exist (logs start at 1).
    #[error("change {index} of {origin} has seq 0")]
    ZeroSeq {
        /// The origin.
        origin: ServerCode,
        /// Index in the batch.
        index: usize,
    },
    /// An origin's seqs go backwards or repeat within the batch.
    #[error("change {index} of {origin} has seq {seq} after seq {previous}; an origin's changes must be in increasing order")]
    NotIncreasing {
        /// The origin.
        origin: ServerCode,
        /// Index in the batch.
        index: usize,
        /// Its seq.
        seq: u64,
        /// The seq before it.
        previous: u64,
    },
    /// An origin that is not a server of the environment.
    #[error("change {index} comes from {origin}, which is not a server of this environment")]
    UnknownOrigin {
        /// The origin.
        origin: ServerCode,
        /// Index in the batch.
        index: usize,
    },
}

/// Decides, for every change of `batch`, whether to apply, skip or hold it.
///
/// `known` lists the environment's servers. The batch is refused whole when garbled, so a
/// corrupt sender cannot get half a batch applied.
pub fn plan_batch<C: Sequenced>(
    cursors: &CursorMap,
    fingerprint: &Fingerprint,
    known: &BTreeSet<ServerCode>,
    batch: &Batch<C>,
) -> Result<BatchPlan, GarbledBatch> {
    if &batch.fingerprint != fingerprint {
        return Err(GarbledBatch::WrongEnvironment {
            expected: *fingerprint,
            got: batch.fingerprint,
        });
    }
    if batch.changes.len() > MAX_BATCH_CHANGES {
        return Err(GarbledBatch::TooLarge {
            changes: batch.changes.len(),
            max: MAX_BATCH_CHANGES,
        });
    }
    // First pass: shape only, so nothing is decided for a garbled batch.
    let mut last: BTreeMap<&ServerCode, u64> = BTreeMap::new();
    for (index, c) in batch.changes.iter().enumerate() {
        let origin = c.origin();
        if !known.contains(origin) || (!last.contains_key(origin) && last.len() >= MAX_ORIGINS) {
            return Err(GarbledBatch::UnknownOrigin {
                origin: origin.clone(),
                index,
            });
        }
        if c.seq() == 0 {
            return Err(GarbledBatch::ZeroSeq {
                origin: origin.clone(),
                index,
            });
        }
        if let Some(&previous) = last.get(origin) {
            if c.seq() <= previous {
                return Err(GarbledBatch::NotIncreasing {
                    origin: origin.clone(),
                    index,
                    seq: c.seq(),
                    previous,
                });
            }
        }
        last.insert(origin, c.seq());
    }

    let mut after = cursors.clone();
    let mut gaps: BTreeMap<ServerCode, Gap> = BTreeMap::new();
    let mut decisions = Vec::with_capacity(batch.changes.len());
    for c in &batch.changes {
        let origin = c.origin();
        let at = after.get(origin);
        let decision = if c.seq() <= at {
            ChangeDecision::SkipDuplicate
        } else if c.seq() == at + 1 && !gaps.contains_key(origin) {
            // Origins were checked against `known` (≤ MAX_ORIGINS), so `set` cannot fail; a
            // failure would only hold the change, never apply it out of order.
            match after.set(origin.clone(), c.seq()) {
                Ok(()) => ChangeDecision::Apply,
                Err(_) => ChangeDecision::Hold,
            }
        } else {
            gaps.entry(origin.clone()).or_insert_with(|| Gap {
                origin: origin.clone(),
                expected: at + 1,
                got: c.seq(),
            });
            ChangeDecision::Hold
        };
        decisions.push(decision);
    }
    Ok(BatchPlan {
        decisions,
        gaps: gaps.into_values().collect(),
        cursors_after: after,
    })
}

//! Replication cursors (`origin → last seq applied`) and the decision, per incoming change, to
//! apply it, skip it as a duplicate, or hold it because an earlier change of its origin is
//! missing. Changes are never applied out of order, so each is applied exactly once, in order,
//! however batches are duplicated or reordered on the way (DESIGN §4).

mod batch;
mod hold;

pub use batch::{plan_batch, Batch, BatchPlan, ChangeDecision, Gap, GarbledBatch, Sequenced};
pub use hold::HoldBuffer;

use crate::limits::MAX_ORIGINS;
use innsync_core::ServerCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far this server has applied each origin's log: the resume point of every pull.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CursorMap(BTreeMap<ServerCode, u64>);

/// More origins than any environment has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a cursor map tracks at most {max} origins")]
pub struct TooManyOrigins {
    /// The limit.
    pub max: usize,
}

impl CursorMap {
    /// An empty map: nothing applied from anyone.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last seq applied from `origin` (0 when none).
    pub fn get(&self, origin: &ServerCode) -> u64 {
        self.0.get(origin).copied().unwrap_or(0)
    }

    /// Sets the cursor of `origin`; refused beyond [`MAX_ORIGINS`] origins.
    pub fn set(&mut self, origin: ServerCode, seq: u64) -> Result<(), TooManyOrigins> {
        if !self.0.contains_key(&origin) && self.0.len() >= MAX_ORIGINS {
            return Err(TooManyOrigins { max: MAX_ORIGINS });
        }
        self.0.insert(origin, seq);
        Ok(())
    }

    /// Whether this server holds everything `other` holds: every origin at least as far. The
    /// handover's test that the target has caught up with the master.
    pub fn covers(&self, other: &CursorMap) -> bool {
        other.0.iter().all(|(o, &seq)| self.get(o) >= seq)
    }

    /// For each origin where `other` is ahead, how far behind this map is: the "behind" column
    /// of the environment view and the content of a handover's transfer.
    pub fn behind(&self, other: &CursorMap) -> BTreeMap<ServerCode, u64> {
        other
            .0
            .iter()
            .filter_map(|(o, &seq)| {
                let mine = self.get(o);
                (seq > mine).then(|| (o.clone(), seq - mine))
            })
            .collect()
    }

    /// The origins and their cursors, in code order.
    pub fn iter(&self) -> impl Iterator<Item = (&ServerCode, u64)> {
        self.0.iter().map(|(o, s)| (o, *s))
    }
}

impl<const N: usize> From<[(ServerCode, u64); N]> for CursorMap {
    fn from(items: [(ServerCode, u64); N]) -> Self {
        Self(items.into_iter().take(MAX_ORIGINS).collect())
    }
}

#[cfg(test)]
mod tests;

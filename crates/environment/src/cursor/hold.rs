//! A bounded buffer for changes that arrived before their predecessors: once the gap is filled
//! they are released in order, saving a second transfer. Overflow is safe: a change not kept
//! here is simply pulled again, because the cursor never moved past it.

use super::{CursorMap, Sequenced};
use crate::limits::MAX_HELD_CHANGES;
use innsync_core::ServerCode;
use std::collections::BTreeMap;

/// Out-of-order changes awaiting their gap, keyed by `(origin, seq)`.
#[derive(Clone, Debug)]
pub struct HoldBuffer<C> {
    held: BTreeMap<(ServerCode, u64), C>,
    capacity: usize,
}

impl<C: Sequenced> Default for HoldBuffer<C> {
    fn default() -> Self {
        Self::with_capacity(MAX_HELD_CHANGES)
    }
}

impl<C: Sequenced> HoldBuffer<C> {
    /// A buffer keeping at most `capacity` changes (capped at [`MAX_HELD_CHANGES`]).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            held: BTreeMap::new(),
            capacity: capacity.min(MAX_HELD_CHANGES),
        }
    }

    /// Keeps a change decided [`super::ChangeDecision::Hold`]; `false` when it was not kept
    /// (full, or already held) and must come again by a later pull.
    pub fn hold(&mut self, change: C) -> bool {
        let key = (change.origin().clone(), change.seq());
        if self.held.len() >= self.capacity || self.held.contains_key(&key) {
            return false;
        }
        self.held.insert(key, change);
        true
    }

    /// Removes and returns, in apply order, every held change that now follows on from the
    /// cursors (an origin's run `cursor+1, cursor+2, …`); drops those already applied. The
    /// caller applies them in order and advances the cursors.
    pub fn take_ready(&mut self, cursors: &CursorMap) -> Vec<C> {
        let origins: Vec<ServerCode> = {
            let mut o: Vec<ServerCode> = self.held.keys().map(|(o, _)| o.clone()).collect();
            o.dedup();
            o
        };
        let mut ready = Vec::new();
        for origin in origins {
            let mut next = cursors.get(&origin) + 1;
            // Already applied by another route: duplicates now.
            self.held.retain(|(o, seq), _| o != &origin || *seq >= next);
            while let Some(c) = self.held.remove(&(origin.clone(), next)) {
                ready.push(c);
                next += 1;
            }
        }
        ready
    }

    /// How many changes are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

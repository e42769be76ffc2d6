//! The writer's commit count, shared with the read pool: the one writer counts every
//! transaction it commits, so a read that finds the count where the read state (`board.rs`)
//! last caught up knows, without opening a snapshot, that the database has not moved since —
//! and answers from memory on the async thread, with no connection, no transaction and no
//! blocking task. Search traffic (availability, quotes, conditional reads) lives on this path.
//!
//! Why it cannot serve a stale cell: the count is raised after a commit is durable and
//! visible (`Release`); a reader reads it (`Acquire`) *before* its snapshot starts, so the
//! snapshot holds at least every commit counted; the read state is tagged with that count only
//! when it caught up to such a snapshot. A later reader that finds the same count therefore
//! finds no commit the read state has not seen. The invariant it rests on: nothing but the
//! writer commits to a store the server serves (the one-writer rule); a pool opened on a file
//! without a writer ([`crate::ReadPool::new`]) has no count and never takes this path.

use std::sync::atomic::{AtomicU64, Ordering};

/// How many transactions the writer has committed since the store was opened.
#[derive(Debug, Default)]
pub struct Commits(AtomicU64);

impl Commits {
    /// The count now: read it before a snapshot starts.
    pub(crate) fn seen(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Counts a commit: call it after the transaction committed.
    pub(crate) fn committed(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_only_grows_by_one_per_commit() {
        let c = Commits::default();
        assert_eq!(c.seen(), 0);
        c.committed();
        c.committed();
        assert_eq!(c.seen(), 2);
    }
}

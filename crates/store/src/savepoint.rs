//! The named savepoints the writer applies changes in, run through the connection's statement
//! cache (`execute_batch` parsed `SAVEPOINT` and `RELEASE` again every time).

use rusqlite::Connection;

/// A savepoint, by what it guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Savepoint {
    /// A whole pull's changes applied without a savepoint each (`writer/replicate.rs`).
    ReplicatedPull,
    /// One replicated change (`writer/replicate.rs`).
    Replicated,
    /// One blocked change retried (`blocked.rs`).
    Blocked,
    /// A fenced blocker put at its newest state for a legitimate stay (`fence_yield.rs`).
    FenceYield,
    /// One fenced record put back (`fence.rs`).
    FenceRevert,
}

impl Savepoint {
    /// `SAVEPOINT`, `RELEASE` and `ROLLBACK TO` for this savepoint.
    fn sql(self) -> [&'static str; 3] {
        match self {
            Self::ReplicatedPull => [
                "SAVEPOINT replicated_pull",
                "RELEASE replicated_pull",
                "ROLLBACK TO replicated_pull",
            ],
            Self::Replicated => [
                "SAVEPOINT replicated",
                "RELEASE replicated",
                "ROLLBACK TO replicated",
            ],
            Self::Blocked => [
                "SAVEPOINT blocked",
                "RELEASE blocked",
                "ROLLBACK TO blocked",
            ],
            Self::FenceYield => [
                "SAVEPOINT fence_yield",
                "RELEASE fence_yield",
                "ROLLBACK TO fence_yield",
            ],
            Self::FenceRevert => [
                "SAVEPOINT fence_revert",
                "RELEASE fence_revert",
                "ROLLBACK TO fence_revert",
            ],
        }
    }

    fn run(conn: &Connection, sql: &str) -> Result<(), rusqlite::Error> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Opens the savepoint.
    pub(crate) fn begin(self, conn: &Connection) -> Result<(), rusqlite::Error> {
        Self::run(conn, self.sql()[0])
    }

    /// Keeps what was written since [`Self::begin`].
    pub(crate) fn release(self, conn: &Connection) -> Result<(), rusqlite::Error> {
        Self::run(conn, self.sql()[1])
    }

    /// Undoes what was written since [`Self::begin`] and closes the savepoint.
    pub(crate) fn roll_back(self, conn: &Connection) -> Result<(), rusqlite::Error> {
        Self::run(conn, self.sql()[2])?;
        Self::run(conn, self.sql()[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolled_back_savepoint_keeps_nothing_and_a_released_one_everything() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); BEGIN")
            .unwrap();
        for (sp, keep) in [(Savepoint::Replicated, true), (Savepoint::Blocked, false)] {
            sp.begin(&conn).unwrap();
            conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
            if keep {
                sp.release(&conn).unwrap();
            } else {
                sp.roll_back(&conn).unwrap();
            }
        }
        // Twice more through the cached statements.
        Savepoint::Replicated.begin(&conn).unwrap();
        Savepoint::Replicated.roll_back(&conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert!(conn.is_autocommit(), "every savepoint was closed");
    }
}

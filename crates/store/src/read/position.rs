//! The change-log position a read reflects: how far this server holds each origin's log (its
//! own last seq and its cursors), read inside the read's own transaction. Positions only grow
//! (cursors and seqs never go back), so two reads at one position saw the same records: the
//! position is the answer's version, its `ETag`, and the key of the read state's freshness.

use crate::error::StoreError;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How far the store holds each origin's change log (origin → last seq held).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub BTreeMap<String, u64>);

impl Position {
    /// Reads the position of the connection's current snapshot (call inside a transaction so
    /// it agrees with the rest of the read).
    pub fn read(c: &Connection) -> Result<Self, StoreError> {
        let mut out = BTreeMap::new();
        let mut st = c.prepare_cached("SELECT origin, seq FROM cursors")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            out.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64);
        }
        let meta = |k: &str| -> Result<Option<String>, StoreError> {
            Ok(c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([k], |r| r.get(0))
                .optional()?)
        };
        if let Some(me) = meta("server")? {
            let last = meta("last_seq")?.and_then(|l| l.parse().ok()).unwrap_or(0);
            out.insert(me, last);
        }
        Ok(Self(out))
    }

    /// Whether this position holds at least everything `other` holds.
    pub fn covers(&self, other: &Position) -> bool {
        other
            .0
            .iter()
            .all(|(o, s)| self.0.get(o).is_some_and(|mine| mine >= s))
    }

    /// The position as an entity tag (`"RS.77-WB.12345"`): equal tags, equal answers for one
    /// URL, since the records a read folds are a function of the position.
    pub fn etag(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(o, s)| format!("{o}.{s}")).collect();
        format!("\"{}\"", parts.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_covers_what_it_has_passed_and_tags_in_origin_order() {
        let p = |v: &[(&str, u64)]| Position(v.iter().map(|(o, s)| (o.to_string(), *s)).collect());
        let a = p(&[("WB", 10), ("RS", 3)]);
        assert!(a.covers(&p(&[("WB", 9)])));
        assert!(a.covers(&a));
        assert!(!a.covers(&p(&[("WB", 11)])));
        assert!(!a.covers(&p(&[("PA", 1)])));
        assert_eq!(a.etag(), "\"RS.3-WB.10\"");
    }
}

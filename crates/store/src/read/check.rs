//! Whole-store reads: record counts, the digest, and the invariant check over stored data.

use super::{bodies, ReadPool};
use crate::error::StoreError;
use crate::sql_view::night_text;

impl ReadPool {
    /// Counts of records by kind, for metrics and status.
    pub fn record_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind")?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// A digest of every record (kind, key, version, body): equal digests, equal databases.
    pub fn digest(&self) -> Result<String, StoreError> {
        use sha2::{Digest, Sha256};
        self.with(|c| {
            let mut h = Sha256::new();
            let mut st = c.prepare_cached(
                "SELECT kind, key, version, body FROM record_bodies ORDER BY kind, key",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                for i in 0..2 {
                    h.update(r.get::<_, String>(i)?.as_bytes());
                    h.update([0]);
                }
                h.update(r.get::<_, i64>(2)?.to_le_bytes());
                h.update(r.get::<_, String>(3)?.as_bytes());
                h.update([0]);
            }
            Ok(hex::encode(h.finalize()))
        })
    }

    /// Checks the stored derived counters against the records, from scratch: the store's
    /// own invariant check, used after crashes in tests and by `innsync check`.
    pub fn check_invariants(&self) -> Result<(), String> {
        let recs = self
            .with(|c| {
                bodies(
                    c,
                    "SELECT body FROM record_bodies ORDER BY kind, key",
                    [],
                    Some,
                )
            })
            .map_err(|e| e.to_string())?;
        let mut model = innsync_core::model::MemState::default();
        for r in recs {
            model.put(r);
        }
        model.check_invariants()?;
        // And the stored counters must equal the model's.
        let stored: Vec<(String, String, String, i64)> = self
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT property, room_type, night, SUM(units) FROM sold GROUP BY 1, 2, 3 HAVING SUM(units) != 0",
                )?;
                let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .map_err(|e| e.to_string())?;
        let mut expected: std::collections::BTreeMap<(String, String, String), i64> =
            Default::default();
        for b in model.bookings() {
            for d in innsync_core::stock::sold_deltas(None, b) {
                *expected
                    .entry((d.property, d.room_type, night_text(d.night)))
                    .or_default() += d.delta;
            }
        }
        let stored_map: std::collections::BTreeMap<_, _> = stored
            .into_iter()
            .map(|(p, t, n, u)| ((p, t, n), u))
            .collect();
        if stored_map != expected {
            return Err("stored sold counters differ from the bookings".into());
        }
        let stored: Vec<(String, String, String, String, i64)> = self
            .with(|c| {
                let mut st = c.prepare_cached(
                    "SELECT property, room_type, night, holder, units FROM allotments WHERE units != 0",
                )?;
                let rows = st.query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .map_err(|e| e.to_string())?;
        let stored: std::collections::BTreeMap<_, _> = stored
            .into_iter()
            .map(|(p, t, n, h, u)| ((p, t, n, h), u))
            .collect();
        let expected: std::collections::BTreeMap<_, _> = model
            .granted()
            .into_iter()
            .map(|((p, t, n, h), u)| ((p, t, night_text(n), h.to_string()), u))
            .collect();
        if stored != expected {
            return Err("stored allotment counters differ from the grants".into());
        }
        self.check_ledger()
    }
}

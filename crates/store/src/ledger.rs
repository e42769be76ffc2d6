//! The ledger in SQLite: the two small derived indexes [`crate::apply`] keeps for folio entries
//! and invoices (written once, like the records they index), the ledger's questions of the
//! core's `StateView`, the folio and invoice reads of the API, and the ledger's checks.
//!
//! A booking's entries are found by their key prefix (`BOOKING/`) on the records' primary key;
//! `ledger_entries` serves the reports (by property and business date) and `invoices` the
//! lookups by booking and series.

use crate::error::StoreError;
use crate::read::ReadPool;
use crate::view::night_text;
use chrono::NaiveDate;
use innsync_core::ledger::{FolioEntry, Invoice};
use innsync_core::{Booking, Record, RecordId, ServerCode};
use rusqlite::{params, Connection, OptionalExtension};

/// Indexes a folio entry for the reports, the first time it arrives.
pub(crate) fn index_entry(conn: &Connection, e: &FolioEntry) -> Result<(), StoreError> {
    let tax: i64 = e.taxes.iter().map(|t| t.amount).sum();
    conn.prepare_cached(
        "INSERT OR IGNORE INTO ledger_entries
            (id, booking, property, folio, kind, item, business_date, amount, tax, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        e.meta.id.as_str(),
        e.booking.as_str(),
        e.property,
        e.folio,
        e.kind.as_str(),
        e.item,
        night_text(e.business_date),
        e.amount,
        tax,
        e.meta.owner.to_string(),
    ])?;
    Ok(())
}

/// Indexes an invoice by booking and series, the first time it arrives.
pub(crate) fn index_invoice(conn: &Connection, i: &Invoice) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO invoices (number, booking, series, year, seq, total)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        i.number,
        i.booking.as_str(),
        i.series.as_str(),
        i.year,
        i.seq,
        i.total
    ])?;
    Ok(())
}

fn decoded<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    pick: impl Fn(Record) -> Option<T>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(p)?;
    let mut out = vec![];
    while let Some(row) = rows.next()? {
        let body: String = row.get(0)?;
        if let Some(t) = pick(serde_json::from_str(&body)?) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Every entry of a booking, by key (the booking's prefix of the records' primary key).
pub fn folio_entries(conn: &Connection, booking: &RecordId) -> Result<Vec<FolioEntry>, StoreError> {
    let mut entries = decoded(
        conn,
        "SELECT body FROM record_bodies WHERE kind = 'folio_entry' AND key >= ?1 AND key < ?2",
        params![format!("{booking}/"), format!("{booking}0")],
        |r| match r {
            Record::FolioEntry(e) => Some(e),
            _ => None,
        },
    )?;
    entries.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.meta.id.cmp(&b.meta.id)));
    Ok(entries)
}

/// Every invoice and credit note of a booking, by number.
pub fn invoices_of(conn: &Connection, booking: &RecordId) -> Result<Vec<Invoice>, StoreError> {
    decoded(
        conn,
        "SELECT r.body FROM invoices i JOIN record_bodies r ON r.kind = 'invoice' AND r.key = i.number
         WHERE i.booking = ?1 ORDER BY i.number",
        [booking.as_str()],
        |r| match r {
            Record::Invoice(i) => Some(i),
            _ => None,
        },
    )
}

/// The highest place taken in a series' year.
pub fn last_invoice_seq(
    conn: &Connection,
    series: &ServerCode,
    year: i32,
) -> Result<u32, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM invoices WHERE series = ?1 AND year = ?2")?
        .query_row(params![series.as_str(), year], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(seq.map_or(0, |s| u32::try_from(s).unwrap_or(u32::MAX)))
}

/// The bookings of a property staying on `night` (index `bookings_by_departure`).
pub fn bookings_staying(
    conn: &Connection,
    property: &str,
    night: NaiveDate,
    limit: usize,
) -> Result<Vec<Booking>, StoreError> {
    decoded(
        conn,
        "SELECT r.body FROM bookings b JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
         WHERE b.property = ?1 AND b.departure > ?2 AND +b.arrival <= ?2 ORDER BY b.id LIMIT ?3",
        params![property, night_text(night), limit as i64],
        |r| match r {
            Record::Booking(b) => Some(b),
            _ => None,
        },
    )
}

/// A booking's folio as this server holds it.
#[derive(Clone, Debug)]
pub struct Folio {
    /// Every entry, oldest first.
    pub entries: Vec<FolioEntry>,
    /// Its invoices and credit notes.
    pub invoices: Vec<Invoice>,
}

impl ReadPool {
    /// A booking's entries and invoices, read in one transaction.
    pub fn folio(&self, booking: &RecordId) -> Result<Folio, StoreError> {
        self.with(|c| {
            c.execute_batch("BEGIN")?;
            let out = (|| {
                Ok(Folio {
                    entries: folio_entries(c, booking)?,
                    invoices: invoices_of(c, booking)?,
                })
            })();
            c.execute_batch("COMMIT")?;
            out
        })
    }

    /// An invoice by number.
    pub fn invoice(&self, number: &str) -> Result<Option<Invoice>, StoreError> {
        Ok(match self.record("invoice", number)? {
            Some(Record::Invoice(i)) => Some(i),
            _ => None,
        })
    }

    /// Entries billed on two live invoices (issued on two servers offline, say), for
    /// `innsync check` to show: not a broken invariant, but a guest billed twice.
    pub fn double_billed(
        &self,
    ) -> Result<Vec<innsync_core::ledger::check::DoubleBilling>, StoreError> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT body FROM record_bodies WHERE kind = 'invoice'")?;
            let mut rows = stmt.query([])?;
            let mut all = vec![];
            while let Some(r) = rows.next()? {
                let body: String = r.get(0)?;
                if let Record::Invoice(i) = serde_json::from_str::<Record>(&body)? {
                    all.push(i);
                }
            }
            Ok(innsync_core::ledger::check::double_billed(&all))
        })
    }

    /// The ledger's stored checks beyond the model's: no entry or invoice was ever written
    /// in two different states (the change log keeps every state), and the derived indexes
    /// hold exactly the records.
    pub fn check_ledger(&self) -> Result<(), String> {
        self.with(|c| {
            let twice: Option<String> = c
                .query_row(
                    "SELECT record_id FROM changes WHERE kind IN ('folio_entry', 'invoice')
                     GROUP BY record_id HAVING COUNT(DISTINCT body) > 1 LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = twice {
                return Err(StoreError::Corrupt(format!(
                    "{id} was written in two different states; ledger records are written once"
                )));
            }
            let counts: (i64, i64, i64, i64) = c.query_row(
                "SELECT (SELECT COUNT(*) FROM records WHERE kind = 'folio_entry'),
                        (SELECT COUNT(*) FROM ledger_entries),
                        (SELECT COUNT(*) FROM records WHERE kind = 'invoice'),
                        (SELECT COUNT(*) FROM invoices)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            if counts.0 != counts.1 || counts.2 != counts.3 {
                return Err(StoreError::Corrupt(format!(
                    "ledger indexes differ from the records: {} entries indexed of {}, {} invoices of {}",
                    counts.1, counts.0, counts.3, counts.2
                )));
            }
            let mismatched: Option<String> = c
                .query_row(
                    "SELECT l.id FROM ledger_entries l JOIN record_bodies r
                       ON r.kind = 'folio_entry' AND r.key = l.booking || '/' || l.id
                     WHERE json_extract(r.body, '$.amount') != l.amount LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = mismatched {
                return Err(StoreError::Corrupt(format!(
                    "ledger index of {id} differs from the entry"
                )));
            }
            Ok(())
        })
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{apply_record, Applied, ChangeStamp, Novelty};
    use innsync_core::ledger::{EntryKind, EntrySource};
    use innsync_core::{Authority, Meta};

    fn entry(amount: i64) -> FolioEntry {
        let wb = ServerCode::parse("WB").unwrap();
        FolioEntry {
            meta: Meta::new(RecordId::new(&wb, 7), Authority::Server(wb), 1),
            booking: RecordId::parse("PA-000001").unwrap(),
            property: "KRL".into(),
            folio: "guest".into(),
            kind: EntryKind::Payment,
            amount,
            currency: "ZAR".into(),
            item: None,
            quantity: 1,
            taxes: vec![],
            description: "Payment (cash)".into(),
            method: None,
            reference: None,
            business_date: "2027-01-04".parse().unwrap(),
            night: None,
            source: EntrySource::Manual,
            corrects: None,
            counter_folio: None,
            author: "test".into(),
            at: "2027-01-04T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn an_entry_is_stored_once_and_a_second_state_of_it_never_applied() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::schema::open_writer(&dir.path().join("t.db")).unwrap();
        fn stamp(origin: &ServerCode, seq: u64) -> ChangeStamp<'_> {
            ChangeStamp {
                origin,
                seq,
                epoch: 1,
                at: "2027-01-04T10:00:00Z",
                actor: "test",
                action: "folio.payment",
                detail: "",
            }
        }
        let wb = ServerCode::parse("WB").unwrap();
        let rs = ServerCode::parse("RS").unwrap();
        let first = Record::FolioEntry(entry(-5_000));
        assert_eq!(
            apply_record(&conn, &first, &stamp(&wb, 1), Novelty::Unknown).unwrap(),
            Applied::Written
        );
        // The same entry again (a re-served copy) and a forged second state: neither changes it.
        let forged = Record::FolioEntry(FolioEntry {
            meta: Meta {
                version: 2,
                ..entry(0).meta
            },
            ..entry(-1)
        });
        for (rec, seq) in [(&first, 1), (&forged, 2)] {
            assert_eq!(
                apply_record(&conn, rec, &stamp(&rs, seq), Novelty::Unknown).unwrap(),
                Applied::Stale
            );
        }
        let stored = folio_entries(&conn, &RecordId::parse("PA-000001").unwrap()).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].amount, -5_000);
        let indexed: i64 = conn
            .query_row("SELECT SUM(amount) FROM ledger_entries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexed, -5_000);
    }
}

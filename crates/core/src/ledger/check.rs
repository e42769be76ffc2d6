//! The ledger's invariants, checked from the records alone (the model after every step, the
//! store's `check_invariants`, `innsync check`): entries and invoices are written once; a
//! correction nets exactly one entry of its booking; an entry's taxes are part of it; the
//! night audit charged each booking night at most once; an invoice's total is its lines' sum
//! and each line is its entry's amount. Balances need no check: they are never stored.

use super::{EntryKind, EntrySource, FolioEntry, Invoice};
use crate::ids::RecordId;
use std::collections::{BTreeMap, BTreeSet};

/// The first violation among one booking's entries, if any.
pub fn check_entries(entries: &[FolioEntry]) -> Result<(), String> {
    let by_id: BTreeMap<&RecordId, &FolioEntry> = entries.iter().map(|e| (&e.meta.id, e)).collect();
    let mut corrected: BTreeSet<&RecordId> = BTreeSet::new();
    let mut nights: BTreeSet<chrono::NaiveDate> = BTreeSet::new();
    for e in entries {
        if e.meta.version != 1 {
            return Err(format!(
                "folio entry {} is at version {}: entries are written once",
                e.meta.id, e.meta.version
            ));
        }
        let tax: i64 = e.taxes.iter().map(|t| t.amount).sum();
        if tax.abs() > e.amount.abs() || (tax != 0 && tax.signum() != e.amount.signum()) {
            return Err(format!(
                "folio entry {} has taxes {tax} that are not part of its amount {}",
                e.meta.id, e.amount
            ));
        }
        if e.source == EntrySource::NightAudit && e.kind == EntryKind::Charge {
            if let Some(n) = e.night {
                if !nights.insert(n) {
                    return Err(format!(
                        "booking {} has two room charges of the night audit for {n}",
                        e.booking
                    ));
                }
            }
        }
        match (&e.kind, &e.corrects) {
            (EntryKind::Correction, Some(c)) => {
                let Some(orig) = by_id.get(c) else {
                    // Its original may still be on its way from another server.
                    continue;
                };
                if orig.amount != -e.amount || orig.folio != e.folio {
                    return Err(format!(
                        "correction {} of {c} is {} on {} but the entry is {} on {}",
                        e.meta.id, e.amount, e.folio, orig.amount, orig.folio
                    ));
                }
                if !corrected.insert(c) {
                    return Err(format!("entry {c} is corrected twice"));
                }
            }
            (EntryKind::Correction, None) => {
                return Err(format!("correction {} names no entry", e.meta.id))
            }
            (_, Some(_)) => {
                return Err(format!(
                    "entry {} is not a correction but corrects one",
                    e.meta.id
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The first violation of an invoice, if any, against the entries of its booking.
pub fn check_invoice(invoice: &Invoice, entries: &[FolioEntry]) -> Result<(), String> {
    if invoice.meta.version != 1 {
        return Err(format!(
            "invoice {} is at version {}: an invoice is never changed",
            invoice.number, invoice.meta.version
        ));
    }
    let by_id: BTreeMap<&RecordId, &FolioEntry> = entries.iter().map(|e| (&e.meta.id, e)).collect();
    match super::invoice::check_against_entries(invoice, |id| by_id.get(id).map(|e| (*e).clone())) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Entries billed twice: one entry on two invoices, neither cancelled by a credit note. Servers
/// issue invoices offline, each in its own series, so two of them may bill the same folio
/// before they hear of each other; nothing is corrupt, but the guest would pay twice, so
/// `innsync check` shows each case for an operator to credit one of the invoices.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DoubleBilling {
    /// The entry.
    pub entry: RecordId,
    /// Its booking.
    pub booking: RecordId,
    /// The invoices (numbers, in order) that bill it.
    pub invoices: Vec<String>,
}

/// Every entry billed on more than one live invoice (one not credited), in entry order.
pub fn double_billed(invoices: &[Invoice]) -> Vec<DoubleBilling> {
    let credited: BTreeSet<&str> = invoices
        .iter()
        .filter(|i| i.kind == super::InvoiceKind::CreditNote)
        .filter_map(|i| i.credits.as_deref())
        .collect();
    let mut billed: BTreeMap<&RecordId, (&RecordId, BTreeSet<&str>)> = BTreeMap::new();
    for i in invoices {
        if i.kind != super::InvoiceKind::Invoice || credited.contains(i.number.as_str()) {
            continue;
        }
        for l in &i.lines {
            billed
                .entry(&l.entry)
                .or_insert_with(|| (&i.booking, BTreeSet::new()))
                .1
                .insert(i.number.as_str());
        }
    }
    billed
        .into_iter()
        .filter(|(_, (_, on))| on.len() > 1)
        .map(|(entry, (booking, on))| DoubleBilling {
            entry: entry.clone(),
            booking: booking.clone(),
            invoices: on.into_iter().map(str::to_string).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Authority, ServerCode};
    use crate::ledger::{InvoiceKind, InvoiceLine};
    use crate::record::Meta;
    use chrono::{TimeZone, Utc};

    fn invoice(
        server: &str,
        seq: u32,
        kind: InvoiceKind,
        entries: &[&str],
        credits: Option<&str>,
    ) -> Invoice {
        let series = ServerCode::parse(server).unwrap();
        let n = Invoice::number_for(&series, 2027, seq);
        Invoice {
            meta: Meta::new(
                RecordId::parse(&format!("{server}-{:06}", 900 + seq)).unwrap(),
                Authority::Server(series.clone()),
                1,
            ),
            number: n,
            series,
            year: 2027,
            seq,
            kind,
            credits: credits.map(str::to_string),
            booking: RecordId::parse("LG-000001").unwrap(),
            property: "P".into(),
            folio: "guest".into(),
            bill_to: "Ann".into(),
            currency: "EUR".into(),
            lines: entries
                .iter()
                .map(|e| InvoiceLine {
                    entry: RecordId::parse(e).unwrap(),
                    date: "2027-01-02".parse().unwrap(),
                    kind: EntryKind::Charge,
                    settles: false,
                    description: "x".into(),
                    amount: 100,
                    taxes: vec![],
                })
                .collect(),
            total: 100 * entries.len() as i64,
            paid: 0,
            tax_total: 0,
            reason: None,
            business_date: "2027-01-02".parse().unwrap(),
            issued_by: "a".into(),
            issued_at: Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn an_entry_on_two_live_invoices_is_found_and_a_credit_note_clears_it() {
        let lodge = invoice(
            "LG",
            1,
            InvoiceKind::Invoice,
            &["LG-000010", "LG-000011"],
            None,
        );
        let office = invoice("OF", 1, InvoiceKind::Invoice, &["LG-000011"], None);
        let found = double_billed(&[lodge.clone(), office.clone()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].entry.as_str(), "LG-000011");
        assert_eq!(found[0].invoices, vec!["LG-2027-000001", "OF-2027-000001"]);
        let credit = invoice(
            "OF",
            2,
            InvoiceKind::CreditNote,
            &["LG-000011"],
            Some("OF-2027-000001"),
        );
        assert!(double_billed(&[lodge, office, credit]).is_empty());
    }
}

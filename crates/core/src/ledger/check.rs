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

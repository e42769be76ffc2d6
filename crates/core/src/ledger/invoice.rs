//! Invoices from a folio: which entries an invoice takes (those of the folio not on a live
//! invoice yet), its lines and totals, and the credit note that cancels one.

use super::{FolioEntry, Invoice, InvoiceKind, InvoiceLine};
use crate::ids::RecordId;
use std::collections::BTreeSet;

/// The entries of `folio` that no live invoice (one without a credit note) bills yet, in the
/// order given.
pub fn invoiceable<'a>(
    entries: &'a [FolioEntry],
    invoices: &[Invoice],
    folio: &str,
) -> Vec<&'a FolioEntry> {
    let credited: BTreeSet<&str> = invoices
        .iter()
        .filter_map(|i| i.credits.as_deref())
        .collect();
    let billed: BTreeSet<&RecordId> = invoices
        .iter()
        .filter(|i| i.kind == InvoiceKind::Invoice && !credited.contains(i.number.as_str()))
        .flat_map(|i| i.lines.iter().map(|l| &l.entry))
        .collect();
    entries
        .iter()
        .filter(|e| e.folio == folio && !billed.contains(&e.meta.id))
        .collect()
}

/// An invoice line copying an entry; `settles` says whether it moves money (see
/// [`super::balance::settles`]).
pub fn line_of(e: &FolioEntry, settles: bool) -> InvoiceLine {
    InvoiceLine {
        entry: e.meta.id.clone(),
        date: e.business_date,
        kind: e.kind,
        settles,
        description: e.description.clone(),
        amount: e.amount,
        taxes: e.taxes.clone(),
    }
}

/// The totals of some lines: (billed, tax, paid).
pub fn totals(lines: &[InvoiceLine]) -> (i64, i64, i64) {
    let total = lines.iter().filter(|l| !l.settles).map(|l| l.amount).sum();
    let paid = -lines
        .iter()
        .filter(|l| l.settles)
        .map(|l| l.amount)
        .sum::<i64>();
    let tax = lines
        .iter()
        .flat_map(|l| l.taxes.iter())
        .map(|t| t.amount)
        .sum();
    (total, tax, paid)
}

/// The lines of a credit note: every line of the invoice, negated.
pub fn credit_lines(invoice: &Invoice) -> Vec<InvoiceLine> {
    invoice
        .lines
        .iter()
        .map(|l| InvoiceLine {
            amount: -l.amount,
            taxes: l
                .taxes
                .iter()
                .map(|t| super::TaxLine {
                    amount: -t.amount,
                    ..t.clone()
                })
                .collect(),
            ..l.clone()
        })
        .collect()
}

/// What is wrong with an invoice against the entries it bills, if anything: every line must
/// copy its entry's amount (negated on a credit note) and the totals must add up.
pub fn check_against_entries(
    invoice: &Invoice,
    entry: impl Fn(&RecordId) -> Option<FolioEntry>,
) -> Option<String> {
    if let Some(e) = invoice.arithmetic_error() {
        return Some(e);
    }
    let sign = match invoice.kind {
        InvoiceKind::Invoice => 1,
        InvoiceKind::CreditNote => -1,
    };
    for l in &invoice.lines {
        match entry(&l.entry) {
            None => {
                return Some(format!(
                    "invoice {} bills entry {} which is not here",
                    invoice.number, l.entry
                ))
            }
            Some(e) if e.amount * sign != l.amount => {
                return Some(format!(
                    "invoice {} bills entry {} at {} but the entry is {}",
                    invoice.number, l.entry, l.amount, e.amount
                ))
            }
            Some(_) => {}
        }
    }
    None
}

//! Invoices and credit notes: numbered without gaps in this server's own series per year,
//! billing what a folio has not billed yet, immutable once issued; a credit note cancels one.

use super::entries::{booking_of, business_date, folio_name, invalid, no_card_number, property_of};
use super::MAX_INVOICE_SEQ;
use crate::decide::{fresh, validate, Ctx, Decision};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::ledger::balance::settles;
use crate::ledger::invoice::{credit_lines, invoiceable, line_of, totals};
use crate::ledger::{EntryKind, Invoice, InvoiceKind};
use crate::limits::{MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::record::{Record, RecordKind};
use crate::view::StateView;
use chrono::Datelike;
use std::collections::BTreeMap;

/// The next number of this server's series in `year`.
pub(in crate::decide) fn next_number(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    year: i32,
) -> Result<(u32, String), DomainError> {
    let seq = view.last_invoice_seq(ctx.server, year)? + 1;
    if seq > MAX_INVOICE_SEQ {
        return Err(invalid(format!(
            "invoice series {} {year} is full ({MAX_INVOICE_SEQ} numbers)",
            ctx.server
        )));
    }
    let number = Invoice::number_for(ctx.server, year, seq);
    if view.record(RecordKind::Invoice, &number)?.is_some() {
        return Err(DomainError::Storage(crate::view::ViewError(format!(
            "invoice {number} exists but is not the highest of its series"
        ))));
    }
    Ok((seq, number))
}

/// Decides `IssueInvoice`: the next number of this server's series, billing what is unbilled.
pub(in crate::decide) fn issue(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    booking: &RecordId,
    folio: Option<&str>,
    bill_to: Option<&str>,
) -> Result<Decision, DomainError> {
    let b = booking_of(view, booking)?;
    let p = property_of(view, &b.property)?;
    let folio = folio_name(folio)?;
    let bill_to = bill_to.map_or_else(|| b.guest_name.clone(), |s| s.trim().to_string());
    validate::name("bill_to", &bill_to)?;
    no_card_number("bill_to", &bill_to, MAX_NAME_LEN)?;
    let entries = view.folio_entries(&b.meta.id)?;
    let invoices = view.invoices_of(&b.meta.id)?;
    let open = invoiceable(&entries, &invoices, &folio);
    if open.is_empty() {
        return Err(invalid(format!(
            "folio {folio} of {booking} has no entries that are not on an invoice yet"
        )));
    }
    let currency = match p.currency.clone() {
        Some(c) => c,
        None => open[0].currency.clone(),
    };
    let (date, _) = business_date(view, ctx, &p)?;
    let (seq, number) = next_number(view, ctx, date.year())?;
    let kinds: BTreeMap<&RecordId, EntryKind> =
        entries.iter().map(|e| (&e.meta.id, e.kind)).collect();
    let lines: Vec<_> = open
        .iter()
        .map(|e| line_of(e, settles(e, &kinds)))
        .collect();
    let (total, tax_total, paid) = totals(&lines);
    let inv = Invoice {
        meta: fresh(ids, Authority::Server(ctx.server.clone())),
        number: number.clone(),
        series: ctx.server.clone(),
        year: date.year(),
        seq,
        kind: InvoiceKind::Invoice,
        credits: None,
        booking: b.meta.id.clone(),
        property: p.code.clone(),
        folio,
        bill_to,
        currency,
        lines,
        total,
        paid,
        tax_total,
        reason: None,
        business_date: date,
        issued_by: ctx.actor.to_string(),
        issued_at: ctx.now,
    };
    if let Some(e) = inv.arithmetic_error() {
        return Err(DomainError::Storage(crate::view::ViewError(e)));
    }
    let detail = format!(
        "invoice {number} for {} folio {}: {} {} ({} lines)",
        inv.booking,
        inv.folio,
        inv.total,
        inv.currency,
        inv.lines.len()
    );
    Ok(Decision::one(Record::Invoice(inv), "invoice.issue", detail))
}

/// Decides `IssueCreditNote`: cancels an issued invoice with a credit note in this series.
pub(in crate::decide) fn credit(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    number: &str,
    reason: &str,
) -> Result<Decision, DomainError> {
    validate::name("reason", reason)?;
    no_card_number("reason", reason, MAX_TEXT_LEN)?;
    let orig = match view.record(RecordKind::Invoice, number)? {
        Some(Record::Invoice(i)) => i,
        _ => return Err(DomainError::NotFound(format!("invoice {number}"))),
    };
    if orig.kind == InvoiceKind::CreditNote {
        return Err(invalid(format!(
            "{number} is a credit note; it cannot be credited"
        )));
    }
    if let Some(cn) = view
        .invoices_of(&orig.booking)?
        .into_iter()
        .find(|i| i.credits.as_deref() == Some(number))
    {
        return Err(DomainError::AlreadyExists(format!(
            "credit note {} of invoice {number}",
            cn.number
        )));
    }
    let p = property_of(view, &orig.property)?;
    let (date, _) = business_date(view, ctx, &p)?;
    let (seq, new_number) = next_number(view, ctx, date.year())?;
    let lines = credit_lines(&orig);
    let (total, tax_total, paid) = totals(&lines);
    let cn = Invoice {
        meta: fresh(ids, Authority::Server(ctx.server.clone())),
        number: new_number.clone(),
        series: ctx.server.clone(),
        year: date.year(),
        seq,
        kind: InvoiceKind::CreditNote,
        credits: Some(orig.number.clone()),
        booking: orig.booking.clone(),
        property: orig.property.clone(),
        folio: orig.folio.clone(),
        bill_to: orig.bill_to.clone(),
        currency: orig.currency.clone(),
        lines,
        total,
        paid,
        tax_total,
        reason: Some(reason.trim().to_string()),
        business_date: date,
        issued_by: ctx.actor.to_string(),
        issued_at: ctx.now,
    };
    let detail = format!(
        "credit note {new_number} cancels invoice {number}: {}",
        reason.trim()
    );
    Ok(Decision::one(
        Record::Invoice(cn),
        "invoice.credit_note",
        detail,
    ))
}

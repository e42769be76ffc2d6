//! Deciding the ledger's commands: charges, payments, corrections and transfers on a booking's
//! folios, the charge catalogue, invoices and credit notes, and the night audit.
//!
//! Entries, invoices and business days are owned by the server that writes them (never `env`:
//! a payment taken on the master is not held up by a handover and never fenced), and any
//! server may add entries to a booking it holds, like a note. Only the night audit needs the
//! booking's owner: it writes room nights and no-shows for the bookings this server writes.

use super::{bumped, fresh, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::command::Command;
use crate::dates::{local_date, parse_tz};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::ledger::audit::{plan, room_price, AuditAction};
use crate::ledger::balance::settles;
use crate::ledger::decide_input::{ChargeInput, PaymentInput};
use crate::ledger::invoice::{credit_lines, invoiceable, line_of, totals};
use crate::ledger::pan::looks_like_pan;
use crate::ledger::policy::{cancellation_policy, fee_text, no_show_fee};
use crate::ledger::{
    split, BusinessDay, ChargeCatalog, ChargeItem, EntryKind, EntrySource, FolioEntry, Invoice,
    InvoiceKind, TaxCode, TaxLine, GUEST_FOLIO, MAX_AUDIT_BOOKINGS, MAX_CATALOG_ITEMS,
    MAX_ENTRIES_PER_BOOKING, MAX_ENTRY_AMOUNT, MAX_FOLIOS, MAX_QUANTITY, MAX_TAX_BP, ROOM_ITEM,
};
use crate::limits::{MAX_NAME_LEN, MAX_TEXT_LEN};
use crate::record::{Booking, BookingStatus, Meta, Property, Record, RecordKind};
use crate::view::StateView;
use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

/// Highest place in one server's invoice series of a year (six digits).
pub const MAX_INVOICE_SEQ: u32 = 999_999;
/// Longest folio name.
pub const MAX_FOLIO_NAME: usize = 16;

/// Decides a ledger command.
pub(super) fn decide(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::PostCharge(c) => charge(view, ids, ctx, c),
        Command::TakePayment(p) => payment(view, ids, ctx, p),
        Command::CorrectEntry {
            booking,
            entry,
            reason,
        } => correct(view, ids, ctx, booking, entry, reason),
        Command::TransferBetweenFolios {
            booking,
            from,
            to,
            amount,
        } => transfer(view, ids, ctx, booking, from, to, *amount),
        Command::SetChargeCatalog {
            property,
            taxes,
            items,
        } => catalog(view, ids, ctx, property, taxes, items),
        Command::IssueInvoice {
            booking,
            folio,
            bill_to,
        } => issue(
            view,
            ids,
            ctx,
            booking,
            folio.as_deref(),
            bill_to.as_deref(),
        ),
        Command::IssueCreditNote { number, reason } => credit(view, ids, ctx, number, reason),
        Command::RunNightAudit {
            property,
            business_date,
            mark_no_shows,
        } => night_audit(view, ids, ctx, property, *business_date, *mark_no_shows),
        other => Err(DomainError::InvalidInput(format!(
            "{} is not a ledger command",
            other.name()
        ))),
    }
}

fn invalid(msg: String) -> DomainError {
    DomainError::InvalidInput(msg)
}

pub(super) fn booking_of(view: &dyn StateView, id: &RecordId) -> Result<Booking, DomainError> {
    view.booking(id)?
        .ok_or_else(|| DomainError::NotFound(format!("booking {id}")))
}

pub(super) fn property_of(view: &dyn StateView, code: &str) -> Result<Property, DomainError> {
    view.property(code)?
        .ok_or_else(|| DomainError::NotFound(format!("property {code}")))
}

/// The property's currency: every amount of its ledger is in it.
pub(super) fn currency_of(p: &Property) -> Result<String, DomainError> {
    p.currency.clone().ok_or_else(|| {
        invalid(format!(
            "property {} has no currency yet; set a rate (or create it with a currency) first",
            p.code
        ))
    })
}

fn same_currency(p: &Property, given: &str) -> Result<String, DomainError> {
    let cur = currency_of(p)?;
    if given != cur {
        return Err(invalid(format!(
            "currency must be {cur}, the currency of property {}; got {given:?}",
            p.code
        )));
    }
    Ok(cur)
}

/// A folio name: 1–16 lower-case letters, digits, `-` or `_`; the guest folio by default.
fn folio_name(v: Option<&str>) -> Result<String, DomainError> {
    let name = v.unwrap_or(GUEST_FOLIO);
    let ok = !name.is_empty()
        && name.len() <= MAX_FOLIO_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(invalid(format!(
            "folio must be 1 to {MAX_FOLIO_NAME} lower-case letters, digits, - or _ (guest, company, agent); got {name:?}"
        )))
    }
}

/// Free text that may never hold a card number.
fn no_card_number(field: &str, v: &str, max: usize) -> Result<(), DomainError> {
    validate::text(field, v, max)?;
    if looks_like_pan(v) {
        return Err(invalid(format!(
            "{field} looks like a card number; innsync records card payments without card numbers (give at most the last four digits)"
        )));
    }
    Ok(())
}

fn positive_amount(field: &str, v: i64) -> Result<(), DomainError> {
    if v <= 0 || v > MAX_ENTRY_AMOUNT {
        return Err(invalid(format!(
            "{field} must be between 1 and {MAX_ENTRY_AMOUNT} minor units; got {v}"
        )));
    }
    Ok(())
}

/// The open business date of a property on this server: its audit's, else today there.
pub(super) fn business_date(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    p: &Property,
) -> Result<(NaiveDate, Option<BusinessDay>), DomainError> {
    let key = format!("{}/{}", p.code, ctx.server);
    let day = match view.record(RecordKind::BusinessDay, &key)? {
        Some(Record::BusinessDay(d)) => Some(d),
        _ => None,
    };
    let date = match &day {
        Some(d) => d.date,
        None => local_date(ctx.now, parse_tz(&p.timezone).map_err(invalid)?),
    };
    Ok((date, day))
}

fn catalog_of(view: &dyn StateView, property: &str) -> Result<Option<ChargeCatalog>, DomainError> {
    Ok(match view.record(RecordKind::ChargeCatalog, property)? {
        Some(Record::ChargeCatalog(c)) => Some(c),
        _ => None,
    })
}

/// Refuses an entry that would take the booking beyond the ledger's limits.
fn room_for(entries: &[FolioEntry], folios: &[&str], adding: usize) -> Result<(), DomainError> {
    if entries.len() + adding > MAX_ENTRIES_PER_BOOKING {
        return Err(invalid(format!(
            "the booking has {} folio entries; at most {MAX_ENTRIES_PER_BOOKING} allowed",
            entries.len()
        )));
    }
    let mut names: BTreeSet<&str> = entries.iter().map(|e| e.folio.as_str()).collect();
    names.insert(GUEST_FOLIO);
    names.extend(folios.iter().copied());
    if names.len() > MAX_FOLIOS {
        return Err(invalid(format!(
            "a booking has at most {MAX_FOLIOS} folios"
        )));
    }
    Ok(())
}

/// A new entry's identity: owned by this server.
pub(super) fn entry_meta(ids: &mut dyn IdSource, ctx: &Ctx<'_>) -> Meta {
    fresh(ids, Authority::Server(ctx.server.clone()))
}

fn tax_line(split_tax: i64, code: Option<&TaxCode>) -> Vec<TaxLine> {
    match code {
        Some(t) if split_tax != 0 => vec![TaxLine {
            code: t.code.clone(),
            rate_bp: t.rate_bp,
            amount: split_tax,
        }],
        _ => vec![],
    }
}

pub(super) fn entry_decision(entries: Vec<FolioEntry>, action: &str) -> Decision {
    let audit = entries
        .iter()
        .map(|e| AuditEntry {
            action: action.to_string(),
            record: e.meta.id.clone(),
            detail: format!(
                "{} {} {} on {}/{}: {}",
                e.kind.as_str(),
                e.amount,
                e.currency,
                e.booking,
                e.folio,
                e.description
            ),
        })
        .collect();
    let mut records: Vec<Record> = entries.into_iter().map(Record::FolioEntry).collect();
    let first = records.remove(0);
    let mut writes = vec![first.clone()];
    writes.extend(records.iter().cloned());
    Decision {
        writes,
        outcome: Outcome::Written {
            record: first,
            related: records,
        },
        audit,
    }
}

pub(super) fn charge(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    c: &ChargeInput,
) -> Result<Decision, DomainError> {
    let b = booking_of(view, &c.booking)?;
    let p = property_of(view, &b.property)?;
    let currency = match &c.currency {
        Some(cur) => same_currency(&p, cur)?,
        None => currency_of(&p)?,
    };
    let folio = folio_name(c.folio.as_deref())?;
    if c.quantity == 0 || c.quantity > MAX_QUANTITY {
        return Err(invalid(format!(
            "quantity must be between 1 and {MAX_QUANTITY}; got {}",
            c.quantity
        )));
    }
    let cat = catalog_of(view, &p.code)?;
    let item: Option<ChargeItem> = match &c.item {
        Some(code) => Some(
            cat.as_ref()
                .and_then(|k| k.item(code))
                .cloned()
                .ok_or_else(|| {
                    invalid(format!(
                        "item {code:?} is not in the charge catalogue of {}",
                        p.code
                    ))
                })?,
        ),
        None => None,
    };
    let tax: Option<TaxCode> = match item.as_ref().and_then(|i| i.tax.as_deref()) {
        Some(code) => Some(
            cat.as_ref()
                .and_then(|k| k.tax(code))
                .cloned()
                .ok_or_else(|| invalid(format!("tax code {code:?} is not in the catalogue")))?,
        ),
        None => None,
    };
    let unit = c
        .amount
        .or_else(|| item.as_ref().and_then(|i| i.price))
        .ok_or_else(|| invalid("amount is required for a charge without a priced item".into()))?;
    positive_amount("amount", unit)?;
    let total = unit
        .checked_mul(i64::from(c.quantity))
        .filter(|t| *t <= MAX_ENTRY_AMOUNT)
        .ok_or_else(|| {
            invalid(format!(
                "amount × quantity exceeds {MAX_ENTRY_AMOUNT} minor units"
            ))
        })?;
    let description = match (&c.description, &item) {
        (Some(d), _) => d.trim().to_string(),
        (None, Some(i)) => i.name.clone(),
        (None, None) => "Charge".to_string(),
    };
    validate::name("description", &description)?;
    no_card_number("description", &description, MAX_NAME_LEN)?;
    let entries = view.folio_entries(&b.meta.id)?;
    room_for(&entries, &[&folio], 1)?;
    let (date, _) = business_date(view, ctx, &p)?;
    let s = split(total, tax.as_ref());
    let e = FolioEntry {
        meta: entry_meta(ids, ctx),
        booking: b.meta.id.clone(),
        property: p.code.clone(),
        folio,
        kind: EntryKind::Charge,
        amount: s.gross,
        currency,
        item: item.map(|i| i.code),
        quantity: c.quantity,
        taxes: tax_line(s.tax, tax.as_ref()),
        description,
        method: None,
        reference: None,
        business_date: date,
        night: None,
        source: c.source,
        corrects: None,
        counter_folio: None,
        author: ctx.actor.to_string(),
        at: ctx.now,
    };
    Ok(entry_decision(vec![e], "folio.charge"))
}

fn payment(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    pi: &PaymentInput,
) -> Result<Decision, DomainError> {
    let b = booking_of(view, &pi.booking)?;
    let p = property_of(view, &b.property)?;
    let currency = same_currency(&p, &pi.currency)?;
    let folio = folio_name(pi.folio.as_deref())?;
    positive_amount("amount", pi.amount)?;
    let amount = match pi.kind {
        EntryKind::Deposit | EntryKind::Payment => -pi.amount,
        EntryKind::Refund => pi.amount,
        other => {
            return Err(invalid(format!(
                "kind must be deposit, payment or refund; got {}",
                other.as_str()
            )))
        }
    };
    if let Some(r) = &pi.reference {
        no_card_number("reference", r, MAX_NAME_LEN)?;
    }
    let entries = view.folio_entries(&b.meta.id)?;
    room_for(&entries, &[&folio], 1)?;
    let (date, _) = business_date(view, ctx, &p)?;
    let kind_name = match pi.kind {
        EntryKind::Deposit => "Deposit",
        EntryKind::Refund => "Refund",
        _ => "Payment",
    };
    let e = FolioEntry {
        meta: entry_meta(ids, ctx),
        booking: b.meta.id.clone(),
        property: p.code.clone(),
        folio,
        kind: pi.kind,
        amount,
        currency,
        item: None,
        quantity: 1,
        taxes: vec![],
        description: format!("{kind_name} ({})", pi.method.as_str().replace('_', " ")),
        method: Some(pi.method),
        reference: pi.reference.as_ref().map(|r| r.trim().to_string()),
        business_date: date,
        night: None,
        source: EntrySource::Manual,
        corrects: None,
        counter_folio: None,
        author: ctx.actor.to_string(),
        at: ctx.now,
    };
    let money_in = matches!(pi.kind, EntryKind::Deposit | EntryKind::Payment);
    let confirmed = if pi.confirm_when_paid && money_in {
        let mut after = entries;
        after.push(e.clone());
        super::deposits::confirmed_by_deposit(view, ctx, &b, &after)?
    } else {
        None
    };
    let mut d = entry_decision(vec![e], "folio.payment");
    if let Some((next, audit)) = confirmed {
        d.writes.push(Record::Booking(next.clone()));
        d.audit.push(audit);
        if let Outcome::Written { related, .. } = &mut d.outcome {
            related.push(Record::Booking(next));
        }
    }
    Ok(d)
}

fn correct(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    booking: &RecordId,
    entry: &RecordId,
    reason: &str,
) -> Result<Decision, DomainError> {
    let b = booking_of(view, booking)?;
    let p = property_of(view, &b.property)?;
    validate::name("reason", reason)?;
    no_card_number("reason", reason, MAX_TEXT_LEN)?;
    let entries = view.folio_entries(&b.meta.id)?;
    let orig = entries
        .iter()
        .find(|e| &e.meta.id == entry)
        .ok_or_else(|| DomainError::NotFound(format!("entry {entry} on booking {booking}")))?;
    match orig.kind {
        EntryKind::Correction => {
            return Err(invalid(format!(
                "{entry} is itself a correction; post the entry again instead"
            )))
        }
        EntryKind::Transfer => {
            return Err(invalid(format!(
                "{entry} is one side of a transfer; transfer the amount back instead"
            )))
        }
        _ => {}
    }
    if let Some(c) = entries.iter().find(|e| e.corrects.as_ref() == Some(entry)) {
        return Err(DomainError::AlreadyExists(format!(
            "a correction of {entry} ({})",
            c.meta.id
        )));
    }
    let invoices = view.invoices_of(&b.meta.id)?;
    let open = invoiceable(&entries, &invoices, &orig.folio);
    if !open.iter().any(|e| &e.meta.id == entry) {
        return Err(DomainError::InvalidTransition(format!(
            "{entry} is billed on an issued invoice; issue a credit note for it first"
        )));
    }
    room_for(&entries, &[], 1)?;
    let (date, _) = business_date(view, ctx, &p)?;
    let e = FolioEntry {
        meta: entry_meta(ids, ctx),
        booking: b.meta.id.clone(),
        property: p.code.clone(),
        folio: orig.folio.clone(),
        kind: EntryKind::Correction,
        amount: -orig.amount,
        currency: orig.currency.clone(),
        item: orig.item.clone(),
        quantity: orig.quantity,
        taxes: orig
            .taxes
            .iter()
            .map(|t| TaxLine {
                amount: -t.amount,
                ..t.clone()
            })
            .collect(),
        description: format!("Correction of {}: {}", orig.description, reason.trim()),
        method: orig.method,
        reference: None,
        business_date: date,
        night: None,
        source: EntrySource::Manual,
        corrects: Some(orig.meta.id.clone()),
        counter_folio: None,
        author: ctx.actor.to_string(),
        at: ctx.now,
    };
    Ok(entry_decision(vec![e], "folio.correction"))
}

#[allow(
    clippy::too_many_arguments,
    reason = "the command's fields, passed as they are"
)]
fn transfer(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    booking: &RecordId,
    from: &str,
    to: &str,
    amount: i64,
) -> Result<Decision, DomainError> {
    let b = booking_of(view, booking)?;
    let p = property_of(view, &b.property)?;
    let currency = currency_of(&p)?;
    let from = folio_name(Some(from))?;
    let to = folio_name(Some(to))?;
    if from == to {
        return Err(invalid(
            "a transfer goes between two different folios".into(),
        ));
    }
    positive_amount("amount", amount)?;
    let entries = view.folio_entries(&b.meta.id)?;
    room_for(&entries, &[&from, &to], 2)?;
    let (date, _) = business_date(view, ctx, &p)?;
    let leg = |ids: &mut dyn IdSource, folio: &str, other: &str, amount: i64| FolioEntry {
        meta: entry_meta(ids, ctx),
        booking: b.meta.id.clone(),
        property: p.code.clone(),
        folio: folio.to_string(),
        kind: EntryKind::Transfer,
        amount,
        currency: currency.clone(),
        item: None,
        quantity: 1,
        taxes: vec![],
        description: if amount < 0 {
            format!("Transfer to {other}")
        } else {
            format!("Transfer from {other}")
        },
        method: None,
        reference: None,
        business_date: date,
        night: None,
        source: EntrySource::Manual,
        corrects: None,
        counter_folio: Some(other.to_string()),
        author: ctx.actor.to_string(),
        at: ctx.now,
    };
    let out = leg(ids, &from, &to, -amount);
    let inn = leg(ids, &to, &from, amount);
    Ok(entry_decision(vec![out, inn], "folio.transfer"))
}

fn catalog(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    property: &str,
    taxes: &[TaxCode],
    items: &[ChargeItem],
) -> Result<Decision, DomainError> {
    let p = property_of(view, property)?;
    let owner = ctx.property_authority(&p.code);
    ctx.ensure_writable(&owner)?;
    if taxes.len() > MAX_CATALOG_ITEMS || items.len() > MAX_CATALOG_ITEMS {
        return Err(invalid(format!(
            "a catalogue holds at most {MAX_CATALOG_ITEMS} items and {MAX_CATALOG_ITEMS} tax codes"
        )));
    }
    let mut tax_codes = BTreeSet::new();
    for t in taxes {
        validate::code("tax code", &t.code)?;
        validate::name("tax name", &t.name)?;
        if t.rate_bp > MAX_TAX_BP {
            return Err(invalid(format!(
                "tax {} rate is {} basis points; at most {MAX_TAX_BP}",
                t.code, t.rate_bp
            )));
        }
        if !tax_codes.insert(t.code.as_str()) {
            return Err(invalid(format!("tax code {} appears twice", t.code)));
        }
    }
    let mut item_codes = BTreeSet::new();
    for i in items {
        validate::code("item code", &i.code)?;
        validate::name("item name", &i.name)?;
        validate::code("item group", &i.group.to_ascii_uppercase())?;
        if let Some(pr) = i.price {
            if !(0..=MAX_ENTRY_AMOUNT).contains(&pr) {
                return Err(invalid(format!(
                    "item {} price must be between 0 and {MAX_ENTRY_AMOUNT}",
                    i.code
                )));
            }
        }
        if let Some(t) = &i.tax {
            if !tax_codes.contains(t.as_str()) {
                return Err(invalid(format!(
                    "item {} names tax {t}, which the catalogue does not define",
                    i.code
                )));
            }
        }
        if !item_codes.insert(i.code.as_str()) {
            return Err(invalid(format!("item code {} appears twice", i.code)));
        }
    }
    let meta = match catalog_of(view, &p.code)? {
        Some(old) => {
            let mut m = bumped(&old.meta);
            m.owner = owner;
            m
        }
        None => fresh(ids, owner),
    };
    let cat = ChargeCatalog {
        meta,
        property: p.code.clone(),
        taxes: taxes.to_vec(),
        items: items.to_vec(),
    };
    let detail = format!(
        "charge catalogue of {}: {} items, {} tax codes",
        p.code,
        items.len(),
        taxes.len()
    );
    Ok(Decision::one(
        Record::ChargeCatalog(cat),
        "catalog.set",
        detail,
    ))
}

/// The next number of this server's series in `year`.
fn next_number(
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

fn issue(
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

fn credit(
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

#[allow(
    clippy::too_many_lines,
    reason = "one decision read top to bottom: its checks and the records it writes; split when it next grows"
)]
fn night_audit(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    property: &str,
    asked: Option<NaiveDate>,
    mark_no_shows: bool,
) -> Result<Decision, DomainError> {
    let p = property_of(view, property)?;
    let tz = parse_tz(&p.timezone).map_err(invalid)?;
    let today = local_date(ctx.now, tz);
    let (open_date, day) = business_date(view, ctx, &p)?;
    let date = asked.unwrap_or(open_date);
    if date > today {
        return Err(invalid(format!(
            "business date {date} has not begun at {}: today there is {today}",
            p.code
        )));
    }
    let staying = view.bookings_staying(&p.code, date, MAX_AUDIT_BOOKINGS + 1)?;
    if staying.len() > MAX_AUDIT_BOOKINGS {
        return Err(invalid(format!(
            "more than {MAX_AUDIT_BOOKINGS} bookings at {} on {date}: the audit would be too large for one transaction",
            p.code
        )));
    }
    let mut mine = vec![];
    for b in staying {
        if ctx.ensure_writable(&b.meta.owner).is_err() {
            continue;
        }
        let entries = if b.status == BookingStatus::CheckedIn {
            view.folio_entries(&b.meta.id)?
        } else {
            vec![]
        };
        mine.push((b, entries));
    }
    let mut plans = BTreeMap::new();
    for (b, _) in &mine {
        if !plans.contains_key(&b.room_type) {
            plans.insert(b.room_type.clone(), view.rate_plan(&p.code, &b.room_type)?);
        }
    }
    let actions = plan(date, &mine, mark_no_shows, |b, night| {
        room_price(b, plans.get(&b.room_type).and_then(|x| x.as_ref()), night)
    })
    .map_err(DomainError::InvalidInput)?;
    let cat = catalog_of(view, &p.code)?;
    let room_tax: Option<TaxCode> = cat.as_ref().and_then(|c| {
        c.item(ROOM_ITEM)
            .and_then(|i| i.tax.as_deref())
            .and_then(|t| c.tax(t))
            .cloned()
    });
    let currency = p.currency.clone();
    let by_id: BTreeMap<&RecordId, &Booking> = mine.iter().map(|(b, _)| (&b.meta.id, b)).collect();
    let mut writes = vec![];
    let mut audit = vec![];
    for a in &actions {
        match a {
            AuditAction::PostRoom {
                booking,
                night,
                amount,
            } => {
                let Some(b) = by_id.get(booking) else {
                    continue;
                };
                let currency = currency
                    .clone()
                    .ok_or_else(|| invalid(format!("property {} has no currency yet", p.code)))?;
                let s = split(*amount, room_tax.as_ref());
                let room = b
                    .room_on(*night)
                    .map(|r| format!(" room {r}"))
                    .unwrap_or_default();
                let e = FolioEntry {
                    meta: entry_meta(ids, ctx),
                    booking: b.meta.id.clone(),
                    property: p.code.clone(),
                    folio: GUEST_FOLIO.to_string(),
                    kind: EntryKind::Charge,
                    amount: s.gross,
                    currency,
                    item: Some(ROOM_ITEM.to_string()),
                    quantity: b.units,
                    taxes: tax_line(s.tax, room_tax.as_ref()),
                    description: format!("Room {}{room}, night of {night}", b.room_type),
                    method: None,
                    reference: None,
                    business_date: date,
                    night: Some(*night),
                    source: EntrySource::NightAudit,
                    corrects: None,
                    counter_folio: None,
                    author: ctx.actor.to_string(),
                    at: ctx.now,
                };
                audit.push(AuditEntry {
                    action: "night_audit.room".into(),
                    record: e.meta.id.clone(),
                    detail: format!("room night {night} of {}: {}", b.meta.id, e.amount),
                });
                writes.push(Record::FolioEntry(e));
            }
            AuditAction::NoShow { booking } => {
                let Some(b) = by_id.get(booking) else {
                    continue;
                };
                let mut next = (*b).clone();
                next.meta = bumped(&b.meta);
                next.status = BookingStatus::NoShow;
                next.updated_at = ctx.now;
                audit.push(AuditEntry {
                    action: "booking.no_show".into(),
                    record: next.meta.id.clone(),
                    detail: format!("confirmed -> no_show by the night audit of {date}"),
                });
                writes.push(Record::Booking(next));
                let policy = cancellation_policy(super::deposits::plan_of(view, b)?.as_ref());
                let fee = no_show_fee(b, policy);
                if let (true, Some(cur)) = (fee > 0, currency.clone()) {
                    let e = super::deposits::fee_entry(
                        ids,
                        ctx,
                        b,
                        cur,
                        fee,
                        fee_text("No-show", policy.no_show),
                        date,
                    );
                    audit.push(AuditEntry {
                        action: "folio.no_show_fee".into(),
                        record: e.meta.id.clone(),
                        detail: format!("no-show fee {fee} on {}", b.meta.id),
                    });
                    writes.push(Record::FolioEntry(e));
                }
            }
        }
    }
    let next_date = open_date.max(date.succ_opt().unwrap_or(date));
    let last = day
        .as_ref()
        .and_then(|d| d.last_audited)
        .map_or(date, |l| l.max(date));
    let bd = BusinessDay {
        meta: match &day {
            Some(d) => bumped(&d.meta),
            None => fresh(ids, Authority::Server(ctx.server.clone())),
        },
        property: p.code.clone(),
        server: ctx.server.clone(),
        date: next_date,
        last_audited: Some(last),
        at: ctx.now,
    };
    let posted = writes
        .iter()
        .filter(|w| matches!(w, Record::FolioEntry(e) if e.source == EntrySource::NightAudit))
        .count();
    let no_shows = writes
        .iter()
        .filter(|w| matches!(w, Record::Booking(_)))
        .count();
    audit.push(AuditEntry {
        action: "night_audit.run".into(),
        record: bd.meta.id.clone(),
        detail: format!(
            "night audit of {} for {date} on {}: {posted} room nights posted, {no_shows} no-shows; business date now {next_date}",
            p.code, ctx.server
        ),
    });
    let related = writes.clone();
    writes.push(Record::BusinessDay(bd.clone()));
    Ok(Decision {
        writes,
        outcome: Outcome::Written {
            record: Record::BusinessDay(bd),
            related,
        },
        audit,
    })
}

//! Money on a folio: a charge (an item of the catalogue or a free amount, its tax split out)
//! and money received or given back (deposit, payment, refund). A payment that pays a
//! provisional booking's deposit in full confirms it in the same decision when asked to
//! (`confirm_when_paid`, on the booking's owner).

use super::entries::{
    booking_of, business_date, catalog_of, currency_of, entry_decision, entry_meta, folio_name,
    invalid, no_card_number, positive_amount, property_of, room_for, same_currency, tax_line,
};
use crate::decide::{validate, Ctx, Decision, Outcome};
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::ledger::decide_input::{ChargeInput, PaymentInput};
use crate::ledger::{
    split, ChargeItem, EntryKind, EntrySource, FolioEntry, TaxCode, MAX_ENTRY_AMOUNT, MAX_QUANTITY,
};
use crate::limits::MAX_NAME_LEN;
use crate::record::Record;
use crate::view::StateView;

/// Decides `PostCharge`: an item of the catalogue or a free amount on a folio, its tax split out.
pub(in crate::decide) fn charge(
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

/// Decides `TakePayment`: money received (negative) or refunded (positive); may confirm the booking.
pub(in crate::decide) fn payment(
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
        crate::decide::deposits::confirmed_by_deposit(view, ctx, &b, &after)?
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

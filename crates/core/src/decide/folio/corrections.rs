//! Putting a folio right without editing it: a correction nets one entry out (with its reason),
//! and a transfer moves an amount between two folios of one booking as two entries.

use super::entries::{
    booking_of, business_date, currency_of, entry_decision, entry_meta, folio_name, invalid,
    no_card_number, positive_amount, property_of, room_for,
};
use crate::decide::{validate, Ctx, Decision};
use crate::error::DomainError;
use crate::ids::{IdSource, RecordId};
use crate::ledger::invoice::invoiceable;
use crate::ledger::{EntryKind, EntrySource, FolioEntry, TaxLine};
use crate::limits::MAX_TEXT_LEN;
use crate::view::StateView;

/// Decides `CorrectEntry`: a new entry that nets one entry out, with the reason.
pub(in crate::decide) fn correct(
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

/// Decides `TransferBetweenFolios`: an amount moved between two folios as two entries.
#[allow(
    clippy::too_many_arguments,
    reason = "the command's fields, passed as they are"
)]
pub(in crate::decide) fn transfer(
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

//! What every ledger decision shares: finding the booking and its property, the property's
//! currency and open business date, the checks on folio names, free text and amounts, the
//! ledger's size limits, a new entry's identity and tax line, and the decision that writes
//! entries with one history line each.

use super::MAX_FOLIO_NAME;
use crate::dates::{local_date, parse_tz};
use crate::decide::{fresh, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::ledger::pan::looks_like_pan;
use crate::ledger::{
    BusinessDay, ChargeCatalog, FolioEntry, TaxCode, TaxLine, GUEST_FOLIO, MAX_ENTRIES_PER_BOOKING,
    MAX_ENTRY_AMOUNT, MAX_FOLIOS,
};
use crate::record::{Booking, Meta, Property, Record, RecordKind};
use crate::view::StateView;
use chrono::NaiveDate;
use std::collections::BTreeSet;

/// A refusal for bad input.
pub(in crate::decide) fn invalid(msg: String) -> DomainError {
    DomainError::InvalidInput(msg)
}

/// The booking, or `not_found`.
pub(in crate::decide) fn booking_of(
    view: &dyn StateView,
    id: &RecordId,
) -> Result<Booking, DomainError> {
    view.booking(id)?
        .ok_or_else(|| DomainError::NotFound(format!("booking {id}")))
}

/// The property, or `not_found`.
pub(in crate::decide) fn property_of(
    view: &dyn StateView,
    code: &str,
) -> Result<Property, DomainError> {
    view.property(code)?
        .ok_or_else(|| DomainError::NotFound(format!("property {code}")))
}

/// The property's currency: every amount of its ledger is in it.
pub(in crate::decide) fn currency_of(p: &Property) -> Result<String, DomainError> {
    p.currency.clone().ok_or_else(|| {
        invalid(format!(
            "property {} has no currency yet; set a rate (or create it with a currency) first",
            p.code
        ))
    })
}

/// The property's currency, refusing any other given.
pub(in crate::decide) fn same_currency(p: &Property, given: &str) -> Result<String, DomainError> {
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
pub(in crate::decide) fn folio_name(v: Option<&str>) -> Result<String, DomainError> {
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
pub(in crate::decide) fn no_card_number(
    field: &str,
    v: &str,
    max: usize,
) -> Result<(), DomainError> {
    validate::text(field, v, max)?;
    if looks_like_pan(v) {
        return Err(invalid(format!(
            "{field} looks like a card number; innsync records card payments without card numbers (give at most the last four digits)"
        )));
    }
    Ok(())
}

/// Refuses an amount that is not more than zero.
pub(in crate::decide) fn positive_amount(field: &str, v: i64) -> Result<(), DomainError> {
    if v <= 0 || v > MAX_ENTRY_AMOUNT {
        return Err(invalid(format!(
            "{field} must be between 1 and {MAX_ENTRY_AMOUNT} minor units; got {v}"
        )));
    }
    Ok(())
}

/// The open business date of a property on this server: its audit's, else today there.
pub(in crate::decide) fn business_date(
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

/// The property's charge catalogue, if it has one.
pub(in crate::decide) fn catalog_of(
    view: &dyn StateView,
    property: &str,
) -> Result<Option<ChargeCatalog>, DomainError> {
    Ok(match view.record(RecordKind::ChargeCatalog, property)? {
        Some(Record::ChargeCatalog(c)) => Some(c),
        _ => None,
    })
}

/// Refuses an entry that would take the booking beyond the ledger's limits.
pub(in crate::decide) fn room_for(
    entries: &[FolioEntry],
    folios: &[&str],
    adding: usize,
) -> Result<(), DomainError> {
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
pub(in crate::decide) fn entry_meta(ids: &mut dyn IdSource, ctx: &Ctx<'_>) -> Meta {
    fresh(ids, Authority::Server(ctx.server.clone()))
}

/// The tax line of an entry whose tax is `split_tax` under `code`.
pub(in crate::decide) fn tax_line(split_tax: i64, code: Option<&TaxCode>) -> Vec<TaxLine> {
    match code {
        Some(t) if split_tax != 0 => vec![TaxLine {
            code: t.code.clone(),
            rate_bp: t.rate_bp,
            amount: split_tax,
        }],
        _ => vec![],
    }
}

/// The decision that writes `entries`, one history line each.
pub(in crate::decide) fn entry_decision(entries: Vec<FolioEntry>, action: &str) -> Decision {
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

//! The night audit of a property's business date on this server: one room charge per booking
//! and night at the booked price, no-shows marked with their fee, the business date rolled —
//! all in one decision, idempotent per date.

use super::entries::{business_date, catalog_of, entry_meta, invalid, property_of, tax_line};
use crate::dates::{local_date, parse_tz};
use crate::decide::{bumped, fresh, AuditEntry, Ctx, Decision, Outcome};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::ledger::audit::{plan, room_price, AuditAction};
use crate::ledger::policy::{cancellation_policy, fee_text, no_show_fee};
use crate::ledger::{
    split, BusinessDay, EntryKind, EntrySource, FolioEntry, TaxCode, GUEST_FOLIO,
    MAX_AUDIT_BOOKINGS, ROOM_ITEM,
};
use crate::record::{Booking, BookingStatus, Record};
use crate::view::StateView;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Decides `RunNightAudit`: room nights, no-shows and the business date of one property.
#[allow(
    clippy::too_many_lines,
    reason = "one decision read top to bottom: its checks and the records it writes; split when it next grows"
)]
pub(in crate::decide) fn night_audit(
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
                let policy =
                    cancellation_policy(crate::decide::deposits::plan_of(view, b)?.as_ref());
                let fee = no_show_fee(b, policy);
                if let (true, Some(cur)) = (fee > 0, currency.clone()) {
                    let e = crate::decide::deposits::fee_entry(
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

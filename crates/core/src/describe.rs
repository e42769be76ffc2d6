//! A record in words, for the people who must decide about it: an operator settling a conflict,
//! an agent learning that a booking they were told was made was undone. Plain text, no ids
//! alone: who, what, where, when.

use crate::record::Record;

/// Where an operator opens the record in the UI, when it has a page of its own.
pub fn ui_link(rec: &Record) -> Option<String> {
    match rec {
        Record::Booking(b) => Some(format!("/ui/bookings/{}", b.meta.id)),
        _ => None,
    }
}

/// The record in words.
pub fn describe(rec: &Record) -> String {
    match rec {
        Record::Property(p) => format!("property {} ({})", p.name, p.code),
        Record::RoomType(t) => format!(
            "room type {} ({}) at {}, up to {} guests",
            t.name, t.code, t.property, t.max_occupancy
        ),
        Record::Room(r) => format!("room {} ({}) at {}", r.number, r.room_type, r.property),
        Record::RatePlan(p) => format!(
            "rates of {} at {} in {}, {} periods",
            p.room_type,
            p.property,
            p.currency,
            p.periods.len()
        ),
        Record::Agent(a) => format!(
            "agent {} ({}), commission {} bp{}",
            a.spec.name,
            a.code,
            a.spec.commission_bp,
            a.spec
                .rate_plan
                .as_deref()
                .map(|p| format!(", plan {p}"))
                .unwrap_or_default()
        ),
        Record::PricingPlan(p) => format!(
            "rate plan {} ({}) at {}, {} seasons",
            p.spec.name,
            p.code,
            p.property,
            p.spec.seasons.len()
        ),
        Record::FolioEntry(e) => format!(
            "{} of {} {} on booking {}'s {} folio: {}",
            e.kind.as_str(),
            e.amount,
            e.currency,
            e.booking,
            e.folio,
            e.description
        ),
        Record::ChargeCatalog(c) => format!(
            "charge catalogue of {}, {} items",
            c.property,
            c.items.len()
        ),
        Record::Invoice(i) => format!(
            "invoice {} for booking {} to {}",
            i.number, i.booking, i.bill_to
        ),
        Record::BusinessDay(d) => {
            format!("business date {} of {} on {}", d.date, d.property, d.server)
        }
        Record::Guest(g) => {
            let contact = [g.email.as_deref(), g.phone.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            if contact.is_empty() {
                format!("guest {}", g.name)
            } else {
                format!("guest {} ({contact})", g.name)
            }
        }
        Record::Booking(b) => format!(
            "booking {} for {}: {} × {} at {}, {} to {}, {}",
            b.meta.id,
            b.guest_name,
            b.units,
            b.room_type,
            b.property,
            b.arrival,
            b.departure,
            b.status.as_str()
        ),
        Record::User(u) => format!("user {}", u.username),
        Record::MasterToken(t) => format!("master token: {} at epoch {}", t.server, t.epoch),
        Record::Note(n) => format!("note on booking {} by {}: {}", n.booking, n.author, n.text),
        Record::AllotmentGrant(g) => format!(
            "{} units of {} at {} from {} to {}, {} to {}",
            g.units, g.room_type, g.property, g.giver, g.receiver, g.from, g.to
        ),
        Record::Tombstone(t) => format!(
            "deletion of {} {}: {}",
            t.deleted_kind.as_str(),
            t.deleted_key,
            t.reason
        ),
    }
}

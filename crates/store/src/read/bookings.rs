//! The bookings list: filters and keyset paging by reference.

use super::{bodies, ReadPool};
use crate::error::StoreError;
use crate::sql_view::night_text;
use chrono::NaiveDate;
use innsync_core::{Booking, BookingStatus, Record};

/// Filters for listing bookings.
#[derive(Clone, Debug, Default)]
pub struct BookingFilter {
    /// Only this property.
    pub property: Option<String>,
    /// Only stays with a night on or after this date.
    pub from: Option<NaiveDate>,
    /// Only stays with a night before this date.
    pub to: Option<NaiveDate>,
    /// Only this status.
    pub status: Option<BookingStatus>,
    /// Only guests whose name contains this text (case-insensitive), or — when the text is a
    /// number — the booking with that reservation number.
    pub guest: Option<String>,
    /// Only the booking with this reservation number (FIAS `G#`).
    pub reservation_number: Option<u64>,
    /// Only references after this one (paging).
    pub after: Option<String>,
    /// Most rows.
    pub limit: usize,
}

impl ReadPool {
    /// Bookings matching `f`, by reference.
    pub fn bookings(&self, f: &BookingFilter) -> Result<Vec<Booking>, StoreError> {
        let guest = f.guest.as_ref().map(|g| {
            let escaped = g
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        // A number typed into the guest search is also a reservation number.
        let number_in_search = f
            .guest
            .as_deref()
            .map(str::trim)
            .and_then(|g| innsync_core::ReservationNumber::parse(g).ok())
            .map(|n| n.get() as i64);
        // Only the filters given go into the statement, so the planner can seek: a property's
        // list walks `bookings_by_property_ref` (property, id) from `after`, any other list
        // the bookings' key, and stops at `limit` — keyset paging whose cost does not grow
        // with the table. `CROSS JOIN` fixes the order (bookings first): left to itself the
        // planner walked every booking record from `after` and sorted them.
        let status = f.status.map(|s| s.as_str());
        let from = f.from.map(night_text);
        let to = f.to.map(night_text);
        let after = f.after.clone().unwrap_or_default();
        let limit = f.limit as i64;
        let reservation_number = f.reservation_number.map(|n| n as i64);
        let mut clauses = vec!["b.id > :after"];
        let mut args: Vec<(&str, &dyn rusqlite::ToSql)> =
            vec![(":after", &after), (":limit", &limit)];
        if let Some(p) = &f.property {
            clauses.push("b.property = :property");
            args.push((":property", p));
        }
        if let Some(d) = &from {
            clauses.push("b.departure > :from");
            args.push((":from", d));
        }
        if let Some(d) = &to {
            clauses.push("b.arrival < :to");
            args.push((":to", d));
        }
        if let Some(s) = &status {
            clauses.push("b.status = :status");
            args.push((":status", s));
        }
        if let Some(g) = &guest {
            args.push((":guest", g));
            if let Some(n) = &number_in_search {
                clauses.push(
                    "(b.guest_name LIKE :guest ESCAPE '\\' OR b.id IN (SELECT c.record_id FROM changes c
                      WHERE c.reservation_number = :number))",
                );
                args.push((":number", n));
            } else {
                clauses.push("b.guest_name LIKE :guest ESCAPE '\\'");
            }
        }
        if let Some(n) = &reservation_number {
            clauses.push(
                "b.id IN (SELECT c.record_id FROM changes c
                  WHERE c.reservation_number = :reservation)",
            );
            args.push((":reservation", n));
        }
        let sql = format!(
            "SELECT r.body FROM bookings b CROSS JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
             WHERE {} ORDER BY b.id LIMIT :limit",
            clauses.join(" AND ")
        );
        self.with(|c| {
            bodies(c, &sql, &args[..], |r| match r {
                Record::Booking(b) => Some(b),
                _ => None,
            })
        })
    }
}

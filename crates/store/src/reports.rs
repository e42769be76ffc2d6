//! The front desk's and the reservations manager's reports, read from what this server holds:
//! arrivals, departures, in-house, occupancy (with ADR and RevPAR), revenue, deposits and
//! pickup. Each is a table (named columns, rows of values) so the API answers it as JSON or
//! CSV alike, and each says how fresh its data is per origin (the last change this server has
//! from each server), because an office may be behind a lodge.
//!
//! Every query is bounded by the property and a date range on an index: bookings by arrival or
//! departure (`+b.arrival` keeps SQLite on the departure index, which does not grow with
//! history), ledger entries by business date.

use crate::error::StoreError;
use crate::read::ReadPool;
use crate::sql_view::load_record;
use crate::view::night_text;
use chrono::{DateTime, NaiveDate, Utc};
use innsync_core::dates::Nights;
use innsync_core::dates::{local_date, parse_tz};
use innsync_core::ledger::policy::{deposit_status, plan_code};
use innsync_core::pricing::{Deposit, Due};
use innsync_core::{Booking, Record};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the deposits report measures against: the time (for due and overdue) and the share
/// asked of bookings sold without a rate plan.
#[derive(Clone, Copy, Debug)]
pub struct DepositBasis {
    /// Now; the property's date is taken from it.
    pub now: DateTime<Utc>,
    /// Basis points of the price asked of a booking without a plan (due on arrival).
    pub fallback_bp: u32,
}

/// Most rows a report returns; a longer one says it was cut.
pub const MAX_REPORT_ROWS: usize = 10_000;

/// The reports there are.
pub const REPORTS: [&str; 7] = [
    "arrivals",
    "departures",
    "in-house",
    "occupancy",
    "revenue",
    "deposits",
    "pickup",
];

/// How far this server has one origin's changes.
#[derive(Clone, Debug, Serialize)]
pub struct Freshness {
    /// The server whose changes these are.
    pub origin: String,
    /// The last of its changes held here.
    pub seq: u64,
    /// When that change was written there (RFC 3339), if any is held.
    pub last_change_at: Option<String>,
}

/// A report: a table and how fresh it is.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Which report.
    pub report: String,
    /// Property code.
    pub property: String,
    /// First date.
    pub from: NaiveDate,
    /// Day after the last date.
    pub to: NaiveDate,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One object per row, keyed by column.
    pub rows: Vec<serde_json::Map<String, Value>>,
    /// Whether rows were left out beyond [`MAX_REPORT_ROWS`].
    pub truncated: bool,
    /// The last change held from each origin.
    pub freshness: Vec<Freshness>,
}

impl Report {
    /// The report as CSV (RFC 4180 quoting), header first.
    pub fn to_csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = self
            .columns
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push_str("\r\n");
        for r in &self.rows {
            let line = self
                .columns
                .iter()
                .map(|c| match r.get(c) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => quote(s),
                    Some(other) => quote(&other.to_string()),
                })
                .collect::<Vec<_>>()
                .join(",");
            out.push_str(&line);
            out.push_str("\r\n");
        }
        out
    }
}

/// A report's columns and rows.
type Table = (Vec<String>, Vec<serde_json::Map<String, Value>>);

fn table(columns: &[&str], rows: Vec<Vec<Value>>) -> Table {
    let cols: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let rows = rows
        .into_iter()
        .map(|r| cols.iter().cloned().zip(r).collect())
        .collect();
    (cols, rows)
}

fn bookings_where(
    c: &Connection,
    sql_where: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<(Booking, i64)>, StoreError> {
    let sql = format!(
        "SELECT r.body, (SELECT COALESCE(SUM(l.amount), 0) FROM ledger_entries l WHERE l.booking = b.id)
         FROM bookings b JOIN record_bodies r ON r.kind = 'booking' AND r.key = b.id
         WHERE {sql_where} ORDER BY b.arrival, b.id LIMIT {}",
        MAX_REPORT_ROWS + 1
    );
    let mut st = c.prepare_cached(&sql)?;
    let mut rows = st.query(p)?;
    let mut out = vec![];
    while let Some(row) = rows.next()? {
        let body: String = row.get(0)?;
        if let Record::Booking(b) = serde_json::from_str(&body)? {
            out.push((b, row.get(1)?));
        }
    }
    Ok(out)
}

fn booking_row(b: &Booking, balance: i64) -> Vec<Value> {
    vec![
        json!(b.meta.id.as_str()),
        json!(b.status.as_str()),
        json!(b.guest_name),
        json!(b.room_type),
        json!(b.units),
        json!(b.stays.last().map(|s| s.room.clone())),
        json!(b.arrival),
        json!(b.departure),
        json!(b.meta.owner.to_string()),
        json!(b.price.as_ref().map(|p| p.amount)),
        json!(balance),
    ]
}

const BOOKING_COLUMNS: [&str; 11] = [
    "reference",
    "status",
    "guest",
    "room_type",
    "units",
    "room",
    "arrival",
    "departure",
    "owner",
    "price",
    "balance",
];

impl ReadPool {
    /// The last change held from each origin.
    pub fn freshness(&self) -> Result<Vec<Freshness>, StoreError> {
        let cursors = self.cursors()?;
        self.with(|c| {
            let mut out = vec![];
            for (origin, seq) in cursors {
                let at: Option<String> = c
                    .prepare_cached("SELECT at FROM changes WHERE origin = ?1 AND seq = ?2")?
                    .query_row(params![origin, seq as i64], |r| r.get(0))
                    .optional()?;
                out.push(Freshness {
                    origin,
                    seq,
                    last_change_at: at,
                });
            }
            Ok(out)
        })
    }

    /// One report of `property` over `[from, to)`. The deposits report applies each booking's
    /// rate-plan deposit rule as it stands at `deposit.now`; a booking sold without a plan is
    /// asked `deposit.fallback_bp` of its price, due on arrival.
    #[allow(
        clippy::too_many_lines,
        reason = "one read in one transaction, its SQL and the answer's shape side by side; split when it next grows"
    )]
    pub fn report(
        &self,
        name: &str,
        property: &str,
        nights: Nights,
        deposit: DepositBasis,
    ) -> Result<Report, StoreError> {
        let (from, to) = (night_text(nights.from), night_text(nights.to));
        let (columns, mut rows) = match name {
            "arrivals" | "departures" | "in-house" => {
                let list = self.with(|c| match name {
                    "arrivals" => bookings_where(
                        c,
                        "b.property = ?1 AND b.arrival >= ?2 AND b.arrival < ?3 AND b.status != 'cancelled'",
                        params![property, from, to],
                    ),
                    "departures" => bookings_where(
                        c,
                        "b.property = ?1 AND b.departure >= ?2 AND b.departure < ?3
                         AND b.status IN ('confirmed', 'checked_in', 'checked_out')",
                        params![property, from, to],
                    ),
                    _ => bookings_where(
                        c,
                        "b.property = ?1 AND b.departure > ?2 AND +b.arrival < ?3 AND b.status = 'checked_in'",
                        params![property, from, to],
                    ),
                })?;
                table(
                    &BOOKING_COLUMNS,
                    list.iter().map(|(b, bal)| booking_row(b, *bal)).collect(),
                )
            }
            "occupancy" => self.occupancy(property, nights)?,
            "revenue" => self.revenue(property, &from, &to)?,
            "deposits" => {
                let list = self.with(|c| {
                    bookings_where(
                        c,
                        "b.property = ?1 AND b.arrival >= ?2 AND b.arrival < ?3
                         AND b.status IN ('provisional', 'confirmed', 'checked_in')",
                        params![property, from, to],
                    )
                })?;
                let terms = self.with(|c| {
                    let tz = match load_record(c, "property", property)? {
                        Some(Record::Property(p)) => parse_tz(&p.timezone).ok(),
                        _ => None,
                    };
                    let local = |t: DateTime<Utc>| match tz {
                        Some(z) => local_date(t, z),
                        None => t.date_naive(),
                    };
                    let today = local(deposit.now);
                    let mut out = BTreeMap::new();
                    for (b, _) in &list {
                        let plan = match plan_code(b) {
                            Some(code) => match load_record(
                                c,
                                "pricing_plan",
                                &format!("{}/{code}", b.property),
                            )? {
                                Some(Record::PricingPlan(p)) => Some(p),
                                _ => None,
                            },
                            None => None,
                        };
                        let rule = match plan {
                            Some(p) => p.spec.deposit,
                            None => Deposit::Percent {
                                percent: deposit.fallback_bp / 100,
                                due: Due::DaysBeforeArrival(0),
                            },
                        };
                        let entries = crate::ledger::folio_entries(c, &b.meta.id)?;
                        let booked = local(b.created_at);
                        out.insert(
                            b.meta.id.clone(),
                            deposit_status(b, rule, booked, &entries, today),
                        );
                    }
                    Ok(out)
                })?;
                let rows = list
                    .iter()
                    .filter_map(|(b, bal)| {
                        let t = terms.get(&b.meta.id)?;
                        let outstanding = (t.required - t.received).max(0);
                        Some(vec![
                            json!(b.meta.id.as_str()),
                            json!(b.status.as_str()),
                            json!(b.guest_name),
                            json!(b.arrival),
                            json!(b.price.as_ref().map(|p| p.amount)),
                            json!(t.required),
                            json!(t.due),
                            json!(t.received),
                            json!(outstanding),
                            json!(t.state.as_str()),
                            json!(*bal),
                        ])
                    })
                    .collect();
                table(
                    &[
                        "reference",
                        "status",
                        "guest",
                        "arrival",
                        "price",
                        "deposit_due",
                        "due_date",
                        "received",
                        "outstanding",
                        "state",
                        "balance",
                    ],
                    rows,
                )
            }
            "pickup" => {
                let list = self.with(|c| {
                    bookings_where(
                        c,
                        "b.property = ?1 AND b.departure > ?2 AND +b.arrival < ?3 AND b.status != 'cancelled'",
                        params![property, from, to],
                    )
                })?;
                let mut per_day: BTreeMap<NaiveDate, (u64, u64, i64)> = BTreeMap::new();
                for (b, _) in &list {
                    let nights_in =
                        b.nights().iter().filter(|n| nights.contains(*n)).count() as u64;
                    let e = per_day.entry(b.created_at.date_naive()).or_default();
                    e.0 += 1;
                    e.1 += nights_in * u64::from(b.units);
                    e.2 += b.price.as_ref().map_or(0, |p| p.amount);
                }
                table(
                    &["booked_on", "bookings", "room_nights", "value"],
                    per_day
                        .into_iter()
                        .map(|(d, (n, rn, v))| vec![json!(d), json!(n), json!(rn), json!(v)])
                        .collect(),
                )
            }
            other => {
                return Err(StoreError::Refused(innsync_core::DomainError::NotFound(
                    format!("report {other:?}; reports are {}", REPORTS.join(", ")),
                )))
            }
        };
        let truncated = rows.len() > MAX_REPORT_ROWS;
        rows.truncate(MAX_REPORT_ROWS);
        Ok(Report {
            report: name.to_string(),
            property: property.to_string(),
            from: nights.from,
            to: nights.to,
            columns,
            rows,
            truncated,
            freshness: self.freshness()?,
        })
    }

    /// Occupancy per room type over the range, and the property's total: room nights
    /// available and sold, occupancy, room revenue net of tax posted for those nights, ADR
    /// (revenue per room sold) and RevPAR (revenue per room available), in minor units.
    fn occupancy(&self, property: &str, nights: Nights) -> Result<Table, StoreError> {
        let avail = self.availability(property, nights)?;
        let revenue: BTreeMap<String, i64> = self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT b.room_type, SUM(l.amount - l.tax) FROM ledger_entries l
                 JOIN bookings b ON b.id = l.booking
                 WHERE l.property = ?1 AND l.business_date >= ?2 AND l.business_date < ?3
                   AND l.item = 'ROOM' AND l.kind IN ('charge', 'correction')
                 GROUP BY 1",
            )?;
            let rows = st.query_map(
                params![property, night_text(nights.from), night_text(nights.to)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        // Rooms sold: every room night of a booking that stays or stayed (checked-out stays
        // included: the sold counters forget them, the report must not).
        let stays = self.with(|c| {
            bookings_where(
                c,
                "b.property = ?1 AND b.departure > ?2 AND +b.arrival < ?3
                 AND b.status IN ('provisional', 'confirmed', 'checked_in', 'checked_out')",
                params![property, night_text(nights.from), night_text(nights.to)],
            )
        })?;
        let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
        for (b, _) in &stays {
            let n = b.nights().iter().filter(|d| nights.contains(*d)).count() as i64;
            *sold.entry(b.room_type.as_str()).or_default() += n * i64::from(b.units);
        }
        let figures = |code: &str, available: i64, sold: i64, rev: i64| {
            let ratio = |a: i64, b: i64| if b > 0 { json!(a / b) } else { json!(null) };
            vec![
                json!(code),
                json!(available),
                json!(sold),
                if available > 0 {
                    json!(sold * 10_000 / available)
                } else {
                    json!(null)
                },
                json!(rev),
                ratio(rev, sold),
                ratio(rev, available),
            ]
        };
        let mut rows = vec![];
        let (mut ta, mut ts, mut tr) = (0i64, 0i64, 0i64);
        for rt in &avail.room_types {
            let a: i64 = rt.nights.iter().map(|n| i64::from(n.total)).sum();
            let s: i64 = sold.get(rt.code.as_str()).copied().unwrap_or(0);
            let r = revenue.get(&rt.code).copied().unwrap_or(0);
            ta += a;
            ts += s;
            tr += r;
            rows.push(figures(&rt.code, a, s, r));
        }
        rows.push(figures("*", ta, ts, tr));
        Ok(table(
            &[
                "room_type",
                "rooms_available",
                "rooms_sold",
                "occupancy_bp",
                "room_revenue",
                "adr",
                "revpar",
            ],
            rows,
        ))
    }

    /// Revenue by item and kind of entry posted on the business dates of the range: net, tax
    /// and gross, and the settlements (deposits, payments, refunds) by kind.
    fn revenue(&self, property: &str, from: &str, to: &str) -> Result<Table, StoreError> {
        let rows = self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT kind, COALESCE(item, ''), COUNT(*), SUM(amount - tax), SUM(tax), SUM(amount)
                 FROM ledger_entries
                 WHERE property = ?1 AND business_date >= ?2 AND business_date < ?3
                 GROUP BY 1, 2 ORDER BY 1, 2",
            )?;
            let rows = st.query_map(params![property, from, to], |r| {
                Ok(vec![
                    json!(r.get::<_, String>(0)?),
                    json!(r.get::<_, String>(1)?),
                    json!(r.get::<_, i64>(2)?),
                    json!(r.get::<_, i64>(3)?),
                    json!(r.get::<_, i64>(4)?),
                    json!(r.get::<_, i64>(5)?),
                ])
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        Ok(table(
            &["kind", "item", "entries", "net", "tax", "gross"],
            rows,
        ))
    }
}

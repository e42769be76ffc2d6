//! Reservations of one or several lines (DESIGN.md §12). Each line is a [`Booking`] of its own —
//! room type × units × nights × occupancy × rate plan with its price — so stock, ownership,
//! replication and fencing stay exactly as for a booking; the lines of one reservation carry
//! its reference (`Booking::reservation`, the first line's id). All lines are decided together:
//! each is sold from this server's allotment after the lines before it in the same decision,
//! so either every line's units are taken or none is. A one-line booking is the case of one
//! line with no reservation reference, decided by the same code.

use super::allotments::{ensure_sellable, held};
use super::reference::{property_of, room_type_of};
use super::{bumped, fresh, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::agent::BookedAgent;
use crate::allotment::HeldNight;
use crate::command::{Command, GuestInput, InitialStatus, PricingRequest, ReservationLine};
use crate::dates::{local_date, parse_tz, Nights};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::limits::{MAX_HOLD_DAYS, MAX_UNITS};
use crate::pricing::BookedPrice;
use crate::rates;
use crate::record::{Booking, BookingStatus, Guest, Money, Property, Record, RoomType};
use crate::state_view::StateView;
use chrono::{DateTime, NaiveDate, Utc};

pub(super) fn decide(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::CreateReservation {
            property,
            arrival,
            departure,
            lines,
            guest,
            status,
            hold_until,
            notes,
            agent,
        } => {
            super::reservations_limit::ensure_new(lines.len())?;
            let specs = lines
                .iter()
                .enumerate()
                .map(|(i, l)| line_spec(i, l, *arrival, *departure))
                .collect::<Result<Vec<_>, _>>()?;
            create(
                view,
                ids,
                ctx,
                NewReservation {
                    property,
                    guest,
                    status: *status,
                    hold_until: *hold_until,
                    notes: notes.as_deref(),
                    lines: specs,
                    numbered: lines.len() > 1,
                    agent: agent.as_deref(),
                },
            )
        }
        Command::AddReservationLine { reservation, line } => {
            add_line(view, ids, ctx, reservation, line)
        }
        _ => unreachable!("reservations::decide called for {}", cmd.name()),
    }
}

/// A line's dates, filled from the reservation's defaults.
fn line_spec(
    i: usize,
    l: &ReservationLine,
    arrival: Option<NaiveDate>,
    departure: Option<NaiveDate>,
) -> Result<LineSpec<'_>, DomainError> {
    let arrival = l.arrival.or(arrival).ok_or_else(|| {
        DomainError::InvalidInput(format!(
            "lines[{i}].arrival: required when the reservation gives none"
        ))
    })?;
    let departure = l.departure.or(departure).ok_or_else(|| {
        DomainError::InvalidInput(format!(
            "lines[{i}].departure: required when the reservation gives none"
        ))
    })?;
    Ok(LineSpec {
        room_type: &l.room_type,
        arrival,
        departure,
        units: l.units,
        pricing: l.pricing.clone(),
    })
}

/// One line to decide.
pub(super) struct LineSpec<'a> {
    pub room_type: &'a str,
    pub arrival: NaiveDate,
    pub departure: NaiveDate,
    pub units: u32,
    pub pricing: Option<PricingRequest>,
}

/// A reservation to decide; one line without `numbered` is a plain booking.
pub(super) struct NewReservation<'a> {
    pub property: &'a str,
    pub guest: &'a GuestInput,
    pub status: InitialStatus,
    pub hold_until: Option<DateTime<Utc>>,
    pub notes: Option<&'a str>,
    pub lines: Vec<LineSpec<'a>>,
    /// Whether the lines carry the reservation's reference (when there are several).
    pub numbered: bool,
    /// The agent it is sold for.
    pub agent: Option<&'a str>,
}

/// A line checked and priced, before stock.
struct Checked<'a> {
    spec: &'a LineSpec<'a>,
    nights: Nights,
    booked_price: Option<BookedPrice>,
}

/// Prefixes a refusal about input with the line it concerns, when there are several.
fn on_line(i: usize, several: bool) -> impl Fn(DomainError) -> DomainError {
    move |e| match e {
        DomainError::InvalidInput(m) if several => {
            DomainError::InvalidInput(format!("lines[{i}]: {m}"))
        }
        other => other,
    }
}

/// The status a booking is created in, from what was asked.
pub(super) fn initial_status(
    status: InitialStatus,
    hold_until: Option<DateTime<Utc>>,
    ctx: &Ctx<'_>,
) -> Result<BookingStatus, DomainError> {
    match (status, hold_until) {
        (InitialStatus::Confirmed, None) => Ok(BookingStatus::Confirmed),
        (InitialStatus::Confirmed, Some(_)) => Err(DomainError::InvalidInput(
            "hold_until is only for provisional bookings".into(),
        )),
        (InitialStatus::Provisional, None) => Err(DomainError::InvalidInput(
            "a provisional booking needs hold_until".into(),
        )),
        (InitialStatus::Provisional, Some(h)) => {
            if h <= ctx.now {
                return Err(DomainError::InvalidInput(format!(
                    "hold_until {h} is not in the future"
                )));
            }
            if h > ctx.now + chrono::Duration::days(MAX_HOLD_DAYS) {
                return Err(DomainError::InvalidInput(format!(
                    "hold_until may be at most {MAX_HOLD_DAYS} days ahead"
                )));
            }
            Ok(BookingStatus::Provisional)
        }
    }
}

/// Checks one line's room type, dates and units, and prices it (a plan's restrictions refuse
/// here, before anything is taken).
fn check_line<'a>(
    view: &dyn StateView,
    prop: &Property,
    today: NaiveDate,
    spec: &'a LineSpec<'a>,
) -> Result<Checked<'a>, DomainError> {
    let rt: RoomType = room_type_of(view, &prop.code, spec.room_type)?;
    let nights = Nights::stay(spec.arrival, spec.departure).map_err(DomainError::InvalidInput)?;
    if spec.units == 0 || spec.units > MAX_UNITS {
        return Err(DomainError::InvalidInput(format!(
            "units must be between 1 and {MAX_UNITS}; got {}",
            spec.units
        )));
    }
    ensure_bookable_arrival(prop, spec.arrival, today)?;
    let booked_price = match &spec.pricing {
        Some(req) => Some(super::booking_price::price(
            view, prop, &rt, nights, spec.units, req,
        )?),
        None => None,
    };
    Ok(Checked {
        spec,
        nights,
        booked_price,
    })
}

/// Refuses an arrival in the past or beyond the horizon.
pub(super) fn ensure_bookable_arrival(
    prop: &Property,
    arrival: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if arrival < today {
        return Err(DomainError::InvalidInput(format!(
            "arrival {arrival} is in the past at {} (today there is {today})",
            prop.code
        )));
    }
    crate::dates::within_horizon("arrival", arrival, today, crate::limits::HORIZON_DAYS_AHEAD)
        .map_err(DomainError::InvalidInput)
}

/// The stored total of a line: its plan's, else the nightly rates' when every night has one.
pub(super) fn line_total(
    view: &dyn StateView,
    property: &str,
    room_type: &str,
    nights: Nights,
    units: u32,
    booked: Option<&BookedPrice>,
) -> Result<Option<Money>, DomainError> {
    Ok(match booked {
        Some(p) if !p.nightly.is_empty() => Some(Money {
            amount: p.total,
            currency: p.currency.clone(),
        }),
        Some(_) => None,
        None => view.rate_plan(property, room_type)?.and_then(|plan| {
            rates::total(&plan, nights, units).map(|amount| Money {
                amount,
                currency: plan.currency.clone(),
            })
        }),
    })
}

/// Units this decision has already taken, per room type and nights: the lines before count
/// against the lines after, so two lines never sell one unit.
#[derive(Default)]
pub(super) struct Taken(Vec<(String, Nights, u32)>);

impl Taken {
    /// `have` as it stands after the units already taken in this decision.
    pub(super) fn apply(&self, room_type: &str, have: &mut [HeldNight]) {
        for (rt, nights, units) in &self.0 {
            if rt != room_type {
                continue;
            }
            for h in have.iter_mut().filter(|h| nights.contains(h.night)) {
                h.sold = h.sold.saturating_add(*units);
                h.held_sold = h.held_sold.saturating_add(*units);
            }
        }
    }

    /// Notes a line's units as taken.
    pub(super) fn push(&mut self, room_type: &str, nights: Nights, units: u32) {
        self.0.push((room_type.to_string(), nights, units));
    }
}

/// Checks that `holder` can sell every line on top of the ones before it.
fn sell_all(
    view: &dyn StateView,
    prop: &Property,
    holder: &Authority,
    lines: &[Checked<'_>],
) -> Result<(), DomainError> {
    let mut taken = Taken::default();
    for l in lines {
        let mut have = held(view, prop, l.spec.room_type, holder, l.nights)?;
        taken.apply(l.spec.room_type, &mut have);
        ensure_sellable(&have, prop, l.spec.room_type, holder, l.spec.units)?;
        taken.push(l.spec.room_type, l.nights, l.spec.units);
    }
    Ok(())
}

/// Creates a guest for a booking from its details.
pub(super) fn new_guest(
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Guest, DomainError> {
    validate::name("guest.name", name)?;
    validate::contact(email, phone)?;
    Ok(Guest::new(
        fresh(ids, ctx.write_authority()),
        name.trim().to_string(),
        email.map(str::to_string),
        phone.map(str::to_string),
    ))
}

/// Decides a reservation (or a one-line booking): every check first, then every line's units
/// together, then the records.
pub(super) fn create(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    n: NewReservation<'_>,
) -> Result<Decision, DomainError> {
    let prop = property_of(view, n.property)?;
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
    let several = n.lines.len() > 1;
    let agent = match n.agent {
        Some(code) => Some(super::agents::for_sale(view, ctx, code)?),
        None => None,
    };
    let mut n = n;
    if let Some(plan) = agent.as_ref().and_then(|a| a.spec.rate_plan.as_ref()) {
        // The contracted rate prices every line that names no plan.
        for l in &mut n.lines {
            let req = l.pricing.get_or_insert_with(|| PricingRequest {
                rate_plan: None,
                party: crate::pricing::Party::adults(1),
            });
            if req.rate_plan.is_none() {
                req.rate_plan = Some(plan.clone());
            }
        }
    }
    let checked = n
        .lines
        .iter()
        .enumerate()
        .map(|(i, spec)| check_line(view, &prop, today, spec).map_err(on_line(i, several)))
        .collect::<Result<Vec<_>, _>>()?;
    let status = initial_status(n.status, n.hold_until, ctx)?;
    validate::notes("notes", n.notes)?;
    let mut writes = vec![];
    let guest = match n.guest {
        GuestInput::Existing(id) => super::guests::for_new_booking(view, id)?,
        GuestInput::New { name, email, phone } => {
            let g = new_guest(ids, ctx, name, email.as_deref(), phone.as_deref())?;
            writes.push(Record::Guest(g.clone()));
            g
        }
    };
    // Sold from this server's own allotment: what it holds and has not sold, never beyond
    // the night's rooms as far as it knows — all lines together.
    let holder = ctx.write_authority();
    sell_all(view, &prop, &holder, &checked)?;
    let mut lines: Vec<Booking> = Vec::with_capacity(checked.len());
    let mut reservation: Option<RecordId> = None;
    for c in checked {
        let price = line_total(
            view,
            n.property,
            c.spec.room_type,
            c.nights,
            c.spec.units,
            c.booked_price.as_ref(),
        )?;
        let sold_for = agent
            .as_ref()
            .map(|a| booked_agent(&a.code, a.spec.commission_bp, price.as_ref()));
        let meta = fresh(ids, holder.clone());
        if n.numbered && reservation.is_none() {
            reservation = Some(meta.id.clone());
        }
        let reservation_number = Some(ids.next_reservation_number()?);
        lines.push(Booking {
            meta,
            property: n.property.to_string(),
            room_type: c.spec.room_type.to_string(),
            arrival: c.spec.arrival,
            departure: c.spec.departure,
            units: c.spec.units,
            guest_id: guest.meta.id.clone(),
            guest_name: guest.name.clone(),
            reservation_number,
            status,
            hold_until: n.hold_until,
            holder: holder.clone(),
            stays: vec![],
            price,
            pricing: c.booked_price,
            reservation: reservation.clone(),
            agent: sold_for,
            notes: n.notes.map(str::to_string),
            cancel_reason: None,
            created_on: ctx.server.clone(),
            created_at: ctx.now,
            updated_at: ctx.now,
        });
    }
    Ok(decision(writes, lines, reservation.as_ref()))
}

/// The agent of a line, with the commission on its price.
fn booked_agent(code: &str, commission_bp: u32, price: Option<&Money>) -> Box<BookedAgent> {
    Box::new(BookedAgent {
        code: code.to_string(),
        commission_bp,
        commission: price.map(|m| crate::agent::commission(m.amount, commission_bp)),
    })
}

fn line_detail(b: &Booking) -> String {
    format!(
        "{}/{} {}..{} x{} for {} ({})",
        b.property,
        b.room_type,
        b.arrival,
        b.departure,
        b.units,
        b.guest_name,
        b.status.as_str()
    )
}

/// The records written (a new guest first, then the lines), the audit, and the answer: the
/// first line, with the guest and the other lines as related records.
fn decision(guests: Vec<Record>, lines: Vec<Booking>, reservation: Option<&RecordId>) -> Decision {
    let count = lines.len();
    let mut audit = Vec::with_capacity(count + guests.len());
    for (i, b) in lines.iter().enumerate() {
        let detail = match reservation {
            Some(r) => format!(
                "line {} of {count} of reservation {r}: {}",
                i + 1,
                line_detail(b)
            ),
            None => line_detail(b),
        };
        audit.push(AuditEntry {
            action: "booking.create".into(),
            record: b.meta.id.clone(),
            detail,
        });
    }
    let first = lines[0].meta.id.clone();
    for g in &guests {
        audit.push(AuditEntry {
            action: "guest.create".into(),
            record: g.meta().id.clone(),
            detail: format!("for booking {first}"),
        });
    }
    let mut writes = guests.clone();
    writes.extend(lines.iter().cloned().map(Record::Booking));
    let mut related = guests;
    let mut rest = lines.into_iter().map(Record::Booking);
    let record = rest
        .next()
        .unwrap_or_else(|| unreachable!("a reservation has a line"));
    related.extend(rest);
    Decision {
        writes,
        outcome: Outcome::Written { record, related },
        audit,
    }
}

/// Adds a line to the reservation of `given` (a one-line booking becomes the first line of a
/// reservation: its next version carries the reference). Decided where the reservation is
/// owned, sold from the same holder, for the same guest; the line is provisional with the
/// reservation's hold when the reservation's first line is provisional, else confirmed.
fn add_line(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    given: &RecordId,
    line: &ReservationLine,
) -> Result<Decision, DomainError> {
    let at = view
        .booking(given)?
        .ok_or_else(|| DomainError::NotFound(format!("booking {given}")))?;
    let lead_id = at.reservation.clone().unwrap_or_else(|| at.meta.id.clone());
    let lead = if lead_id == at.meta.id {
        at.clone()
    } else {
        view.booking(&lead_id)?
            .ok_or_else(|| DomainError::NotFound(format!("booking {lead_id}")))?
    };
    ctx.ensure_writable(&lead.meta.owner)?;
    super::reservations_limit::ensure_room_for_one_more(
        view,
        &lead_id,
        lead.reservation.is_some(),
    )?;
    let mut spec = line_spec(0, line, Some(at.arrival), Some(at.departure))?;
    // A reservation sold for an agent: the new line too, on its contracted rate by default.
    let contracted = match &lead.agent {
        Some(a) => super::agents::agent(view, &a.code)?.and_then(|a| a.spec.rate_plan),
        None => None,
    };
    if let Some(plan) = contracted {
        let req = spec.pricing.get_or_insert_with(|| PricingRequest {
            rate_plan: None,
            party: crate::pricing::Party::adults(1),
        });
        if req.rate_plan.is_none() {
            req.rate_plan = Some(plan);
        }
    }
    let prop = property_of(view, &lead.property)?;
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    let today = local_date(ctx.now, tz);
    let checked = check_line(view, &prop, today, &spec)?;
    let (status, hold_until) = match lead.status {
        BookingStatus::Provisional => (BookingStatus::Provisional, lead.hold_until),
        _ => (BookingStatus::Confirmed, None),
    };
    if let Some(h) = hold_until.filter(|h| *h <= ctx.now) {
        return Err(DomainError::InvalidTransition(format!(
            "the reservation's hold lapsed at {h}; confirm it before adding a line"
        )));
    }
    let holder = lead.meta.owner.clone();
    sell_all(view, &prop, &holder, std::slice::from_ref(&checked))?;
    let mut writes = vec![];
    let mut audit = vec![];
    if lead.reservation.is_none() {
        let mut l = lead.clone();
        l.meta = bumped(&lead.meta);
        l.reservation = Some(lead_id.clone());
        l.updated_at = ctx.now;
        audit.push(AuditEntry {
            action: "reservation.add_line".into(),
            record: lead_id.clone(),
            detail: "reservation: none → this booking's (a line was added)".into(),
        });
        writes.push(Record::Booking(l));
    }
    let price = line_total(
        view,
        &prop.code,
        spec.room_type,
        checked.nights,
        spec.units,
        checked.booked_price.as_ref(),
    )?;
    let sold_for = lead
        .agent
        .as_ref()
        .map(|a| booked_agent(&a.code, a.commission_bp, price.as_ref()));
    let b = Booking {
        meta: fresh(ids, holder.clone()),
        property: prop.code.clone(),
        room_type: spec.room_type.to_string(),
        arrival: spec.arrival,
        departure: spec.departure,
        units: spec.units,
        guest_id: lead.guest_id.clone(),
        guest_name: lead.guest_name.clone(),
        reservation_number: Some(ids.next_reservation_number()?),
        status,
        hold_until,
        holder,
        stays: vec![],
        price,
        pricing: checked.booked_price,
        reservation: Some(lead_id.clone()),
        agent: sold_for,
        notes: None,
        cancel_reason: None,
        created_on: ctx.server.clone(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    audit.push(AuditEntry {
        action: "reservation.add_line".into(),
        record: b.meta.id.clone(),
        detail: format!("added to reservation {lead_id}: {}", line_detail(&b)),
    });
    let related = writes.clone();
    writes.push(Record::Booking(b.clone()));
    Ok(Decision {
        writes,
        outcome: Outcome::Written {
            record: Record::Booking(b),
            related,
        },
        audit,
    })
}

//! A booking as its page and its forms need it: the booking with its guest's contacts, history,
//! free rooms, property, forwarded operations, agent and reservation lines — read once, in
//! one read. Below the page (`booking_page.rs`), the line forms (`booking_lines.rs`) and the
//! actions (`booking_actions.rs`), so none of them imports another to load a booking.

use super::error::{UiError, UiResult};
use super::words::Names;
use crate::replication::owner_relay::OWNER_RELAY_POOL;
use crate::state::AppState;
use chrono::NaiveDate;
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_core::pricing::PricingPlan;
use innsync_core::{Booking, Property, Record, RoomType};
use innsync_store::{AuditRow, PendingOp, ReadPool, StoreError};

/// Most history lines shown on a booking's page.
pub const MAX_HISTORY: usize = 500;

/// A booking with what its page needs beside it.
pub(super) struct Loaded {
    pub(super) booking: Booking,
    pub(super) email: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) history: Vec<AuditRow>,
    /// Rooms of the booking's type free for the rest of its stay (for check-in, assign, move).
    pub(super) free_rooms: Vec<String>,
    pub(super) today: NaiveDate,
    /// The booking's property (its name and timezone).
    pub(super) property: Option<Property>,
    /// Its room type's name.
    pub(super) room_type_name: Option<String>,
    /// Changes of this booking forwarded to its owner from this server, newest first.
    pub(super) forwarded: Vec<PendingOp>,
    /// Its reservation's lines, the property's room types and plans.
    pub(super) lines: LinesFacts,
    /// The name of the agent it was sold for.
    pub(super) agent_name: Option<String>,
    /// Servers in words; who writes what.
    pub(super) names: Names,
}

/// Most forwarded operations looked through for a booking's.
pub const MAX_FORWARDED_SCAN: usize = 500;

/// Whether a forwarded operation is about booking `id` (its command names the id).
fn concerns(op: &PendingOp, id: &str) -> bool {
    op.op == "relay" && op.command.contains(&format!("\"{id}\""))
}

pub(super) async fn load(state: &AppState, reference: &str) -> UiResult<Loaded> {
    let r = reference.to_string();
    let now = (state.clock)();
    let names = Names::read(state).await?;
    let loaded = state
        .read(move |p| {
            let Some(booking) = p.booking(&r)? else {
                return Ok(None);
            };
            let (email, phone) = match p.record("guest", &booking.guest_id.to_string())? {
                Some(Record::Guest(g)) => (g.email, g.phone),
                _ => (None, None),
            };
            let history = p.audit(Some(&r), MAX_HISTORY)?;
            let property = p.property(&booking.property)?;
            let today = property
                .as_ref()
                .and_then(|prop| parse_tz(&prop.timezone).ok())
                .map_or_else(|| now.date_naive(), |tz| local_date(now, tz));
            let room_type_name = p
                .room_types(&booking.property)?
                .into_iter()
                .find(|t| t.code == booking.room_type)
                .map(|t| t.name);
            let id = booking.meta.id.to_string();
            let forwarded: Vec<PendingOp> = p
                .pending(None, Some(OWNER_RELAY_POOL), MAX_FORWARDED_SCAN)?
                .into_iter()
                .filter(|op| concerns(op, &id))
                .collect();
            let agent_name = match &booking.agent {
                Some(a) => match p.record("agent", &a.code)? {
                    Some(Record::Agent(a)) => Some(a.spec.name),
                    _ => None,
                },
                None => None,
            };
            let lines = read_facts(p, &booking)?;
            let mut free_rooms = vec![];
            let from = booking.arrival.max(today);
            if booking.status.holds_stock() && from < booking.departure {
                let nights = Nights {
                    from,
                    to: booking.departure,
                };
                let occ = p.room_occupancy(&booking.property, nights)?;
                let id = booking.meta.id.to_string();
                for room in p.rooms(&booking.property)? {
                    let taken = occ.iter().any(|(n, _, b)| *n == room.number && *b != id);
                    let in_service = nights.iter().all(|d| room.in_service_on(d));
                    let current = booking.stays.last().is_some_and(|s| s.room == room.number);
                    if room.room_type == booking.room_type && !taken && in_service && !current {
                        free_rooms.push(room.number);
                    }
                }
            }
            Ok(Some(Loaded {
                booking,
                email,
                phone,
                history,
                free_rooms,
                today,
                property,
                room_type_name,
                forwarded,
                agent_name,
                lines,
                names: Names::from_parts(vec![], "", ""),
            }))
        })
        .await?;
    let mut l =
        loaded.ok_or_else(|| UiError::not_found(format!("booking {reference} does not exist")))?;
    l.names = names;
    Ok(l)
}

/// The reservation around a booking: its lines and what the forms offer.
#[derive(Default)]
pub(super) struct LinesFacts {
    /// Every line of the reservation (the booking alone when it has one line).
    pub(super) lines: Vec<Booking>,
    /// The property's room types (names, and the add-line choices).
    pub(super) room_types: Vec<RoomType>,
    /// The property's rate plans.
    pub(super) plans: Vec<PricingPlan>,
}

/// Reads the reservation of `b` (inside a read).
pub(super) fn read_facts(p: &ReadPool, b: &Booking) -> Result<LinesFacts, StoreError> {
    let lines = match &b.reservation {
        Some(lead) => {
            let l = p.reservation_lines(&lead.to_string())?;
            if l.is_empty() {
                vec![b.clone()]
            } else {
                l
            }
        }
        None => vec![b.clone()],
    };
    Ok(LinesFacts {
        lines,
        room_types: p.room_types(&b.property)?,
        plans: p.pricing_plans(&b.property)?,
    })
}

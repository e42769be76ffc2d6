//! The line forms' handlers: POST `/ui/bookings/{reference}/edit` (this line's dates or
//! occupancy, `EditBooking`) and `/lines` (`AddReservationLine`). They answer with the booking's
//! page again (`booking_page.rs`), so they live apart from the lines card (`booking_lines.rs`)
//! that the page renders: the page imports the card, these import the page, and no loop forms.

use super::booking_loaded::load;
use super::booking_page::detail_page;
use super::error::{UiError, UiResult};
use super::format::{self, query};
use super::layout;
use super::session::{Posted, UiUser};
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use crate::write::Submitted;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::command::PricingRequest;
use innsync_core::pricing::Party;
use innsync_core::{Booking, BookingEdit, Command, RecordId, ReservationLine};
use serde::Deserialize;

/// The fields of the two forms.
#[derive(Deserialize, Default)]
pub struct LineForm {
    #[serde(default)]
    room_type: String,
    #[serde(default)]
    units: String,
    #[serde(default)]
    arrival: String,
    #[serde(default)]
    departure: String,
    #[serde(default)]
    rate_plan: String,
    #[serde(default)]
    adults: String,
    #[serde(default)]
    children: String,
    version: Option<u64>,
    /// Set when the booking is written elsewhere: the change is sent to its owner.
    #[serde(default)]
    forward: String,
}

fn whole(field: &str, v: &str) -> Result<Option<u32>, Problem> {
    match v.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| Problem::invalid(format!("{field}: {t:?} is not a whole number"))),
    }
}

fn ages(v: &str) -> Result<Option<Vec<u8>>, Problem> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    crate::api::quote_ages(v).map(Some)
}

/// The edit the form asks for: only what differs from the booking.
fn edit_of(user: &UiUser, b: &Booking, f: &LineForm) -> Result<BookingEdit, Problem> {
    let d = user.dates;
    let arrival = d
        .opt("arrival", Some(&f.arrival))
        .map_err(Problem::invalid)?;
    let departure = d
        .opt("departure", Some(&f.departure))
        .map_err(Problem::invalid)?;
    let adults = whole("adults", &f.adults)?;
    let children = ages(&f.children)?;
    let booked = b.pricing.as_ref();
    let booked_children = booked.map(|p| p.children.clone()).unwrap_or_default();
    Ok(BookingEdit {
        arrival: arrival.filter(|a| *a != b.arrival),
        departure: departure.filter(|x| *x != b.departure),
        adults: adults.filter(|a| booked.map(|p| p.adults) != Some(*a)),
        children: match children {
            Some(c) if c != booked_children => Some(c),
            None if !booked_children.is_empty() => Some(vec![]),
            _ => None,
        },
        ..BookingEdit::default()
    })
}

fn line_of(user: &UiUser, f: &LineForm) -> Result<ReservationLine, Problem> {
    let d = user.dates;
    if f.room_type.trim().is_empty() {
        return Err(Problem::invalid("room type: choose one"));
    }
    let adults = whole("adults", &f.adults)?;
    let children = ages(&f.children)?;
    let plan = Some(f.rate_plan.trim().to_string()).filter(|p| !p.is_empty());
    let pricing =
        (plan.is_some() || adults.is_some() || children.is_some()).then(|| PricingRequest {
            rate_plan: plan,
            party: Party {
                adults: adults.unwrap_or(1),
                children: children.unwrap_or_default(),
            },
        });
    Ok(ReservationLine {
        room_type: f.room_type.trim().to_string(),
        arrival: d
            .opt("arrival", Some(&f.arrival))
            .map_err(Problem::invalid)?,
        departure: d
            .opt("departure", Some(&f.departure))
            .map_err(Problem::invalid)?,
        units: whole("rooms", &f.units)?.unwrap_or(1),
        pricing,
    })
}

/// POST `/ui/bookings/{reference}/edit`: changes this line's dates or occupancy.
pub async fn edit(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Posted { user, form }: Posted<LineForm>,
) -> UiResult<Response> {
    user.require(Permission::Book)?;
    let l = load(&state, &reference).await?;
    let was = l.booking.price.as_ref().map(format::money);
    let forward = form.forward == "1";
    let built = edit_of(&user, &l.booking, &form).map(|e| Command::EditBooking {
        id: l.booking.meta.id.clone(),
        edit: Box::new(e),
        // A forwarded change reaches the owner later, when the version may have moved on.
        if_match: if forward { None } else { form.version },
    });
    let mut done = vec![("done", "edited".to_string())];
    if let Some(w) = was {
        done.push(("was", w));
    }
    run(&state, &user, &reference, built, forward, done).await
}

/// POST `/ui/bookings/{reference}/lines`: adds a line to the booking's reservation.
pub async fn add(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Posted { user, form }: Posted<LineForm>,
) -> UiResult<Response> {
    user.require(Permission::Book)?;
    let id = RecordId::parse(&reference)
        .map_err(|_| UiError::not_found(format!("booking {reference} does not exist")))?;
    let built = line_of(&user, &form).map(|line| Command::AddReservationLine {
        reservation: id,
        line,
    });
    let forward = form.forward == "1";
    run(
        &state,
        &user,
        &reference,
        built,
        forward,
        vec![("done", "line-added")],
    )
    .await
}

/// Submits `built` through the API's write path; back to the page with what was done, or the
/// page again with the refusal in plain words.
async fn run<S: AsRef<str>>(
    state: &AppState,
    user: &UiUser,
    reference: &str,
    built: Result<Command, Problem>,
    forward: bool,
    done: Vec<(&str, S)>,
) -> UiResult<Response> {
    let result = match built {
        Ok(cmd) => {
            crate::replication::relay_refused::submit(state, cmd, &user.caller(), None, forward)
                .await
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(sent) => {
            state.pms.wake.notify_waiters();
            let q = match sent {
                Submitted::Done(_) => {
                    let pairs: Vec<(&str, &str)> =
                        done.iter().map(|(k, v)| (*k, v.as_ref())).collect();
                    query(&pairs)
                }
                Submitted::Queued(_) => query(&[("done", "forwarded")]),
            };
            Ok(Redirect::to(&format!("/ui/bookings/{reference}?{q}")).into_response())
        }
        Err(p) => {
            let l = load(state, reference).await?;
            let status = if p.status.is_success() {
                StatusCode::CONFLICT
            } else {
                p.status
            };
            let shown = Problem {
                detail: l.names.plain(&p.detail),
                ..p
            };
            Ok((
                status,
                detail_page(state, user, &l, Some(layout::problem_box(&shown))),
            )
                .into_response())
        }
    }
}

//! The header's search box: one field for a booking reference, a reservation number, a guest's
//! name, e-mail or phone. An exact reference or reservation number opens the booking; anything
//! else lists the matching guests (the guest search the API uses) and bookings.

use super::error::UiResult;
use super::format;
use super::layout::{self, Nav};
use super::session::UiUser;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::guests::MAX_QUERY_LEN;
use innsync_store::BookingFilter;
use maud::html;
use serde::Deserialize;

/// Most guests and bookings the results list.
pub const MAX_RESULTS: usize = 25;

/// The search's query.
#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// GET `/ui/search?q=`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> UiResult<Response> {
    let text = q.q.trim().to_string();
    let server = state.writer.server().to_string();
    if text.is_empty() || text.chars().count() > MAX_QUERY_LEN {
        let body = html! {
            h1 { "Search" }
            p.muted { "Type a booking reference, a reservation number, or a guest's name, e-mail or phone in the search box above (press / to get there)." }
        };
        return Ok(layout::page(&user, &server, Nav::Search, "Search", body).into_response());
    }
    let t = text.clone();
    let (exact, guests, bookings) = state
        .read(move |r| {
            let upper = t.to_uppercase();
            let exact = match r.booking(&upper)? {
                Some(b) => Some(b),
                None => match t.parse::<u64>() {
                    Ok(n) => r
                        .bookings(&BookingFilter {
                            reservation_number: Some(n),
                            limit: 1,
                            ..BookingFilter::default()
                        })?
                        .into_iter()
                        .next(),
                    Err(_) => None,
                },
            };
            if exact.is_some() {
                return Ok((exact, vec![], vec![]));
            }
            let guests = r.search_guests(&t, MAX_RESULTS)?;
            let bookings = r.bookings(&BookingFilter {
                guest: Some(t.clone()),
                limit: MAX_RESULTS,
                ..BookingFilter::default()
            })?;
            Ok((None, guests, bookings))
        })
        .await?;
    if let Some(b) = exact {
        return Ok(Redirect::to(&format!("/ui/bookings/{}", b.meta.id)).into_response());
    }
    let body = html! {
        h1 { "Search: " (text) }
        section.card data-testid="guest-results" {
            h2 { "Guests" }
            @if guests.is_empty() { p.muted { "No guest matches." } } @else {
                table.list {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Phone" } th scope="col" { "Last stay" } } }
                    tbody { @for h in &guests {
                        tr data-guest=(h.guest.meta.id) {
                            td { a href={ "/ui/guests/" (h.guest.meta.id) } { (h.guest.name) } }
                            td { (h.guest.email.clone().unwrap_or_default()) }
                            td { (h.guest.phone.clone().unwrap_or_default()) }
                            td { @if let Some(d) = h.last_stay { (user.dates.show(d)) } }
                        }
                    } }
                }
            }
        }
        section.card data-testid="booking-results" {
            h2 { "Bookings" }
            @if bookings.is_empty() { p.muted { "No booking matches the guest's name." } } @else {
                table.list {
                    thead { tr { th scope="col" { "Reference" } th scope="col" { "Guest" } th scope="col" { "Arrival" } th scope="col" { "Departure" } th scope="col" { "Status" } } }
                    tbody { @for b in &bookings {
                        tr data-booking=(b.meta.id) {
                            td { a href={ "/ui/bookings/" (b.meta.id) } { (b.meta.id) } }
                            td { (b.guest_name) }
                            td { (user.dates.show(b.arrival)) } td { (user.dates.show(b.departure)) }
                            td { (layout::status_badge(b.status)) }
                        }
                    } }
                }
            }
        }
        p.muted { "Tip: a booking reference or reservation number opens the booking directly. " a href={ "/ui/bookings?" (format::query(&[("guest", &text)])) } { "More bookings" } }
    };
    Ok(layout::page(&user, &server, Nav::Search, "Search", body).into_response())
}

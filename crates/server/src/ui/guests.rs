//! Guests in the UI: the look-up on the booking form (an htmx fragment of matches to pick
//! from, each saying whether the guest is returning) and a guest's page with their history.

use super::error::{UiError, UiResult};
use super::format;
use super::layout::{self, Nav};
use super::session::UiUser;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use innsync_core::guests::MAX_QUERY_LEN;
use innsync_core::{BookingStatus, Money, RecordId};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Matches the booking form's look-up lists.
pub const LOOKUP_RESULTS: usize = 8;

/// The look-up's query.
#[derive(Deserialize, Default)]
pub struct LookupQuery {
    #[serde(default)]
    guest_q: String,
    #[serde(default)]
    guest_id: String,
}

/// GET `/ui/guests/lookup?guest_q=`: the matches as radio choices inside the booking form, so
/// the picked guest is sent with it as `guest_id` (none picked: a new guest from the fields).
pub async fn lookup(
    _user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<LookupQuery>,
) -> UiResult<Markup> {
    let text = q.guest_q.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_QUERY_LEN {
        return Ok(
            html! { p.muted data-testid="guest-matches" { "Type a name, e-mail, phone or reference." } },
        );
    }
    let hits = state
        .read(move |r| r.search_guests(&text, LOOKUP_RESULTS))
        .await?;
    Ok(html! {
        div data-testid="guest-matches" {
            @if hits.is_empty() {
                p.muted { "No guest found: enter the new guest's details below." }
            }
            label { input type="radio" name="guest_id" value="" checked[q.guest_id.is_empty()]; " New guest (details below)" }
            @for h in &hits {
                @let id = h.guest.meta.id.to_string();
                label data-guest=(id) {
                    input type="radio" name="guest_id" value=(id) checked[q.guest_id == id];
                    " " strong { (h.guest.name) }
                    @if let Some(e) = &h.guest.email { " · " (e) }
                    @if let Some(p) = &h.guest.phone { " · " (p) }
                    @if let Some(d) = h.last_stay {
                        " · " span.badge data-testid="returning" { "returning guest" } " last stay " (d)
                    }
                    " · " a href={ "/ui/guests/" (id) } target="_blank" { "profile" }
                }
            }
        }
    })
}

/// GET `/ui/guests/{id}`: the guest, preferences, notes and every stay.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> UiResult<Markup> {
    let rid = RecordId::parse(&id)
        .map_err(|_| UiError::not_found(format!("guest {id} does not exist")))?;
    let found = state
        .read(move |r| match r.resolved_guest(&rid)? {
            Some(g) => {
                let stays = r.guest_stays(&g)?;
                Ok(Some((g, stays)))
            }
            None => Ok(None),
        })
        .await?;
    let (g, stays) =
        found.ok_or_else(|| UiError::not_found(format!("guest {id} does not exist")))?;
    let mut spend: BTreeMap<String, i64> = BTreeMap::new();
    for b in stays.iter().filter(|b| {
        matches!(
            b.status,
            BookingStatus::Confirmed | BookingStatus::CheckedIn | BookingStatus::CheckedOut
        )
    }) {
        if let Some(p) = &b.price {
            let e = spend.entry(p.currency.clone()).or_default();
            *e = e.saturating_add(p.amount);
        }
    }
    let server = state.writer.server().to_string();
    let body = html! {
        div.pagehead {
            h1 data-testid="guest-name" { (g.name) }
            @if stays.len() > 1 { span.badge data-testid="returning" { "returning guest" } }
        }
        @if g.meta.id.as_str() != id { (layout::done_box(&format!("Guest {id} was merged into this profile."))) }
        section.card {
            dl {
                dt { "Profile" } dd { (g.meta.id) " · owned by " (g.meta.owner) }
                dt { "E-mail" } dd { (g.email.clone().unwrap_or_default()) }
                dt { "Phone" } dd { (g.phone.clone().unwrap_or_default()) }
                dt { "Preferences" } dd data-testid="preferences" { (g.preferences.clone().unwrap_or_default()) }
                dt { "Notes" } dd { (g.notes.clone().unwrap_or_default()) }
                dt { "Spend" } dd data-testid="spend" {
                    @for (currency, amount) in &spend {
                        (format::money(&Money { amount: *amount, currency: currency.clone() })) " "
                    }
                }
            }
        }
        section.card {
            h2 { "Stays" }
            @if stays.is_empty() { p.muted { "No stays yet." } } @else {
                table.list data-testid="stays" {
                    thead { tr { th { "Reference" } th { "Property" } th { "Type" } th { "Arrival" } th { "Departure" } th { "Status" } th { "Price" } } }
                    tbody {
                        @for b in &stays {
                            tr {
                                td { a href={ "/ui/bookings/" (b.meta.id) } { (b.meta.id) } }
                                td { (b.property) } td { (b.room_type) } td { (b.arrival) } td { (b.departure) }
                                td { (layout::status_badge(b.status)) }
                                td { @if let Some(p) = &b.price { (format::money(p)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&user, &server, Nav::Bookings, &g.name, body))
}

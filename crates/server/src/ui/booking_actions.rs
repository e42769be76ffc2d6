//! A booking's actions: confirm, cancel, check in into a room, assign or move a room, check
//! out, no-show. Actions are the API's commands with the API's permissions; the buttons shown
//! depend on the booking's status, the user's roles and where the booking is written: a
//! button is shown only when it can succeed on this server; a booking written elsewhere offers
//! "send to …" instead, which forwards the command to its owner as a pending operation whose
//! progress the page shows. The domain still decides.

use super::booking_loaded::Loaded;
use super::format::{self};
use super::layout;
use super::session::UiUser;
use crate::auth::Permission;
use innsync_core::BookingStatus;
use maud::{html, Markup};

fn room_select(name: &str, rooms: &[String]) -> Markup {
    html! {
        label { "Room"
            select name=(name) required {
                @for r in rooms { option value=(r) { (r) } }
            }
        }
    }
}

/// Where an action on this booking can be carried out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// On this server.
    Here,
    /// Only by forwarding it to the server that writes it.
    Forward,
    /// Nowhere from here (the booking and its property are written on different servers).
    Nowhere,
}

pub(super) fn actions(user: &UiUser, l: &Loaded) -> Markup {
    let b = &l.booking;
    let book = user.may(Permission::Book);
    let desk = user.may(Permission::FrontDesk);
    let s = b.status;
    let act = |a: &str| format!("/ui/bookings/{}/{a}", b.meta.id);
    let single = b.units == 1;
    let in_stay = b.arrival <= l.today && l.today < b.departure;
    let n = &l.names;
    let booking_writer = n.writer_of(&b.meta.owner);
    let prop_owner = l.property.as_ref().map(|p| p.meta.owner.clone());
    let rooms_writer = prop_owner.as_ref().map(|o| n.writer_of(o));
    // Booking changes: here when this server writes the booking, else forwarded to it.
    let edit = if booking_writer == n.me {
        Place::Here
    } else {
        Place::Forward
    };
    // Room changes need both the booking's and the property's writer.
    let rooms = match rooms_writer.as_deref() {
        Some(w) if w == booking_writer && w == n.me => Place::Here,
        Some(w) if w == booking_writer => Place::Forward,
        _ => Place::Nowhere,
    };
    let owner_name = n.authority(&b.meta.owner);
    let hidden = |place: Place| {
        html! {
            (layout::csrf(user))
            input type="hidden" name="version" value=(b.meta.version);
            @if place == Place::Forward { input type="hidden" name="forward" value="1"; }
        }
    };
    let label = |place: Place, what: &str| -> String {
        match place {
            Place::Forward => format!("{what}: send to {owner_name}"),
            _ => what.to_string(),
        }
    };
    let any = (book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed))
        || (desk && matches!(s, BookingStatus::Confirmed | BookingStatus::CheckedIn));
    let out = html! {
        @if edit == Place::Forward && any {
            p.notice.info data-testid="elsewhere" {
                "This booking is managed by " strong { (owner_name) } ". Changes made here are sent there and done when it receives them."
            }
        }
        @if book && s == BookingStatus::Provisional {
            form method="post" action=(act("confirm")) { (hidden(edit)) button type="submit" data-action="confirm" { (label(edit, "Confirm")) } }
        }
        @if desk && s == BookingStatus::Confirmed {
            @if rooms == Place::Nowhere {
                p.muted data-testid="rooms-elsewhere" {
                    "Rooms at " (l.property.as_ref().map_or(b.property.as_str(), |p| p.name.as_str())) " are assigned on "
                    (prop_owner.as_ref().map_or_else(String::new, |o| n.authority(o))) "; check the guest in there."
                }
            } @else if !in_stay {
                p.muted { "Check-in opens on the arrival day (" (user.dates.show(b.arrival)) ")." }
            } @else if !single || !b.stays.is_empty() {
                form method="post" action=(act("check-in")) { (hidden(rooms)) button type="submit" data-action="check-in" { (label(rooms, "Check in")) } }
            } @else if l.free_rooms.is_empty() {
                div.notice.warn { "No free " (l.room_type_name.as_deref().unwrap_or(&b.room_type)) " room for this stay; move another booking or free a room first." }
            } @else {
                form method="post" action=(act("check-in")) { (hidden(rooms)) (room_select("room", &l.free_rooms)) button type="submit" data-action="check-in" { (label(rooms, "Check in")) } }
            }
            @if single && !l.free_rooms.is_empty() && rooms != Place::Nowhere {
                form method="post" action=(act("assign-room")) {
                    (hidden(rooms)) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="assign-room" { (label(rooms, if b.stays.is_empty() { "Assign room" } else { "Change room" })) }
                }
            }
        }
        @if desk && s == BookingStatus::CheckedIn {
            @if single && !l.free_rooms.is_empty() && rooms != Place::Nowhere {
                form method="post" action=(act("move-room")) {
                    (hidden(rooms)) (room_select("room", &l.free_rooms))
                    button.secondary type="submit" data-action="move-room" { (label(rooms, "Move room")) }
                }
            }
            form method="post" action=(act("check-out")) data-confirm={ "Check out " (b.guest_name) "? Nights not yet stayed are released." } {
                (hidden(edit)) button type="submit" data-action="check-out" { (label(edit, "Check out")) }
            }
        }
        @if book && s == BookingStatus::Confirmed && b.arrival <= l.today {
            form method="post" action=(act("no-show")) data-confirm={ "Mark " (b.meta.id) " as a no-show? Its rooms are released." } {
                (hidden(edit)) button.danger type="submit" data-action="no-show" { (label(edit, "No-show")) }
            }
        }
        @if book && matches!(s, BookingStatus::Provisional | BookingStatus::Confirmed) {
            form method="post" action=(act("cancel")) data-confirm={ "Cancel booking " (b.meta.id) "? This cannot be undone." } {
                (hidden(edit))
                label { "Reason" input name="reason" maxlength="500" placeholder="why (optional)"; }
                button.danger type="submit" data-action="cancel" { (label(edit, "Cancel booking")) }
            }
        }
    };
    html! {
        div.actions { (out) }
        @if !any {
            p.muted data-testid="no-actions" {
                @if !book && !desk { "Your role (" (user.roles_text()) ") may look at bookings but not change them." }
                @else { "Nothing can be done with a booking that is " (format::status_label(s).to_lowercase()) "." }
            }
        }
    }
}

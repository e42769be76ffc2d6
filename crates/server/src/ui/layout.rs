//! The frame every page shares (header, navigation, who is signed in, logout) and the small
//! pieces pages repeat: notices, problem boxes, the CSRF field, status badges.

use super::format;
use super::session::{UiUser, CSRF_FIELD};
use super::shell::head;
pub use super::shell::{bare, problem_title};
use crate::auth::Permission;
use crate::problem::Problem;
use innsync_core::BookingStatus;
use maud::{html, Markup, DOCTYPE};

/// The sections of the navigation, to mark the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// The tape chart.
    Grid,
    /// Booking search and detail.
    Bookings,
    /// The create form.
    NewBooking,
    /// The environment dashboard.
    Environment,
}

/// A full page for a signed-in user.
pub fn page(user: &UiUser, server: &str, nav: Nav, title: &str, body: Markup) -> Markup {
    let link = |target: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(nav == target).then_some("active")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/ui/grid" { "innsync" span.server { (server) } }
                    nav.main {
                        (link(Nav::Grid, "/ui/grid", "Tape chart"))
                        (link(Nav::Bookings, "/ui/bookings", "Bookings"))
                        @if user.may(Permission::Book) {
                            (link(Nav::NewBooking, "/ui/bookings/new", "New booking"))
                        }
                        (link(Nav::Environment, "/ui/environment", "Environment"))
                    }
                    div.who {
                        span.user data-testid="user" { (user.username) }
                        span.roles { (user.roles_text()) }
                        form method="post" action="/ui/logout" {
                            (csrf(user))
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden field that proves a form came from this session's page.
pub fn csrf(user: &UiUser) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(user.csrf); }
}

/// A box explaining why an action was refused.
pub fn problem_box(p: &Problem) -> Markup {
    html! {
        div.notice.bad role="alert" data-testid="problem" data-code=(p.code) {
            // A detail that already starts with the heading's words needs no heading.
            @if !p.detail.to_lowercase().starts_with(&problem_title(p).to_lowercase()) {
                strong { (problem_title(p)) ": " }
            }
            span { (capitalise(&p.detail)) }
        }
    }
}

/// A box confirming what was just done.
pub fn done_box(text: &str) -> Markup {
    html! { div.notice.good role="status" data-testid="done" { (text) } }
}

/// A booking status as a coloured badge.
pub fn status_badge(s: BookingStatus) -> Markup {
    html! { span class={ "badge st-" (s.as_str()) } { (format::status_label(s)) } }
}

/// The first letter in capitals, so domain messages read as sentences.
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => {
            f.to_uppercase().chain(c).collect::<String>() + if s.ends_with('.') { "" } else { "." }
        }
        None => String::new(),
    }
}

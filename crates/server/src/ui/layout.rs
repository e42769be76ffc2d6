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
    /// Today's work at a property.
    Today,
    /// The header search's results.
    Search,
    /// The tape chart.
    Grid,
    /// Booking search and detail.
    Bookings,
    /// The create form.
    NewBooking,
    /// The environment dashboard.
    Environment,
    /// Rooms and out-of-order periods.
    Rooms,
    /// Rate plans of a property.
    RatePlans,
    /// Users and roles.
    Users,
    /// Who holds a property's rooms.
    Allotments,
    /// The list of admin screens.
    Admin,
}

impl Nav {
    /// Whether the page is one of the admin screens (one "Admin" entry in the menu).
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Nav::RatePlans | Nav::Users | Nav::Allotments | Nav::Admin
        )
    }
}

/// A full page for a signed-in user.
pub fn page(user: &UiUser, server: &str, nav: Nav, title: &str, body: Markup) -> Markup {
    let link = |target: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=[(nav == target).then_some("active")]
                aria-current=[(nav == target).then_some("page")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href=(super::HOME) { "innsync" span.server { (server) } }
                    nav.main aria-label="Main" {
                        (link(Nav::Today, "/ui/today", "Today"))
                        (link(Nav::Grid, "/ui/grid", "Tape chart"))
                        (link(Nav::Bookings, "/ui/bookings", "Bookings"))
                        @if user.may(Permission::Book) {
                            (link(Nav::NewBooking, "/ui/bookings/new", "New booking"))
                        }
                        (link(Nav::Rooms, "/ui/rooms", "Rooms"))
                        a href="/ui/admin" class=[nav.is_admin().then_some("active")]
                            aria-current=[nav.is_admin().then_some("page")] { "Admin" }
                        (link(Nav::Environment, "/ui/environment", "Environment"))
                    }
                    form.search role="search" method="get" action="/ui/search" {
                        label.sr-only for="header-search" { "Search bookings and guests" }
                        input #header-search type="search" name="q" maxlength="200"
                            placeholder="Search: reference, number, guest, e-mail, phone ( / )"
                            aria-keyshortcuts="/" data-testid="header-search";
                        button.secondary type="submit" { "Search" }
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
                main #main tabindex="-1" { (body) }
                footer.keys.muted {
                    "Keys: " kbd { "/" } " search · " kbd { "t" } " today · " kbd { "n" } " new booking · " kbd { "g" } " tape chart"
                }
            }
        }
    }
}

/// A date field in the installation's convention (a text field, so the browser's locale
/// cannot impose another order), labelled; `min` is shown as a hint and checked by the server.
pub fn date_field(user: &UiUser, label: &str, name: &str, value: &str, required: bool) -> Markup {
    let shown = user
        .dates
        .parse(value)
        .map_or_else(|| value.to_string(), |d| user.dates.show(d));
    html! {
        label { (label)
            input type="text" name=(name) value=(shown) required[required]
                inputmode="numeric" autocomplete="off" data-date-field=""
                pattern=(user.dates.html_pattern()) placeholder=(user.dates.placeholder())
                title={ "a date as " (user.dates.placeholder()) };
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

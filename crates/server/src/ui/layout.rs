//! The frame every page shares (header, navigation, who is signed in, logout) and the small
//! pieces pages repeat: notices, problem boxes, the CSRF field, status badges.

use super::format;
use super::session::{UiUser, CSRF_FIELD};
use crate::auth::Permission;
use crate::problem::Problem;
use axum::http::StatusCode;
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

/// The `<head>` of every page: stylesheet, htmx and the confirmation script, all served by
/// this binary (no CDN).
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx must not inject inline styles: the CSP forbids them.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
            title { (title) " · innsync" }
            link rel="stylesheet" href="/ui/assets/app.css";
            script src="/ui/assets/htmx.min.js" defer {}
            script src="/ui/assets/app.js" defer {}
        }
    }
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

/// A page without a session (login, errors before authentication).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                header.top {
                    a.brand href="/ui/grid" { "innsync" }
                }
                main { (body) }
            }
        }
    }
}

/// The page shown for a failure, in plain words.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Markup {
    bare(
        title,
        html! {
            section.card.error-page {
                h1 { (title) }
                p.detail data-testid="error-detail" { (detail) }
                p.muted { "HTTP " (status.as_u16()) }
                p {
                    a href="/ui/grid" { "Tape chart" } " · "
                    a href="/ui/bookings" { "Bookings" } " · "
                    a href="/ui/login" { "Log in as someone else" }
                }
            }
        },
    )
}

/// The hidden field that proves a form came from this session's page.
pub fn csrf(user: &UiUser) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(user.csrf); }
}

/// A problem's heading in plain words, by its code.
pub fn problem_title(p: &Problem) -> &'static str {
    match p.code {
        "invalid_input" => "Please check the form",
        "unauthorized" => "Please log in",
        "forbidden" => "Not allowed",
        "not_found" => "Not found",
        "version_conflict" => "Someone changed this booking meanwhile",
        "no_availability" => "No availability",
        "not_master" => "This server is not the master",
        "not_owner" => "This record is managed by another server",
        "invalid_transition" => "Not possible now",
        "already_exists" => "Already exists",
        "room_unavailable" => "The room is not available",
        "handover_in_progress" => "A master handover is in progress",
        "unavailable" => "Temporarily unavailable; nothing was saved",
        _ => "Something went wrong",
    }
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

//! The frame of a page that needs no session: the `<head>`, the bare page (login, errors before
//! authentication), the error page and a problem's heading in plain words. Below `layout`
//! (which adds the signed-in frame) and `error` (which renders failures with it).

use crate::problem::Problem;
use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

/// The `<head>` of every page: stylesheet, htmx and the confirmation script, all served by
/// this binary (no CDN).
pub(super) fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx must not inject inline styles: the CSP forbids them.
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
            title { (title) " · innsync" }
            link rel="icon" type="image/svg+xml" href="/ui/assets/favicon.svg";
            link rel="stylesheet" href="/ui/assets/app.css";
            script src="/ui/assets/htmx.min.js" defer {}
            script src="/ui/assets/app.js" defer {}
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
                    a.brand href=(super::HOME) { "innsync" }
                }
                main #main { (body) }
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
                    a href="/ui/today" { "Today" } " · "
                    a href="/ui/grid" { "Tape chart" } " · "
                    a href="/ui/bookings" { "Bookings" } " · "
                    a href="/ui/login" { "Log in as someone else" }
                }
            }
        },
    )
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

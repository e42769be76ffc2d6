//! The operator's web UI: server-rendered pages under `/ui`, served by the same binary.
//!
//! Pages are plain HTML rendered with maud (every interpolated value is escaped), with htmx
//! (shipped inside the binary, see `assets.rs`) for the few live parts. Handlers do what the
//! JSON handlers do: they read through `AppState::read` and write only by submitting domain
//! `Command`s to the writer, so the UI enforces exactly the API's rules. One file per page:
//! `login.rs`, `grid.rs`, `bookings.rs` (the list), `booking_page.rs` (one booking),
//! `booking_actions.rs` (its buttons), `booking_lines.rs` (its reservation's lines, add a line,
//! edit dates and occupancy), `booking_new.rs` (create) with `booking_agent.rs` (sold for an
//! agent), `dashboard.rs` (environment and PMS links, from
//! `replication::environment_view::EnvironmentView`), `operations.rs` (pending operations,
//! conflicts, transfer now), `today.rs` (the start page: the day's work at a property),
//! `search.rs` (the header's search), `who_sells.rs` (the availability table: free rooms, what
//! this server sells, who holds the rest, request units), `words.rs` (names and plain words
//! instead of codes), and the admin screens `admin_rooms.rs` (rooms, out of order),
//! `admin_plans.rs` (rate plans), `admin_users.rs` (users and roles), `admin_allotments.rs`
//! (who holds the rooms; give and request units); `session.rs` is the cookie session and CSRF
//! guard, `layout.rs` the shared frame, `error.rs` how failures are shown.

mod admin;
mod admin_allotments;
mod admin_plans;
mod admin_plans_draft;
mod admin_rooms;
mod admin_users;
mod assets;
mod booking_act;
mod booking_actions;
mod booking_agent;
mod booking_line_edits;
mod booking_lines;
mod booking_loaded;
mod booking_new;
mod booking_page;
mod bookings;
mod dashboard;
mod error;
mod folio;
mod format;
mod grid;
mod guests;
mod layout;
mod login;
mod operations;
mod reports;
mod search;
mod session;
mod shell;
mod today;
mod who_sells;
mod words;

use crate::state::AppState;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use error::UiError;
pub use session::{UiUser, SESSION_COOKIE};

/// The page a signed-in user lands on.
pub const HOME: &str = "/ui/today";

/// Content Security Policy of every UI page: only this server's own scripts, styles and forms.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                       script-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// The UI's routes (merged into the server's router).
pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .route("/ui", get(|| async { Redirect::to(HOME) }))
        .route("/ui/", get(|| async { Redirect::to(HOME) }))
        .route("/ui/login", get(login::page).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route("/ui/assets/{file}", get(assets::serve))
        .route("/ui/today", get(today::page))
        .route("/ui/search", get(search::page))
        .route("/ui/grid", get(grid::page))
        .route(
            "/ui/bookings",
            get(bookings::list).post(booking_new::create),
        )
        .route("/ui/bookings/new", get(booking_new::form))
        .route(
            "/ui/bookings/new/availability",
            get(booking_new::availability),
        )
        .route("/ui/bookings/new/plan", get(booking_agent::plan_field))
        .route("/ui/guests/lookup", get(guests::lookup))
        .route("/ui/guests/{id}", get(guests::page))
        .route("/ui/bookings/{reference}", get(bookings::detail))
        .route("/ui/bookings/{reference}/folio", get(folio::show))
        .route("/ui/folio/{reference}/{action}", post(folio::act))
        .route("/ui/invoices/{number}", get(folio::invoice))
        .route("/ui/bookings/{reference}/{action}", post(bookings::act))
        .route(
            "/ui/bookings/{reference}/edit",
            post(booking_line_edits::edit),
        )
        .route(
            "/ui/bookings/{reference}/lines",
            post(booking_line_edits::add),
        )
        .route("/ui/environment", get(dashboard::page))
        .route("/ui/reports", get(reports::page))
        .route("/ui/environment/handover", post(dashboard::handover))
        .route("/ui/environment/transfer", post(operations::transfer))
        .route("/ui/pending/{id}/{action}", post(operations::steer))
        .route("/ui/conflicts/{id}/{action}", post(operations::settle))
        .route("/ui/pms/{name}/reset", post(dashboard::reset))
        .route("/ui/allotments/request", post(who_sells::request))
        .route("/ui/rooms", get(admin_rooms::page))
        .route("/ui/rooms/out-of-order", post(admin_rooms::out_of_order))
        .route(
            "/ui/rooms/back-in-service",
            post(admin_rooms::back_in_service),
        )
        .route(
            "/ui/rate-plans",
            get(admin_plans::page).post(admin_plans::save),
        )
        .route(
            "/ui/users",
            get(admin_users::page).post(admin_users::create),
        )
        .route("/ui/admin", get(admin::page))
        .route("/ui/allotments", get(admin_allotments::page))
        .route("/ui/allotments/grant", post(admin_allotments::grant))
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .layer(axum::middleware::map_response(security_headers));
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/favicon.ico", get(assets::favicon))
        .merge(pages)
}

/// Any other `/ui/...` address: the UI's own error page, not the API's JSON.
async fn not_found(uri: axum::http::Uri) -> UiError {
    UiError::not_found(format!(
        "there is no page at {}; use the menu to find what you were looking for",
        uri.path()
    ))
}

/// Adds the headers every UI answer carries: the CSP (no inline script, no framing), no MIME
/// sniffing, no referrer leaving the site. Set here once so no page can forget them.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (HeaderName::from_static("referrer-policy"), "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}

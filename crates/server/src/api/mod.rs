//! The routes of `/api/v1` and the operational endpoints, assembled into one router.

mod agents;
mod allotments;
mod availability;
mod bookings;
mod conditional;
mod copies;
mod folio;
mod invoice_html;
mod reports;
mod reservations;
mod terms;

pub(crate) use folio::audit_summary;
pub(crate) use invoice_html::{money as invoice_money, render as invoice_page};
mod guests;
mod ops;

pub(crate) use quote::ages as quote_ages;
mod pms;
mod quote;
mod rate_plans;
mod reference;
mod users;

use crate::metrics;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::Router;

/// Every route, with limits, metrics and problem+json fallbacks.
#[allow(
    clippy::too_many_lines,
    reason = "the route table: one line per route, read as a list"
)]
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login", post(users::login))
        .route("/me", get(users::me))
        .route("/logout", post(users::logout))
        .route("/users", get(users::list).post(users::create))
        .route(
            "/properties",
            get(reference::list_properties).post(reference::create_property),
        )
        .route("/properties/{code}", get(reference::get_property))
        .route(
            "/properties/{code}/room-types",
            get(reference::list_room_types).post(reference::create_room_type),
        )
        .route(
            "/properties/{code}/rooms",
            get(reference::list_rooms).post(reference::create_room),
        )
        .route(
            "/properties/{code}/rooms/{number}/out-of-order",
            post(reference::out_of_order),
        )
        .route(
            "/properties/{code}/rooms/{number}/back-in-service",
            post(reference::back_in_service),
        )
        .route("/properties/{code}/rates", get(reference::list_rates))
        .route(
            "/properties/{code}/rates/{room_type}",
            put(reference::set_rate),
        )
        .route("/properties/{code}/occupancy", get(availability::occupancy))
        .route("/availability", get(availability::availability))
        .route("/quote", get(quote::get))
        .route("/properties/{code}/rate-plans", get(rate_plans::list))
        .route(
            "/properties/{code}/rate-plans/{plan}",
            get(rate_plans::get).put(rate_plans::put),
        )
        .route("/allotments", get(allotments::list))
        .route("/allotments/shortfalls", get(allotments::shortfalls))
        .route("/allotments/grant", post(allotments::grant))
        .route("/allotments/request", post(allotments::request))
        .route("/guests", get(guests::search).post(bookings::create_guest))
        .route("/guests/merge", post(guests::merge))
        .route("/guests/{id}", get(guests::get).patch(guests::patch))
        .route("/guests/{id}/history", get(guests::history))
        .route("/guests/{id}/export", get(guests::export))
        .route("/guests/{id}/erase", post(guests::erase))
        .route("/bookings", get(bookings::list).post(bookings::create))
        .route(
            "/bookings/{reference}",
            get(bookings::get).patch(reservations::edit),
        )
        .route("/reservations/{reference}", get(reservations::get))
        .route("/agents", get(agents::list))
        .route("/agents/{code}", get(agents::get).put(agents::put))
        .route("/agents/{code}/allotment", get(agents::allotment))
        .route(
            "/reservations/{reference}/lines",
            post(reservations::add_line),
        )
        .route("/bookings/{reference}/history", get(bookings::history))
        .route(
            "/bookings/{reference}/notes",
            get(bookings::notes).post(bookings::add_note),
        )
        .route("/bookings/{reference}/folio", get(folio::get_folio))
        .route("/bookings/{reference}/terms", get(terms::get_terms))
        .route(
            "/bookings/{reference}/cancellation",
            post(terms::post_cancellation),
        )
        .route("/bookings/{reference}/charges", post(folio::post_charge))
        .route("/bookings/{reference}/payments", post(folio::post_payment))
        .route(
            "/bookings/{reference}/corrections",
            post(folio::post_correction),
        )
        .route(
            "/bookings/{reference}/transfers",
            post(folio::post_transfer),
        )
        .route("/bookings/{reference}/invoices", post(folio::post_invoice))
        .route("/invoices/{number}", get(folio::get_invoice))
        .route(
            "/invoices/{number}/credit-note",
            post(folio::post_credit_note),
        )
        .route(
            "/properties/{code}/catalog",
            get(folio::get_catalog).put(folio::put_catalog),
        )
        .route("/night-audit", post(folio::run_night_audit))
        .route("/reports/{name}", get(reports::report))
        .route("/bookings/{reference}/{action}", post(bookings::act))
        .route("/pms", get(pms::list))
        .route("/pms/links/{name}", put(pms::put_link))
        .route("/pms/links/{name}/reset", post(pms::reset))
        .route("/pms/{name}/reset", post(pms::reset))
        .route("/copies", post(copies::import))
        .route("/copies/delete", post(copies::delete_copy))
        .route("/records/delete", post(copies::delete))
        .route("/pending", get(crate::replication::pending_ops::list))
        .route(
            "/pending/{id}/{action}",
            post(crate::replication::pending_ops::steer),
        )
        .route("/audit", get(ops::audit))
        .route("/environment", get(ops::environment))
        .route("/environment/handover", post(ops::handover))
        .route("/environment/transfer", post(ops::transfer))
        .route("/digest", get(ops::digest))
        .route("/conflicts", get(ops::conflicts))
        .route("/conflicts/{id}/{action}", post(ops::settle_conflict))
        .route("/environment/takeover", post(ops::takeover))
        .route("/openapi.json", get(ops::openapi));
    let public = Router::new()
        .nest("/api/v1", api)
        .merge(crate::ui::router())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        // One pool for the whole public API and UI (a per-route limit would let one route's
        // stalled requests take a route-sized share each).
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            std::sync::Arc::new(tokio::sync::Semaphore::new(
                state.settings.max_concurrent_requests,
            )),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.settings.request_timeout,
        ));
    public
        .merge(peer_router(&state))
        // Authenticated from the headers before any body is read or any slot is taken.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::gate::api_gate,
        ))
        .layer(axum::middleware::from_fn(crate::gate::deadline_problem))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Peer answers up to this size are sent as they are; larger ones gzip-compressed.
pub const COMPRESS_ABOVE_BYTES: u16 = 512;

/// The routes between servers of an environment, in their own pool (the public API cannot
/// starve replication) and behind the peer gate (no body is read for an unproven peer).
fn peer_router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/replication/pull",
            post(crate::replication::endpoint::pull),
        )
        .route(
            "/api/v1/replication/relay",
            post(crate::replication::owner_relay::relay_endpoint),
        )
        .route(
            "/api/v1/replication/offer",
            post(crate::replication::ownership::offer),
        )
        .route(
            "/api/v1/replication/await",
            post(crate::replication::ownership::await_record),
        )
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            std::sync::Arc::new(tokio::sync::Semaphore::new(
                state.settings.max_concurrent_peer_requests,
            )),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.settings.peer_route_timeout,
        ))
        // Answers between servers go gzip-compressed to a peer that asks for it (every
        // innsync peer does): pulls are JSON, and links to lodges are slow and metered. An
        // empty long-poll answer is left as it is: gzip's framing would make it longer.
        .layer(
            tower_http::compression::CompressionLayer::new().compress_when(
                tower_http::compression::predicate::SizeAbove::new(COMPRESS_ABOVE_BYTES),
            ),
        )
        // Outside the compression: each peer's traffic counted as sent (issue 22).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::replication::link_served::count_served,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::gate::peer_gate,
        ))
}

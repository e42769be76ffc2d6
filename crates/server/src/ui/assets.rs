//! The UI's static files, compiled into the binary so the UI needs no CDN and no build step:
//! htmx (upstream `htmx.org` 2.0.11, 0BSD, unmodified), the stylesheet and a few lines of
//! script for confirmations.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// GET `/favicon.ico`: browsers ask for it at the root whatever the page says.
pub async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

/// htmx, minified, as published.
pub const HTMX: &str = include_str!("../../assets/htmx.min.js");
/// The stylesheet.
pub const CSS: &str = include_str!("../../assets/app.css");
/// Confirmation prompts for dangerous actions (no inline script: the CSP forbids it).
pub const JS: &str = include_str!("../../assets/app.js");

/// The tab icon: a small bed on the brand's colour.
pub const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// Serves one asset by name; anything else is 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, ctype) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            // Short: a new binary may change them, and there is no fingerprint in the name.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

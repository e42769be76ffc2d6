//! The operator's web UI: server-rendered pages under `/ui`, served by the same binary.

use crate::state::AppState;
use axum::Router;

/// The UI's routes (merged into the server's router).
pub fn router() -> Router<AppState> {
    Router::new()
}

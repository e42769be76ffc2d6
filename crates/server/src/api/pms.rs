//! PMS links: configure, list with state and counters, and start a General Reset.

use crate::auth::{Caller, Permission};
use crate::extract::ApiJson;
use crate::pms::LinkSettings;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use innsync_store::LocalWrite;
use serde_json::json;

pub(crate) async fn put_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(settings): ApiJson<LinkSettings>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::Admin)?;
    settings.validate(&name).map_err(Problem::invalid)?;
    let p = settings.property.clone();
    if state.read(move |r| r.property(&p)).await?.is_none() {
        return Err(Problem::not_found(format!(
            "property {} not found",
            settings.property
        )));
    }
    let config = serde_json::to_string(&settings).map_err(|e| Problem::invalid(e.to_string()))?;
    crate::write::local(
        &state,
        LocalWrite::PmsLink {
            name: name.clone(),
            config,
        },
    )
    .await?;
    let n = name.clone();
    let delivered = state
        .read(move |r| {
            Ok(r.pms_links()?
                .into_iter()
                .find(|l| l.name == n)
                .map(|l| l.delivered))
        })
        .await?
        .unwrap_or(0);
    state.pms.start(&state, &name, settings.clone(), delivered);
    Ok(Json(json!({ "name": name, "settings": settings })))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<serde_json::Value> {
    Json(json!({ "links": state.pms.statuses() }))
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require(Permission::FrontDesk)?;
    if !state.pms.reset(&name) {
        return Err(Problem::not_found(format!("PMS link {name} not found")));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "link": name, "general_reset": "requested" })),
    )
        .into_response())
}

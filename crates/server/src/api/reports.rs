//! `GET /api/v1/reports/{name}?property&from&to`: the reports of `innsync_store::reports`, as
//! JSON or, with `Accept: text/csv`, as CSV; each says how fresh its data is per origin.

use crate::auth::Caller;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::limits::MAX_RANGE_NIGHTS;
use innsync_store::reports::REPORTS;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportQuery {
    property: String,
    #[serde(deserialize_with = "crate::extract::date")]
    from: NaiveDate,
    #[serde(default, deserialize_with = "crate::extract::opt_date")]
    to: Option<NaiveDate>,
}

/// One report.
pub(crate) async fn report(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    if !REPORTS.contains(&name.as_str()) {
        return Err(Problem::not_found(format!(
            "no report {name:?}; one of {}",
            REPORTS.join(", ")
        )));
    }
    let to = q.to.unwrap_or_else(|| q.from.succ_opt().unwrap_or(q.from));
    let nights = Nights::new(q.from, to, MAX_RANGE_NIGHTS).map_err(Problem::invalid)?;
    let p = q.property.clone();
    if state.read(move |r| r.property(&p)).await?.is_none() {
        return Err(Problem::not_found(format!(
            "property {} not found",
            q.property
        )));
    }
    let deposit = innsync_store::reports::DepositBasis {
        now: (state.clock)(),
        fallback_bp: state.settings.deposit_bp,
    };
    let report = state
        .read(move |r| r.report(&name, &q.property, nights, deposit))
        .await?;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if csv {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report.to_csv(),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}

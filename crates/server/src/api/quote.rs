//! `GET /api/v1/quote`: every room type × rate plan of a property for a stay and a party —
//! what this server may sell, what is free at the property, who holds the rest, the price per
//! night and in total, and the restrictions that apply or refuse. Read-only; the store reads
//! the facts in one transaction (from its read state) and the core prices them. The answer
//! carries the change-log position it reflects, as `position` and as its `ETag`.

use super::conditional;
use crate::auth::Caller;
use crate::extract::date;
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::NaiveDate;
use innsync_core::dates::Nights;
use innsync_core::limits::MAX_UNITS;
use innsync_core::pricing::{quote, Party, QuoteLine};
use serde::{Deserialize, Serialize};

/// Most children one quote lists.
const MAX_CHILDREN: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuoteQuery {
    property: String,
    #[serde(deserialize_with = "date")]
    from: NaiveDate,
    #[serde(deserialize_with = "date")]
    to: NaiveDate,
    adults: Option<u32>,
    children: Option<String>,
    rate_plan: Option<String>,
    units: Option<u32>,
    agent: Option<String>,
}

/// The answer.
#[derive(Serialize)]
pub(crate) struct QuoteAnswer {
    property: String,
    from: NaiveDate,
    to: NaiveDate,
    nights: usize,
    adults: u32,
    children: Vec<u8>,
    units: u32,
    lines: Vec<QuoteLine>,
    /// The change-log position the quote reflects (its `ETag`).
    position: innsync_store::Position,
}

/// Parses `7,11` into ages.
pub(crate) fn ages(s: &str) -> Result<Vec<u8>, Problem> {
    let out: Vec<u8> = s
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse::<u8>().ok().filter(|n| *n <= 17).ok_or_else(|| {
                Problem::invalid(format!(
                    "children: ages are whole numbers 0 to 17, separated by commas; got {a:?}"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if out.len() > MAX_CHILDREN {
        return Err(Problem::invalid(format!(
            "children: at most {MAX_CHILDREN}"
        )));
    }
    Ok(out)
}

pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    ApiQuery(mut q): ApiQuery<QuoteQuery>,
) -> ApiResult<Response> {
    if let Some(code) = q.agent.clone() {
        // The agent's contracted plan, unless the caller names one (issue 17).
        let c = code.clone();
        let plan = match state.read(move |r| r.record("agent", &c)).await? {
            Some(innsync_core::Record::Agent(a)) => a.spec.rate_plan,
            _ => return Err(Problem::invalid(format!("agent: no agent {code}"))),
        };
        if q.rate_plan.is_none() {
            q.rate_plan = plan;
        }
    }
    let nights = Nights::stay(q.from, q.to).map_err(|e| Problem::invalid(format!("to: {e}")))?;
    let adults = q.adults.unwrap_or(1);
    if adults == 0 || adults > 100 {
        return Err(Problem::invalid("adults: 1 to 100 per room"));
    }
    let units = q.units.unwrap_or(1);
    if units == 0 || units > MAX_UNITS {
        return Err(Problem::invalid(format!("units: 1 to {MAX_UNITS}")));
    }
    let children = match &q.children {
        Some(s) => ages(s)?,
        None => vec![],
    };
    let party = Party {
        adults,
        children: children.clone(),
    };
    if let Some(unchanged) = conditional::not_modified(&state, &headers).await? {
        return Ok(unchanged);
    }
    let (facts, position) = match state.reads.quote_facts_now(&q.property, nights) {
        Some(found) => found,
        None => {
            let p = q.property.clone();
            state
                .read(move |r| r.quote_facts_at(&p, nights))
                .await?
                .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?
        }
    };
    if let Some(plan) = &q.rate_plan {
        if !facts.plans.iter().any(|p| &p.code == plan) {
            return Err(Problem::not_found(format!(
                "rate plan {plan} of property {} not found",
                q.property
            )));
        }
    }
    let lines = quote(&facts, nights, &party, units, q.rate_plan.as_deref());
    let etag = position.etag();
    let answer = QuoteAnswer {
        property: q.property,
        from: q.from,
        to: q.to,
        nights: nights.len(),
        adults,
        children,
        units,
        lines,
        position,
    };
    Ok(conditional::answer(&headers, &etag, Json(answer)))
}

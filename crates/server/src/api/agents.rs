//! Agents and tour operators: `PUT /api/v1/agents/{code}` (create or replace, `If-Match`,
//! forwardable), `GET /api/v1/agents`, `GET /api/v1/agents/{code}`, and
//! `GET /api/v1/agents/{code}/allotment?property&from&to` — the agent's contracted allotment
//! as its holder's ordinary allotment (given and released by `[[allotment_rules]]`), the units
//! the agent picked up per night and those still unsold.

use crate::auth::{Caller, Permission};
use crate::extract::{opt_date, ApiJson, ApiQuery, Forward, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::{queued_response, written, Submitted};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use innsync_core::agent::{Agent, AgentSpec};
use innsync_core::dates::Nights;
use innsync_core::{Authority, Command, Record, ServerCode};
use innsync_store::BookingFilter;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// Most agents one list answers.
const MAX_AGENTS: usize = 1_000;
/// Most bookings looked at for one agent's pickup.
const MAX_PICKUP_BOOKINGS: usize = 5_000;

/// The body of `PUT /api/v1/agents/{code}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentBody {
    name: String,
    contact: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    commission_bp: u32,
    rate_plan: Option<String>,
    payment_terms: Option<String>,
    holder: Option<String>,
}

fn agent_response(status: StatusCode, a: &Agent) -> Response {
    let mut resp = (status, Json(a)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", a.meta.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    IfMatch(if_match): IfMatch,
    Path(code): Path<String>,
    ApiJson(b): ApiJson<AgentBody>,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let holder = b
        .holder
        .map(|h| {
            let h = h.strip_prefix("server:").unwrap_or(&h).to_string();
            ServerCode::parse(&h).map_err(|e| Problem::invalid(format!("holder: {e}")))
        })
        .transpose()?;
    let cmd = Command::PutAgent {
        code,
        spec: Box::new(AgentSpec {
            name: b.name,
            contact: b.contact,
            email: b.email,
            phone: b.phone,
            commission_bp: b.commission_bp,
            rate_plan: b.rate_plan,
            payment_terms: b.payment_terms,
            holder,
        }),
        if_match,
    };
    let out = match relay_refused::submit(&state, cmd, &caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    match written(out.outcome())? {
        Record::Agent(a) => {
            let status = if a.meta.version == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(agent_response(status, a))
        }
        _ => Err(Problem::unavailable("unexpected record written")),
    }
}

async fn load(state: &AppState, code: &str) -> ApiResult<Agent> {
    let c = code.to_string();
    match state.read(move |r| r.record("agent", &c)).await? {
        Some(Record::Agent(a)) => Ok(a),
        _ => Err(Problem::not_found(format!("agent {code} not found"))),
    }
}

pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let a = load(&state, &code).await?;
    Ok(agent_response(StatusCode::OK, &a))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let rows = state
        .read(|r| r.records_of_kind("agent", MAX_AGENTS))
        .await?;
    let agents: Vec<Agent> = rows
        .into_iter()
        .filter_map(|r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    Ok(Json(json!({ "agents": agents })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AllotmentQuery {
    property: String,
    #[serde(default, deserialize_with = "opt_date")]
    from: Option<NaiveDate>,
    #[serde(default, deserialize_with = "opt_date")]
    to: Option<NaiveDate>,
}

/// The agent's contracted allotment at a property: per room type and night, what its holder
/// holds and has sold, what the agent picked up (its live bookings' units) and what is unsold.
pub(crate) async fn allotment(
    State(state): State<AppState>,
    _caller: Caller,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<AllotmentQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let a = load(&state, &code).await?;
    let (Some(from), Some(to)) = (q.from, q.to) else {
        return Err(Problem::invalid("from and to: both required (YYYY-MM-DD)"));
    };
    let nights = Nights::stay(from, to).map_err(Problem::invalid)?;
    let property = q.property.clone();
    let holdings = state
        .read(move |r| r.holdings(&property, nights))
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {} not found", q.property)))?;
    let pickup = pickup(&state, &a.code, &q.property, nights).await?;
    let holder = a.spec.holder.clone().map(Authority::Server);
    let room_types: Vec<serde_json::Value> = holdings
        .room_types
        .iter()
        .map(|t| {
            let nights: Vec<serde_json::Value> = t
                .nights
                .iter()
                .map(|n| {
                    let h = holder
                        .as_ref()
                        .and_then(|h| n.holders.iter().find(|x| &x.holder == h));
                    let held = h.map_or(0, |h| h.held);
                    let sold = h.map_or(0, |h| h.sold);
                    let picked = pickup.get(&(t.code.clone(), n.date)).copied().unwrap_or(0);
                    json!({"date": n.date, "held": held, "sold_by_holder": sold,
                           "picked_up": picked, "unsold": (held - i64::from(sold)).max(0)})
                })
                .collect();
            json!({"code": t.code, "nights": nights})
        })
        .collect();
    Ok(Json(json!({
        "agent": a.code,
        "holder": holder.map(|h| h.to_string()),
        "property": holdings.property,
        "from": from,
        "to": to,
        "room_types": room_types,
    })))
}

/// Units of the agent's live bookings at `property`, per room type and night.
async fn pickup(
    state: &AppState,
    agent: &str,
    property: &str,
    nights: Nights,
) -> ApiResult<BTreeMap<(String, NaiveDate), u32>> {
    let mut out: BTreeMap<(String, NaiveDate), u32> = BTreeMap::new();
    let mut after: Option<String> = None;
    let page = 500;
    let mut seen = 0;
    loop {
        let filter = BookingFilter {
            property: Some(property.to_string()),
            reservation_number: None,
            from: Some(nights.from),
            to: Some(nights.to),
            status: None,
            guest: None,
            after: after.clone(),
            limit: page,
        };
        let rows = state.read(move |r| r.bookings(&filter)).await?;
        let n = rows.len();
        for b in &rows {
            if !b.status.holds_stock() || b.agent.as_ref().map(|a| a.code.as_str()) != Some(agent) {
                continue;
            }
            for night in b.nights().iter().filter(|d| nights.contains(*d)) {
                *out.entry((b.room_type.clone(), night)).or_default() += b.units;
            }
        }
        seen += n;
        after = rows.last().map(|b| b.meta.id.to_string());
        if n < page || seen >= MAX_PICKUP_BOOKINGS {
            break;
        }
    }
    Ok(out)
}

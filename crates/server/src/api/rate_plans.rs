//! Rate plans of a property: `PUT …/rate-plans/{plan}` creates or replaces one whole
//! (`If-Match` honoured; every field checked by the core, a refusal naming the field and
//! writing nothing), `GET …/rate-plans` lists them, `GET …/rate-plans/{plan}` reads one.

use crate::auth::{Caller, Permission};
use crate::extract::{parse_json, Forward, IfMatch};
use crate::problem::{ApiResult, Problem};
use crate::replication::relay_refused;
use crate::state::AppState;
use crate::write::written;
use crate::write::{queued_response, Submitted};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use innsync_core::pricing::{PlanSpec, PricingPlan};
use innsync_core::{Command, Record};
use serde_json::{json, Value};

/// The first key of `input` that `known` (the same body parsed and written back, every field
/// present) does not have, as a path: a misspelt field is refused, never silently dropped.
fn unknown_key(input: &Value, known: &Value, path: &str) -> Option<String> {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => i.iter().find_map(|(key, v)| {
            let p = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match k.get(key) {
                None => Some(p),
                Some(kv) => unknown_key(v, kv, &p),
            }
        }),
        (Value::Array(i), Value::Array(k)) => i
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(n, (v, kv))| unknown_key(v, kv, &format!("{path}[{n}]"))),
        _ => None,
    }
}

fn plan_response(status: StatusCode, plan: &PricingPlan) -> Response {
    let mut resp = (status, Json(plan)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", plan.meta.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Forward(fwd): Forward,
    IfMatch(if_match): IfMatch,
    Path((property, code)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Permission::Rates)?;
    let spec: PlanSpec = parse_json(&body)?;
    let input: Value = parse_json(&body)?;
    let known = serde_json::to_value(&spec).map_err(|e| Problem::invalid(e.to_string()))?;
    if let Some(path) = unknown_key(&input, &known, "") {
        return Err(Problem::invalid(format!("{path}: unknown field")));
    }
    let cmd = Command::PutRatePlan {
        property,
        code,
        spec: Box::new(spec),
        if_match,
    };
    let out = match relay_refused::submit(&state, cmd, &caller, None, fwd).await? {
        Submitted::Done(o) => o,
        Submitted::Queued(op) => return Ok(queued_response(op)),
    };
    match written(out.outcome())? {
        Record::PricingPlan(p) => {
            let status = if p.meta.version == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut resp = plan_response(status, p);
            if let Ok(v) = HeaderValue::from_str(&format!(
                "/api/v1/properties/{}/rate-plans/{}",
                p.property, p.code
            )) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        _ => Err(Problem::unavailable("unexpected record written")),
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Path(property): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = property.clone();
    let plans = state
        .read(move |r| {
            if r.property(&p)?.is_none() {
                return Ok(None);
            }
            r.pricing_plans(&p).map(Some)
        })
        .await?
        .ok_or_else(|| Problem::not_found(format!("property {property} not found")))?;
    Ok(Json(json!({ "property": property, "rate_plans": plans })))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    Path((property, code)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (p, c) = (property.clone(), code.clone());
    let plan = state
        .read(move |r| r.pricing_plan(&p, &c))
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("rate plan {code} of property {property} not found"))
        })?;
    Ok(plan_response(StatusCode::OK, &plan))
}

//! The clients: each runs its planned operations against the servers, one at a time, and
//! records every invocation and its outcome in the history. Parameters that depend on earlier
//! answers (which booking to cancel, who is master) are resolved from what this client was
//! told, so the plan itself never depends on the servers.

use crate::client::{Answer, Client};
use crate::history::{History, Outcome};
use crate::plan::{
    Action, PlannedOp, PropertyKind, ENV_PROPERTY, ENV_ROOM_TYPE, OWNED_PROPERTY, OWNED_ROOMS,
    OWNED_ROOM_TYPE,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most bookings a client remembers to act on later (oldest forgotten first).
pub const MAX_KNOWN_BOOKINGS: usize = 256;

/// What every client shares.
#[derive(Clone)]
pub struct Shared {
    /// The client.
    pub client: Client,
    /// Each server's base URL, by index.
    pub bases: Arc<Vec<String>>,
    /// Each server's code, by index.
    pub codes: Arc<Vec<String>>,
    /// The server the clients last heard is master.
    pub master: Arc<AtomicUsize>,
    /// The history.
    pub history: History,
    /// The run's seed (in takeover reasons).
    pub seed: u64,
    /// Rooms of the env property.
    pub env_rooms: usize,
    /// The harness's today (UTC).
    pub today: chrono::NaiveDate,
}

impl Shared {
    fn index_of(&self, code: &str) -> Option<usize> {
        self.codes.iter().position(|c| c == code)
    }

    /// Learns the master from an answer that names it.
    fn learn_master(&self, body: &Value) {
        let named = body["master"]["server"]
            .as_str()
            .or_else(|| body["master"].as_str());
        if let Some(i) = named.and_then(|c| self.index_of(c)) {
            self.master.store(i, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Debug)]
struct Known {
    reference: String,
    property: PropertyKind,
    arrival: u32,
    /// `env` or `server:XX`, as the booking's answer said.
    owner: String,
}

impl Shared {
    /// Where to send a write of `k`: its owner as last heard (the master for `env`), or the
    /// planned target.
    fn route(&self, k: &Known, to_owner: bool, planned: usize) -> usize {
        if !to_owner {
            return planned;
        }
        match k.owner.strip_prefix("server:") {
            Some(code) => self.index_of(code).unwrap_or(planned),
            None => self.master.load(Ordering::Relaxed),
        }
    }
}

/// One client's state.
struct ClientState {
    name: String,
    known: Vec<Known>,
    last_booking: Option<(usize, String, Value, String)>,
    keys: u64,
}

/// Runs one client's operations to the end.
pub async fn run_client(shared: Shared, id: usize, ops: Vec<PlannedOp>) {
    let mut st = ClientState {
        name: format!("client-{id}"),
        known: Vec::new(),
        last_booking: None,
        keys: 0,
    };
    for op in ops {
        tokio::time::sleep(Duration::from_millis(op.think_ms)).await;
        perform(&shared, &mut st, &op).await;
    }
}

fn pick(known: &[Known], pick: u32, want_today: bool) -> Option<&Known> {
    if want_today {
        let today: Vec<&Known> = known.iter().filter(|k| k.arrival == 0).collect();
        if !today.is_empty() {
            return Some(today[pick as usize % today.len()]);
        }
    }
    if known.is_empty() {
        None
    } else {
        Some(&known[pick as usize % known.len()])
    }
}

fn forward_query(forward: bool) -> &'static str {
    if forward {
        "?forward=true"
    } else {
        ""
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one short arm per client operation of the workload"
)]
async fn perform(shared: &Shared, st: &mut ClientState, op: &PlannedOp) {
    let kind = op.action.kind();
    match &op.action {
        Action::Book {
            property,
            arrival,
            nights,
            provisional,
            forward,
        } => {
            st.keys += 1;
            let key = format!("{}-{}-k{}", shared.seed, st.name, st.keys);
            let (p, t) = match property {
                PropertyKind::Env => (ENV_PROPERTY, ENV_ROOM_TYPE),
                PropertyKind::Owned => (OWNED_PROPERTY, OWNED_ROOM_TYPE),
            };
            let from = shared.today + chrono::Days::new(u64::from(*arrival));
            let to = from + chrono::Days::new(u64::from(*nights));
            let mut body = json!({"property": p, "room_type": t, "arrival": from.to_string(),
                "departure": to.to_string(), "units": 1,
                "guest": {"name": format!("{} {}", st.name, st.keys)}});
            if *provisional {
                body["status"] = json!("provisional");
                body["hold_until"] =
                    json!((chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339());
            }
            let path = format!("/api/v1/bookings{}", forward_query(*forward));
            st.last_booking = Some((op.target, path.clone(), body.clone(), key.clone()));
            book(
                shared, st, op.target, &path, &body, &key, kind, *property, *arrival,
            )
            .await;
        }
        Action::RetryLastBooking => {
            let Some((target, path, body, key)) = st.last_booking.clone() else {
                return;
            };
            let property = if body["property"] == OWNED_PROPERTY {
                PropertyKind::Owned
            } else {
                PropertyKind::Env
            };
            let arrival = body["arrival"]
                .as_str()
                .and_then(|a| a.parse::<chrono::NaiveDate>().ok())
                .map_or(0, |a| (a - shared.today).num_days().max(0) as u32);
            book(
                shared, st, target, &path, &body, &key, kind, property, arrival,
            )
            .await;
        }
        Action::Cancel {
            pick: p,
            forward,
            to_owner,
        } => {
            let Some(k) = pick(&st.known, *p, false).cloned() else {
                return;
            };
            let path = format!(
                "/api/v1/bookings/{}/cancel{}",
                k.reference,
                forward_query(*forward)
            );
            let target = shared.route(&k, *to_owner, op.target);
            act(
                shared,
                st,
                target,
                &path,
                json!({"reason": "chaos"}),
                kind,
                &k,
            )
            .await;
        }
        Action::Confirm { pick: p, to_owner } => {
            let Some(k) = pick(&st.known, *p, false).cloned() else {
                return;
            };
            let path = format!("/api/v1/bookings/{}/confirm", k.reference);
            let target = shared.route(&k, *to_owner, op.target);
            act(shared, st, target, &path, json!({}), kind, &k).await;
        }
        Action::CheckIn {
            pick: p,
            room,
            to_owner,
        } => {
            let Some(k) = pick(&st.known, *p, true).cloned() else {
                return;
            };
            let room = match k.property {
                PropertyKind::Owned => (101 + *room as usize % OWNED_ROOMS).to_string(),
                PropertyKind::Env => (1 + *room as usize % shared.env_rooms.max(1)).to_string(),
            };
            let path = format!("/api/v1/bookings/{}/check-in", k.reference);
            let target = shared.route(&k, *to_owner, op.target);
            act(shared, st, target, &path, json!({"room": room}), kind, &k).await;
        }
        Action::CheckOut { pick: p, to_owner } => {
            let Some(k) = pick(&st.known, *p, true).cloned() else {
                return;
            };
            let path = format!("/api/v1/bookings/{}/check-out", k.reference);
            let target = shared.route(&k, *to_owner, op.target);
            act(shared, st, target, &path, json!({}), kind, &k).await;
        }
        Action::AddRoom => {
            st.keys += 1;
            let target = shared.master.load(Ordering::Relaxed);
            let number = format!("{}-{}", st.name, st.keys);
            let body = json!({"number": number, "room_type": ENV_ROOM_TYPE});
            let code = &shared.codes[target];
            let opid = shared
                .history
                .invoke(&st.name, kind, code, json!({"number": number}));
            let a = shared
                .client
                .post(
                    &shared.bases[target],
                    &format!("/api/v1/properties/{ENV_PROPERTY}/rooms"),
                    &body,
                )
                .await;
            if a.body["code"] == "not_master" {
                shared.learn_master(&a.body);
            }
            let detail =
                json!({"number": number, "id": a.body["id"], "version": a.body["version"]});
            shared.history.complete(opid, a.outcome, detail);
        }
        Action::Handover { to } => {
            let from = shared.master.load(Ordering::Relaxed);
            let code = &shared.codes[from];
            let opid =
                shared
                    .history
                    .invoke(&st.name, kind, code, json!({"to": shared.codes[*to]}));
            let a = shared
                .client
                .post(
                    &shared.bases[from],
                    "/api/v1/environment/handover",
                    &json!({"to": shared.codes[*to]}),
                )
                .await;
            shared.learn_master(&a.body);
            let detail = json!({"to": shared.codes[*to], "master": a.body["master"], "code": a.body["code"]});
            shared.history.complete(opid, a.outcome, detail);
        }
        Action::Grant {
            property,
            arrival,
            nights,
            units,
            to,
        } => {
            let (p, t) = match property {
                PropertyKind::Env => (ENV_PROPERTY, ENV_ROOM_TYPE),
                PropertyKind::Owned => (OWNED_PROPERTY, OWNED_ROOM_TYPE),
            };
            let from = shared.today + chrono::Days::new(u64::from(*arrival));
            let until = from + chrono::Days::new(u64::from(*nights));
            let body = json!({"property": p, "room_type": t, "from": from.to_string(),
                "to": until.to_string(), "units": units, "to_holder": shared.codes[*to]});
            let code = &shared.codes[op.target];
            let opid = shared
                .history
                .invoke(&st.name, kind, code, json!({"request": body}));
            let a = shared
                .client
                .post(&shared.bases[op.target], "/api/v1/allotments/grant", &body)
                .await;
            let detail = json!({"id": a.body["id"], "units": units, "to": shared.codes[*to],
                "property": p});
            shared.history.complete(opid, a.outcome, detail);
        }
        Action::Takeover => {
            let code = &shared.codes[op.target];
            let opid = shared.history.invoke(&st.name, kind, code, json!({}));
            let a = shared
                .client
                .post(
                    &shared.bases[op.target],
                    "/api/v1/environment/takeover",
                    &json!({"force": true, "reason": format!("chaos seed {}", shared.seed)}),
                )
                .await;
            if a.ok() {
                shared.learn_master(&a.body);
            }
            let detail = json!({"master": a.body["master"], "fenced": a.body["fenced"]});
            shared.history.complete(opid, a.outcome, detail);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn book(
    shared: &Shared,
    st: &mut ClientState,
    target: usize,
    path: &str,
    body: &Value,
    key: &str,
    kind: &str,
    property: PropertyKind,
    arrival: u32,
) {
    let code = &shared.codes[target];
    let opid = shared.history.invoke(
        &st.name,
        kind,
        code,
        json!({"key": key, "path": path, "request": body}),
    );
    let a = shared
        .client
        .call(
            Method::POST,
            &shared.bases[target],
            path,
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await;
    let reference = a.body["reference"].as_str().map(str::to_string);
    let detail = json!({"key": key, "property": body["property"], "reference": reference,
        "status": a.body["status"], "owner": a.body["owner"], "version": a.body["version"],
        "pending": a.body["pending"]["id"], "pending_target": a.body["pending"]["target"]});
    if let Some(r) = reference {
        remember(
            st,
            Known {
                reference: r,
                property,
                arrival,
                owner: a.body["owner"].as_str().unwrap_or("env").to_string(),
            },
        );
    }
    shared.history.complete(opid, a.outcome, detail);
}

fn remember(st: &mut ClientState, k: Known) {
    if st.known.iter().any(|x| x.reference == k.reference) {
        return;
    }
    if st.known.len() >= MAX_KNOWN_BOOKINGS {
        st.known.remove(0);
    }
    st.known.push(k);
}

async fn act(
    shared: &Shared,
    st: &mut ClientState,
    target: usize,
    path: &str,
    body: Value,
    kind: &str,
    k: &Known,
) {
    let code = &shared.codes[target];
    let opid = shared.history.invoke(
        &st.name,
        kind,
        code,
        json!({"reference": k.reference, "path": path}),
    );
    let a: Answer = shared.client.post(&shared.bases[target], path, &body).await;
    let detail = json!({"reference": k.reference, "status": a.body["status"],
        "version": a.body["version"], "pending": a.body["pending"]["id"],
        "pending_target": a.body["pending"]["target"], "owner": a.body["owner"]});
    if matches!(a.outcome, Outcome::Fail { .. }) && a.body["code"] == "not_master" {
        shared.learn_master(&a.body);
    }
    shared.history.complete(opid, a.outcome.clone(), detail);
    crate::money::after(shared, &st.name, target, kind, &k.reference, &a.outcome).await;
}

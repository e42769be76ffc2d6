//! Reservations of several lines end to end, on a real `innsync serve` process: a family quoted,
//! booked as a two-line reservation with a child on a derived plan (all lines or none), a line
//! added later, dates and occupancy edited with the stated price rule and the history, early
//! check-out re-priced as each plan says; bad input refused as problem+json, nothing written.
//! And an agent whose contracted allotment is a standing rule's: sold on its holder, its pickup
//! and unsold units visible, its unsold units inside the release window given back by the rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::mesh::{admin_known, digest, three_servers, ThreeServers};
use common::{day, seed, until, Api, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

async fn audit_len(api: &Api) -> usize {
    api.get("/api/v1/audit?limit=1000").await.body["audit"]
        .as_array()
        .map_or(0, Vec::len)
}

fn occupancy(room_type: &str) -> Value {
    json!({"room_type": room_type, "adults_included": 2, "extra_adult": 40000,
           "children": [{"up_to_age": 2, "amount": 0}, {"up_to_age": 12, "amount": 25000}]})
}

async fn patch(api: &Api, reference: &str, body: Value, version: Option<u64>) -> common::Answer {
    let etag = version.map(|v| format!("\"{v}\""));
    let h: Vec<(&str, &str)> = etag.iter().map(|e| ("if-match", e.as_str())).collect();
    api.send(
        Method::PATCH,
        &format!("/api/v1/bookings/{reference}"),
        Some(body),
        &h,
    )
    .await
}

#[tokio::test]
async fn a_family_reservation_is_quoted_booked_edited_and_checked_out_early() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    api.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "FAM", "name": "Family", "max_occupancy": 4}),
    )
    .await;
    for n in ["301", "302"] {
        api.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": n, "room_type": "FAM"}),
        )
        .await;
    }
    let r = api
        .put(
            "/api/v1/properties/KRL/rates/FAM",
            json!({"from": day(0), "to": day(400), "amount": 200000, "currency": "ZAR"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let r = api
        .put(
            "/api/v1/properties/KRL/rates/STD",
            json!({"from": day(0), "to": day(400), "amount": 80000, "currency": "ZAR"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    // BAR keeps booked rates on edit and is refundable; FAMILY is 10 % off BAR; NRF is 20 %
    // off and not refundable.
    for (code, body) in [
        (
            "BAR",
            json!({"name": "Best available", "basis": {"kind": "base"},
                       "occupancy": [occupancy("FAM"), occupancy("DLX"), occupancy("STD")],
                       "reprice_on_edit": false}),
        ),
        (
            "FAMILY",
            json!({"name": "Family offer", "basis": {"kind": "derived", "from": "BAR",
                       "adjust": {"percent_bp": -1000}, "rounding": {"step": 100, "mode": "nearest"}}}),
        ),
        (
            "NRF",
            json!({"name": "Non-refundable", "basis": {"kind": "derived", "from": "BAR",
                       "adjust": {"percent_bp": -2000}, "rounding": {"step": 100, "mode": "nearest"}},
                       "refundable": false}),
        ),
    ] {
        let a = api
            .put(&format!("/api/v1/properties/KRL/rate-plans/{code}"), body)
            .await;
        assert_eq!(a.status, 201, "{code}: {:?}", a.body);
    }

    // Quote: two adults and a child of 7 in the family room, three nights on FAMILY:
    // (2 000.00 + 250.00) − 10 % = 2 025.00 a night.
    let q = api
        .get(&format!(
            "/api/v1/quote?property=KRL&from={}&to={}&adults=2&children=7&rate_plan=FAMILY",
            day(0),
            day(3)
        ))
        .await;
    assert_eq!(q.status, 200, "{:?}", q.body);
    let fam = q.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["room_type"] == "FAM")
        .unwrap()
        .clone();
    assert_eq!(fam["total"], 607500, "{fam}");
    assert_eq!(fam["bookable"], true);

    // Book it: the family room with the child, and a deluxe room for the grandparents.
    let body = json!({"property": "KRL", "arrival": day(0), "departure": day(3),
    "guest": {"name": "Thandi Dube", "email": "thandi@example.com"},
    "notes": "family reunion",
    "lines": [
        {"room_type": "FAM", "adults": 2, "children": [7], "rate_plan": "FAMILY"},
        {"room_type": "DLX", "adults": 2, "rate_plan": "FAMILY"}
    ]});
    let r = api.post("/api/v1/bookings", body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let reservation = r.body["reservation"].as_str().unwrap().to_string();
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/v1/reservations/{reservation}")
    );
    let lines = r.body["lines"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 2);
    let fam_ref = lines[0]["reference"].as_str().unwrap().to_string();
    let dlx_ref = lines[1]["reference"].as_str().unwrap().to_string();
    assert_eq!(
        fam_ref, reservation,
        "the first line's reference is the reservation's"
    );
    assert_eq!(
        lines[0]["price"]["amount"], fam["total"],
        "booked at the quoted price"
    );
    assert_eq!(lines[0]["children"], json!([7]));
    assert_eq!(lines[1]["price"]["amount"], 27000, "DLX: 100.00 − 10 % × 3");
    for l in &lines {
        assert_eq!(l["reservation"], reservation.as_str());
        assert_eq!(l["guest"]["id"], r.body["guest"]["id"]);
        assert_eq!(l["notes"], "family reunion");
    }
    assert_ne!(
        lines[0]["reservation_number"],
        lines[1]["reservation_number"]
    );
    assert_eq!(
        r.body["totals"],
        json!([{"currency": "ZAR", "amount": 634500}])
    );
    // Read back through any line.
    let got = api.get(&format!("/api/v1/reservations/{dlx_ref}")).await;
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["reservation"], reservation.as_str());
    assert_eq!(got.body["lines"].as_array().unwrap().len(), 2);

    // All or nothing: one FAM room is left; a reservation asking two of them and a deluxe
    // room is refused whole, and nothing is written.
    let before = audit_len(&api).await;
    api.post(
        "/api/v1/bookings",
        json!({"property": "KRL", "arrival": day(1), "departure": day(2),
               "guest": {"name": "Group"},
               "lines": [{"room_type": "DLX"}, {"room_type": "FAM", "units": 2}]}),
    )
    .await
    .problem(409, "no_availability");
    // Bad input, each named: single-line fields beside lines, a line without dates, an
    // unknown field, an over-full room.
    for bad in [
        json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2),
               "guest": {"name": "G"}, "lines": [{"room_type": "DLX"}]}),
        json!({"property": "KRL", "guest": {"name": "G"}, "lines": [{"room_type": "DLX"}]}),
        json!({"property": "KRL", "arrival": day(1), "departure": day(2), "guest": {"name": "G"},
               "lines": [{"room_type": "DLX", "colour": "red"}]}),
        json!({"property": "KRL", "arrival": day(1), "departure": day(2), "guest": {"name": "G"},
               "lines": [{"room_type": "STD"}, {"room_type": "DLX", "adults": 3}]}),
        json!({"property": "KRL", "arrival": day(1), "departure": day(2), "guest": {"name": "G"},
               "lines": []}),
    ] {
        let d = api
            .post("/api/v1/bookings", bad.clone())
            .await
            .problem(400, "invalid_input");
        assert!(!d.is_empty(), "{bad}");
    }
    assert_eq!(audit_len(&api).await, before, "refusals write nothing");

    // A line added later: the standard room, non-refundable, for the cousin.
    let a = api
        .post(
            &format!("/api/v1/reservations/{reservation}/lines"),
            json!({"room_type": "STD", "adults": 1, "rate_plan": "NRF"}),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let std_ref = a.body["reference"].as_str().unwrap().to_string();
    assert_eq!(a.body["reservation"], reservation.as_str());
    let got = api
        .get(&format!("/api/v1/reservations/{reservation}"))
        .await
        .body;
    assert_eq!(got["lines"].as_array().unwrap().len(), 3);

    // Edit the deluxe line: one more night and one adult fewer. Other occupancy: re-priced at
    // the current rates (BAR has no discount for fewer adults: 90.00 a night × 4).
    let dlx = api.get(&format!("/api/v1/bookings/{dlx_ref}")).await.body;
    let version = dlx["version"].as_u64().unwrap();
    patch(
        &api,
        &dlx_ref,
        json!({"departure": day(4)}),
        Some(version + 5),
    )
    .await
    .problem(409, "version_conflict");
    let before = audit_len(&api).await;
    patch(
        &api,
        &dlx_ref,
        json!({"departure": day(4), "colour": "red"}),
        None,
    )
    .await
    .problem(400, "invalid_input");
    patch(&api, &dlx_ref, json!({"units": 1}), None)
        .await
        .problem(400, "invalid_input");
    patch(&api, &dlx_ref, json!({"adults": 3}), None)
        .await
        .problem(400, "invalid_input");
    assert_eq!(audit_len(&api).await, before, "refused edits write nothing");
    let e = patch(
        &api,
        &dlx_ref,
        json!({"departure": day(4), "adults": 1}),
        Some(version),
    )
    .await;
    assert_eq!(e.status, 200, "{:?}", e.body);
    assert_eq!(e.body["departure"], day(4));
    assert_eq!(e.body["adults"], 1);
    assert_eq!(e.body["price"]["amount"], 36000);
    assert!(e.body["pricing"]["rule"]
        .as_str()
        .unwrap()
        .contains("re-priced at the current rates"));
    let h = api
        .get(&format!("/api/v1/bookings/{dlx_ref}/history"))
        .await
        .body;
    let details: Vec<String> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    let edit = details
        .iter()
        .find(|d| d.contains("booking.edit"))
        .unwrap_or_else(|| panic!("{details:?}"));
    assert!(
        edit.contains(&format!("departure: {} → {}", day(3), day(4))),
        "{edit}"
    );
    assert!(edit.contains("price: 27000 ZAR → 36000 ZAR"), "{edit}");

    // Early check-out: the family checks in today and leaves today (one night stayed).
    // FAMILY is refundable: the two nights not stayed come off.
    let a = api
        .post(
            &format!("/api/v1/bookings/{fam_ref}/check-in"),
            json!({"room": "301"}),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let out = api
        .ok(&format!("/api/v1/bookings/{fam_ref}/check-out"), json!({}))
        .await;
    assert_eq!(out["departure"], day(1));
    assert_eq!(out["price"]["amount"], 202500);
    assert!(out["pricing"]["rule"]
        .as_str()
        .unwrap()
        .contains("2 night(s) not stayed refunded"));
    // NRF is not refundable: the cousin's early departure keeps the full price.
    api.ok(
        &format!("/api/v1/bookings/{std_ref}/check-in"),
        json!({"room": "201"}),
    )
    .await;
    let out = api
        .ok(&format!("/api/v1/bookings/{std_ref}/check-out"), json!({}))
        .await;
    assert_eq!(out["departure"], day(1));
    assert!(out["pricing"]["rule"]
        .as_str()
        .unwrap()
        .contains("2 night(s) not stayed still charged"));
    assert_eq!(out["price"]["amount"], out["pricing"]["total"]);
    assert_eq!(
        out["pricing"]["nightly"].as_array().unwrap().len(),
        3,
        "every booked night still charged"
    );
    s.check_invariants();
}

#[tokio::test]
async fn a_reservation_holds_at_most_fifty_lines() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 1).await;
    // Fifty lines on fifty nights of the one deluxe room: the most one reservation holds.
    let lines = |n: u64| -> Vec<Value> {
        (1..=n)
            .map(|i| json!({"room_type": "DLX", "arrival": day(i), "departure": day(i + 1)}))
            .collect()
    };
    let before = audit_len(&api).await;
    let d = api
        .post(
            "/api/v1/bookings",
            json!({"property": "KRL", "guest": {"name": "Big group"}, "lines": lines(51)}),
        )
        .await
        .problem(400, "invalid_input");
    assert!(d.contains("at most 50"), "{d}");
    assert_eq!(audit_len(&api).await, before, "nothing written");
    let r = api
        .post(
            "/api/v1/bookings",
            json!({"property": "KRL", "guest": {"name": "Big group"}, "lines": lines(50)}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["lines"].as_array().unwrap().len(), 50);
    let reservation = r.body["reservation"].as_str().unwrap().to_string();
    // A fifty-first line later: refused by the core's limit, nothing written.
    let before = audit_len(&api).await;
    let d = api
        .post(
            &format!("/api/v1/reservations/{reservation}/lines"),
            json!({"room_type": "DLX", "arrival": day(60), "departure": day(61)}),
        )
        .await
        .problem(400, "invalid_input");
    assert!(d.contains("already holds 50 lines"), "{d}");
    assert_eq!(audit_len(&api).await, before, "nothing written");
    let got = api
        .get(&format!("/api/v1/reservations/{reservation}"))
        .await
        .body;
    assert_eq!(got["lines"].as_array().unwrap().len(), 50);
    s.check_invariants();
}

const AGENT_RULE: &str = r#"
[[allotment_rules]]
name = "safari-contract"
property = "KRL"
room_types = ["DLX"]
holder = "RS"
units = 2
days_ahead = 30
release_days = 3
"#;

/// The agent's allotment of DLX on `night` as `api` sees it: (held, sold_by_holder,
/// picked_up, unsold).
async fn agent_night(api: &Api, night: u64) -> (i64, i64, i64, i64) {
    agent_night_known(api, night)
        .await
        .expect("the agent and KRL known")
}

/// Like [`agent_night`], `None` while `api` does not know the agent or KRL yet (replication
/// brings the agent from the master and the property from its owner, each in its own order).
async fn agent_night_known(api: &Api, night: u64) -> Option<(i64, i64, i64, i64)> {
    let a = api
        .get(&format!(
            "/api/v1/agents/SAFARI/allotment?property=KRL&from={}&to={}",
            day(night),
            day(night + 1)
        ))
        .await;
    if a.status == 404 {
        return None;
    }
    assert_eq!(a.status, 200, "{:?}", a.body);
    let t = a.body["room_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "DLX")?
        .clone();
    let n = &t["nights"][0];
    let g = |k: &str| n[k].as_i64().unwrap();
    Some((g("held"), g("sold_by_holder"), g("picked_up"), g("unsold")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agents_contracted_allotment_is_sold_by_its_holder_and_released_by_its_rule() {
    // Every field bound: a `..` here would drop the proxy handles at the end of this statement,
    // and a dropped proxy stops relaying, so no server could reach another (the admin user
    // would never replicate).
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links: _links,
        servers,
    } = three_servers(AGENT_RULE, &["--setting", "allotment_rule_interval=100ms"]).await;
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal Lodge", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    pa.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "DLX", "name": "Deluxe", "max_occupancy": 2}),
    )
    .await;
    for n in ["101", "102", "103", "104"] {
        pa.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": n, "room_type": "DLX"}),
        )
        .await;
    }
    let r = pa
        .put(
            "/api/v1/properties/KRL/rates/DLX",
            json!({"from": day(0), "to": day(400), "amount": 100000, "currency": "ZAR"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    // The agent, on the master: 10 % commission, its contract held by RS.
    wb.put(
        "/api/v1/agents/SAFARI",
        json!({"name": "Big Five Safaris", "commission_bp": 20000, "holder": "RS"}),
    )
    .await
    .problem(400, "invalid_input");
    wb.put(
        "/api/v1/agents/SAFARI",
        json!({"name": "Big Five Safaris", "colour": "red"}),
    )
    .await
    .problem(400, "invalid_input");
    let a = wb
        .put(
            "/api/v1/agents/SAFARI",
            json!({"name": "Big Five Safaris", "contact": "Anna Berg", "commission_bp": 1000,
                   "payment_terms": "30 days", "holder": "RS"}),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["owner"], "env");
    // The rule runs on PA (the owner): RS is kept at 2 a night beyond the release window.
    until("the agent and its contract on RS", || async {
        (agent_night_known(&rs, 10).await?.0 == 2).then_some(())
    })
    .await;
    assert_eq!(agent_night(&rs, 10).await, (2, 0, 0, 2));
    // Every server holds the same records (the rates from PA, the agent from WB, the rule's
    // grants) before selling: each arrives by its own origin's log, in its own order.
    until("every server the same records", || async {
        let d = digest(&pa).await;
        (agent_night_known(&wb, 10).await?.0 == 2
            && digest(&wb).await == d
            && digest(&rs).await == d)
            .then_some(())
    })
    .await;
    // Booked anywhere but on the holder: refused, naming it.
    let body = json!({"property": "KRL", "room_type": "DLX", "arrival": day(10), "departure": day(12),
                      "agent": "SAFARI", "guest": {"name": "Jonas Berg"}});
    let refused = wb.post("/api/v1/bookings", body.clone()).await;
    refused.problem(409, "not_owner");
    // On RS: sold from the contract, with the commission; the pickup shows.
    let b = rs.post("/api/v1/bookings", body).await;
    assert_eq!(b.status, 201, "{:?}", b.body);
    assert_eq!(b.body["holder"], "server:RS");
    assert_eq!(
        b.body["agent"],
        json!({"code": "SAFARI", "commission_bp": 1000, "commission": 20000})
    );
    assert_eq!(agent_night(&rs, 10).await, (2, 1, 1, 1));
    // PA gives RS two more units on a night inside the release window (a late contract
    // extension): RS's rule gives back what the agent has not sold there.
    let g = pa
        .post(
            "/api/v1/allotments/grant",
            json!({"property": "KRL", "room_type": "DLX", "from": day(1), "to": day(2),
                   "units": 2, "to_holder": "RS", "reason": "SAFARI extension"}),
        )
        .await;
    assert!(g.status.is_success(), "{:?}", g.body);
    let grant = g.body["id"]
        .as_str()
        .or_else(|| g.body["grants"][0]["id"].as_str())
        .map(str::to_string);
    until("the unsold units released by the rule", || async {
        let audit = rs.get("/api/v1/audit?limit=1000").await.body.to_string();
        let arrived = grant.as_ref().is_none_or(|id| audit.contains(id.as_str()));
        (arrived && agent_night(&rs, 1).await.0 == 0).then_some(())
    })
    .await;
    assert_eq!(agent_night(&rs, 1).await, (0, 0, 0, 0));
    assert_eq!(
        agent_night(&rs, 10).await,
        (2, 1, 1, 1),
        "beyond the window: kept"
    );
    // Released: the agent can no longer be sold there.
    let late = rs
        .post(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2),
                   "agent": "SAFARI", "guest": {"name": "Late guest"}}),
        )
        .await;
    assert_eq!(late.status, 409, "{:?}", late.body);
}

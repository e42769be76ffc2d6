//! The HTTP contract of API.md against a real server process: bad input is refused with a
//! precise problem and writes nothing; the booking state machine over HTTP; idempotency; auth
//! and roles; holds expiring by themselves; the OpenAPI document covers every route.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn audit_len(api: &Api) -> usize {
    api.get("/api/v1/audit?limit=1000").await.body["audit"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn bad_input_gets_a_precise_problem_and_writes_nothing() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    let before = audit_len(&api).await;
    let json_body = |v: &str| Some(("application/json", v.as_bytes().to_vec()));
    type Case<'a> = (Option<(&'a str, Vec<u8>)>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (json_body("{\"property\": \"KRL\""), 400, "invalid_input", "malformed JSON"),
        (json_body(""), 400, "invalid_input", "empty"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}, "colour": "red"}).to_string()), 400, "invalid_input", "unknown field `colour`"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": "2027-02-30", "departure": day(2), "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "arrival: \"2027-02-30\" is not a valid date"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(3), "departure": day(3), "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "must be after arrival"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(5), "departure": day(2), "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "must be after arrival"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(367), "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "at most 365 nights"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "units": -1, "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "units: invalid value"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "units": 0, "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "units must be between 1"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "units": "two", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "units: invalid type"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2)}).to_string()), 400, "invalid_input", "guest"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A", "email": "nope"}}).to_string()), 400, "invalid_input", "not an e-mail address"),
        (json_body(&json!({"property": "NOPE", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}}).to_string()), 404, "not_found", "property NOPE"),
        (json_body(&json!({"property": "KRL", "room_type": "XXX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}}).to_string()), 404, "not_found", "room type XXX"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": "2020-01-01", "departure": "2020-01-03", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "in the past"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "status": "provisional", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "needs hold_until"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "status": "maybe", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "status: unknown variant"),
        // Issue 16: a stay ending in year 10000 oversold and poisoned backups; one horizon now.
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": "9999-12-31", "departure": "+10000-01-02", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "not a valid date (YYYY-MM-DD)"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": "9999-12-30", "departure": "9999-12-31", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "outside the dates innsync keeps"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": "2027-1-1", "departure": "2027-01-03", "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "not a valid date (YYYY-MM-DD)"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(2000), "departure": day(2001), "guest": {"name": "A"}}).to_string()), 400, "invalid_input", "days ahead"),
        // Issue 16: one JSON document, in UTF-8, and nothing after it.
        (json_body(&format!("{} xx", json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}}))), 400, "invalid_input", "data after the document"),
        (json_body(&json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}}).to_string().repeat(2)), 400, "invalid_input", "data after the document"),
        (Some(("application/json; charset=latin1", json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(2), "guest": {"name": "A"}}).to_string().into_bytes())), 400, "invalid_input", "charset=latin1"),
        (Some(("text/plain", b"hello".to_vec())), 400, "invalid_input", "Content-Type: application/json"),
        (Some(("application/json", vec![b' '; 100 * 1024])), 413, "payload_too_large", "larger"),
    ];
    for (body, status, code, needle) in cases {
        let a = api.raw(Method::POST, "/api/v1/bookings", body, &[]).await;
        let detail = a.problem(status, code);
        assert!(detail.contains(needle), "expected {needle:?} in {detail:?}");
    }
    // Queries and paths.
    let q = api
        .get("/api/v1/availability?property=KRL&from=2027-13-01&to=2027-12-31")
        .await;
    assert!(q.problem(400, "invalid_input").contains("from"));
    api.get(&format!(
        "/api/v1/availability?property=KRL&from={}&to={}",
        day(5),
        day(1)
    ))
    .await
    .problem(400, "invalid_input");
    api.get("/api/v1/bookings?status=happy")
        .await
        .problem(400, "invalid_input");
    api.get("/api/v1/bookings?limit=5000")
        .await
        .problem(400, "invalid_input");
    api.get("/api/v1/bookings/WB-999999")
        .await
        .problem(404, "not_found");
    api.post("/api/v1/bookings/WB-999999/explode", json!({}))
        .await
        .problem(404, "not_found");
    api.get("/api/v1/nothing-here")
        .await
        .problem(404, "not_found");
    api.send(Method::DELETE, "/api/v1/bookings", None, &[])
        .await
        .problem(405, "method_not_allowed");
    // Auth.
    api.anonymous()
        .get("/api/v1/properties")
        .await
        .problem(401, "unauthorized");
    api.with_token("isk_wrong")
        .get("/api/v1/properties")
        .await
        .problem(401, "unauthorized");
    api.raw(
        Method::GET,
        "/api/v1/properties",
        None,
        &[("authorization", "Basic abc")],
    )
    .await;
    // Reference data refusals.
    api.post(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Again", "timezone": "UTC"}),
    )
    .await
    .problem(409, "already_exists");
    api.post(
        "/api/v1/properties",
        json!({"code": "x y", "name": "Bad", "timezone": "UTC"}),
    )
    .await
    .problem(400, "invalid_input");
    api.post(
        "/api/v1/properties",
        json!({"code": "MRS", "name": "Mars", "timezone": "Mars/Olympus"}),
    )
    .await
    .problem(400, "invalid_input");
    api.put(
        "/api/v1/properties/KRL/rates/DLX",
        json!({"from": day(1), "to": day(2), "amount": 5, "currency": "EUR"}),
    )
    .await
    .problem(400, "invalid_input");
    for (from, to) in [("0000-01-01", "0000-01-03"), ("9999-01-01", "9999-01-03")] {
        let p = api
            .put(
                "/api/v1/properties/KRL/rates/DLX",
                json!({"from": from, "to": to, "amount": 5, "currency": "ZAR"}),
            )
            .await
            .problem(400, "invalid_input");
        assert!(p.contains("outside the dates innsync keeps"), "{p}");
    }
    assert_eq!(
        audit_len(&api).await,
        before,
        "a refused request wrote something"
    );
}

#[tokio::test]
async fn a_booking_goes_through_its_life_and_refuses_illegal_steps() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    let hold = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let mut body = booking(0, 3);
    body["status"] = json!("provisional");
    body["hold_until"] = json!(hold);
    let a = api.post("/api/v1/bookings", body).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let b = a.body;
    let r = b["reference"].as_str().unwrap().to_string();
    assert!(r.starts_with("WB-"));
    assert_eq!(b["status"], "provisional");
    assert_eq!(b["owner"], "env");
    assert_eq!(b["price"]["amount"], 30000);
    assert_eq!(b["guest"]["email"], "ann@example.com");
    assert_eq!(
        a.headers["location"],
        format!("/api/v1/bookings/{r}").as_str()
    );
    let path = |act: &str| format!("/api/v1/bookings/{r}/{act}");
    // Check-in of a provisional booking is illegal.
    let d = api
        .post(&path("check-in"), json!({"room": "101"}))
        .await
        .problem(409, "invalid_transition");
    assert!(d.contains("provisional"), "{d}");
    // Stale If-Match.
    api.send(
        Method::POST,
        &path("confirm"),
        None,
        &[("if-match", "\"7\"")],
    )
    .await
    .problem(409, "version_conflict");
    let c = api
        .send(
            Method::POST,
            &path("confirm"),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(c.body["status"], "confirmed");
    assert_eq!(c.headers["etag"], "\"2\"");
    // A room of the wrong type, then the right one.
    api.post(&path("check-in"), json!({"room": "201"}))
        .await
        .problem(400, "invalid_input");
    api.post(&path("check-in"), json!({"room": "999"}))
        .await
        .problem(404, "not_found");
    let ci = api.post(&path("check-in"), json!({"room": "101"})).await;
    assert_eq!(ci.body["status"], "checked_in", "{:?}", ci.body);
    assert_eq!(ci.body["room"], "101");
    // Room 101 is occupied: another booking cannot be assigned there.
    let other = api.ok("/api/v1/bookings", booking(1, 1)).await;
    let o = other["reference"].as_str().unwrap();
    let d = api
        .post(
            &format!("/api/v1/bookings/{o}/assign-room"),
            json!({"room": "101"}),
        )
        .await
        .problem(409, "room_unavailable");
    assert!(d.contains(&r), "{d}");
    // Move to 102, and 101 frees up.
    let mv = api.post(&path("move-room"), json!({"room": "102"})).await;
    assert_eq!(mv.body["room"], "102", "{:?}", mv.body);
    let asg = api
        .post(
            &format!("/api/v1/bookings/{o}/assign-room"),
            json!({"room": "101"}),
        )
        .await;
    assert_eq!(asg.status, 200, "{:?}", asg.body);
    // Early departure today returns the unused nights: a same-day check-out keeps one night.
    let out = api.post(&path("check-out"), json!(null)).await;
    assert_eq!(out.body["status"], "checked_out", "{:?}", out.body);
    assert_eq!(out.body["departure"], day(1));
    api.post(&path("cancel"), json!({"reason": "too late"}))
        .await
        .problem(409, "invalid_transition");
    // The history names every step.
    let h = api.get(&format!("/api/v1/bookings/{r}/history")).await.body;
    let actions: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "booking.create",
            "booking.confirm",
            "booking.check_in",
            "booking.move_room",
            "booking.check_out"
        ]
    );
    assert!(h["history"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "admin" && e["server"] == "WB"));
    // No-show needs arrival day; cancel works on the other one.
    let later = api.ok("/api/v1/bookings", booking(5, 1)).await;
    let l = later["reference"].as_str().unwrap();
    api.post(&format!("/api/v1/bookings/{l}/no-show"), json!({}))
        .await
        .problem(409, "invalid_transition");
    let c = api
        .post(
            &format!("/api/v1/bookings/{l}/cancel"),
            json!({"reason": "changed plans"}),
        )
        .await;
    assert_eq!(c.body["cancel_reason"], "changed plans");
    // Lists filter by status and guest.
    let list = api
        .get("/api/v1/bookings?property=KRL&status=cancelled")
        .await
        .body;
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1);
    let list = api.get("/api/v1/bookings?guest=ann").await.body;
    assert_eq!(list["bookings"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn availability_shows_what_is_left_and_the_tape_chart_shows_rooms() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    let b = api.ok("/api/v1/bookings", booking(1, 2)).await;
    api.ok(
        &format!(
            "/api/v1/bookings/{}/assign-room",
            b["reference"].as_str().unwrap()
        ),
        json!({"room": "103"}),
    )
    .await;
    api.ok(
        "/api/v1/properties/KRL/rooms/102/out-of-order",
        json!({"from": day(2), "to": day(3), "reason": "new carpet"}),
    )
    .await;
    let a = api
        .get(&format!(
            "/api/v1/availability?property=KRL&from={}&to={}",
            day(0),
            day(4)
        ))
        .await
        .body;
    let dlx = a["room_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "DLX")
        .unwrap();
    let cells: Vec<(u64, u64, u64)> = dlx["nights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["total"].as_u64().unwrap(),
                n["booked"].as_u64().unwrap(),
                n["available"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cells, vec![(3, 0, 3), (3, 1, 2), (2, 1, 1), (3, 0, 3)]);
    let occ = api
        .get(&format!(
            "/api/v1/properties/KRL/occupancy?from={}&to={}",
            day(0),
            day(4)
        ))
        .await
        .body;
    let room103 = occ["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == "103")
        .unwrap();
    assert_eq!(room103["nights"].as_array().unwrap().len(), 2);
    // Taking the last free room out of order on a sold-out night is refused.
    api.ok("/api/v1/bookings", booking(2, 1)).await;
    let d = api
        .post(
            "/api/v1/properties/KRL/rooms/101/out-of-order",
            json!({"from": day(2), "to": day(3), "reason": "leak"}),
        )
        .await
        .problem(409, "no_availability");
    assert!(d.contains(&day(2)), "{d}");
}

#[tokio::test]
async fn the_same_idempotency_key_books_once_and_answers_the_same_reference() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    let key = [("idempotency-key", "order-4711")];
    let first = api
        .send(Method::POST, "/api/v1/bookings", Some(booking(1, 2)), &key)
        .await;
    let again = api
        .send(Method::POST, "/api/v1/bookings", Some(booking(1, 2)), &key)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(again.status, 201);
    assert_eq!(first.body["reference"], again.body["reference"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let list = api.get("/api/v1/bookings").await.body;
    assert_eq!(list["bookings"].as_array().unwrap().len(), 1);
    let other = api
        .send(Method::POST, "/api/v1/bookings", Some(booking(3, 1)), &key)
        .await;
    assert!(other
        .problem(400, "invalid_input")
        .contains("different request"));
}

#[tokio::test]
async fn provisional_holds_lapse_by_themselves_and_release_the_stock() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 1).await;
    let mut body = booking(1, 1);
    body["status"] = json!("provisional");
    body["hold_until"] =
        json!((chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339());
    let b = api.ok("/api/v1/bookings", body).await;
    let r = b["reference"].as_str().unwrap().to_string();
    api.post("/api/v1/bookings", booking(1, 1))
        .await
        .problem(409, "no_availability");
    // Wait for the server's own sweeper, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = api.get(&format!("/api/v1/bookings/{r}")).await.body;
        if now["status"] == "cancelled" {
            assert_eq!(now["cancel_reason"], "provisional hold expired");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hold never lapsed: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        api.post("/api/v1/bookings", booking(1, 1)).await.status,
        201
    );
    let h = api.get(&format!("/api/v1/bookings/{r}/history")).await.body;
    assert_eq!(h["history"][1]["actor"], "system");
}

#[tokio::test]
async fn users_roles_and_server_restrictions() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 1).await;
    api.ok(
        "/api/v1/users",
        json!({"username": "viewer", "password": "viewer-password", "roles": ["read_only"]}),
    )
    .await;
    api.ok(
        "/api/v1/users",
        json!({"username": "desk", "password": "desk-password", "roles": ["front_desk"]}),
    )
    .await;
    api.ok("/api/v1/users", json!({"username": "office", "password": "office-password", "roles": ["reservations"], "servers": ["RS"]})).await;
    api.post(
        "/api/v1/users",
        json!({"username": "short", "password": "x", "roles": ["read_only"]}),
    )
    .await
    .problem(400, "invalid_input");
    let anon = api.anonymous();
    let login =
        |u: &str, p: &str| anon.post("/api/v1/login", json!({"username": u, "password": p}));
    login("viewer", "wrong-password")
        .await
        .problem(401, "unauthorized");
    login("nobody", "whatever-pass")
        .await
        .problem(401, "unauthorized");
    assert!(login("office", "office-password")
        .await
        .problem(403, "forbidden")
        .contains("may not log in on server WB"));
    let t = login("viewer", "viewer-password").await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let viewer = api.with_token(&t);
    assert_eq!(viewer.get("/api/v1/properties").await.status, 200);
    viewer
        .post("/api/v1/bookings", booking(1, 1))
        .await
        .problem(403, "forbidden");
    viewer.get("/api/v1/users").await.problem(403, "forbidden");
    let t = login("desk", "desk-password").await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let desk = api.with_token(&t);
    assert_eq!(
        desk.post("/api/v1/bookings", booking(1, 1)).await.status,
        201
    );
    desk.post(
        "/api/v1/properties",
        json!({"code": "NEW", "name": "New", "timezone": "UTC"}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(desk.get("/api/v1/me").await.body["username"], "desk");
}

#[tokio::test]
async fn every_documented_route_exists_and_operations_endpoints_answer() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 1).await;
    let doc: Value = api.get("/api/v1/openapi.json").await.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20);
    for (path, ops) in paths {
        let concrete = path
            .replace("{code}", "KRL")
            .replace("{number}", "101")
            .replace("{room_type}", "DLX")
            .replace("{reference}", "WB-999999")
            .replace("{id}", "WB-999999")
            .replace("{action}", "confirm");
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Logged out anonymously: the admin's token must outlive the loop.
            let who = if path == "/api/v1/logout" {
                api.anonymous()
            } else {
                api.clone()
            };
            let a = who.send(m, &concrete, None, &[]).await;
            assert_ne!(a.status, 405, "{method} {path}");
            assert!(
                !(a.status == 404 && a.body["detail"] == "no such endpoint"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    let anon = api.anonymous();
    assert_eq!(anon.get("/healthz").await.status, 200);
    let ready = anon.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["accepts_env_writes"], true);
    let m = anon
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("innsync_http_requests_total"), "{m}");
    assert!(m.contains("innsync_writer_batches"), "{m}");
    let env = api.get("/api/v1/environment").await.body;
    assert_eq!(env["master"]["server"], "WB");
    assert_eq!(env["state"], "master");
}

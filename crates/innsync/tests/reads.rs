//! Reads at booking-engine scale (issue 20) against a real server process: availability and
//! the quote carry the change-log position they reflect and answer `304` to its `ETag` until
//! a write moves it; the compact availability form holds the same figures as the default one;
//! the property read counts its rooms; the bookings list pages by reference.
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

fn etag(a: &Answer) -> String {
    a.headers
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn unchanged_answers_cost_a_304_and_a_write_moves_the_tag() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    let path = format!(
        "/api/v1/availability?property=KRL&from={}&to={}",
        day(1),
        day(4)
    );
    let first = api.get(&path).await;
    assert_eq!(first.status, 200);
    let tag = etag(&first);
    assert!(first.body["position"].is_object(), "{:?}", first.body);
    let again = api
        .send(Method::GET, &path, None, &[("if-none-match", &tag)])
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(etag(&again), tag);
    let quote_path = format!(
        "/api/v1/quote?property=KRL&from={}&to={}&adults=2",
        day(1),
        day(4)
    );
    let q = api.get(&quote_path).await;
    assert_eq!(q.status, 200, "{:?}", q.body);
    assert_eq!(etag(&q), tag, "one position, one tag");
    assert_eq!(q.body["position"], first.body["position"]);
    let q2 = api
        .send(
            Method::GET,
            &quote_path,
            None,
            &[("if-none-match", &format!("W/{tag}"))],
        )
        .await;
    assert_eq!(q2.status, 304);
    // A booking moves the position: the old tag gets the new answer.
    api.ok("/api/v1/bookings", booking(2, 1)).await;
    let after = api
        .send(Method::GET, &path, None, &[("if-none-match", &tag)])
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(etag(&after), tag);
    let dlx = |a: &Value| -> Vec<u64> {
        a["room_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == "DLX")
            .unwrap()["nights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["available"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(dlx(&first.body), vec![3, 3, 3]);
    assert_eq!(dlx(&after.body), vec![3, 2, 3]);
}

#[tokio::test]
async fn the_compact_form_holds_the_same_figures_as_the_default() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    api.ok("/api/v1/bookings", booking(3, 4)).await;
    api.ok(
        "/api/v1/properties/KRL/rooms/102/out-of-order",
        json!({"from": day(4), "to": day(6), "reason": "paint"}),
    )
    .await;
    let range = format!("property=KRL&from={}&to={}", day(0), day(10));
    let full = api.get(&format!("/api/v1/availability?{range}")).await;
    let compact = api
        .get(&format!("/api/v1/availability?{range}&format=compact"))
        .await;
    assert_eq!(compact.status, 200);
    assert_eq!(etag(&full), etag(&compact));
    assert_eq!(compact.body["format"], "compact");
    assert_eq!(compact.body["from"], full.body["from"]);
    let types = full.body["room_types"].as_array().unwrap();
    let ctypes = compact.body["room_types"].as_array().unwrap();
    assert_eq!(types.len(), ctypes.len());
    for (t, c) in types.iter().zip(ctypes) {
        assert_eq!(t["code"], c["code"]);
        for measure in ["total", "booked", "available", "held_here"] {
            let nightly: Vec<Value> = t["nights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n[measure].clone())
                .collect();
            assert_eq!(&Value::Array(nightly), &c[measure], "{measure}");
        }
    }
    let bad = api
        .get(&format!("/api/v1/availability?{range}&format=wide"))
        .await;
    assert!(bad.problem(400, "invalid_input").contains("format"));
}

#[tokio::test]
async fn the_property_read_counts_rooms_and_the_list_pages_by_reference() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    let p = api.get("/api/v1/properties/KRL").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.body["rooms"], 4, "{:?}", p.body);
    assert_eq!(p.body["room_types"].as_array().unwrap().len(), 2);
    let mut made = vec![];
    for i in 0..5 {
        let b = api.ok("/api/v1/bookings", booking(1 + i, 1)).await;
        made.push(b["reference"].as_str().unwrap().to_string());
    }
    made.sort();
    let mut seen = vec![];
    let mut after = String::new();
    loop {
        let page = api
            .get(&format!(
                "/api/v1/bookings?property=KRL&limit=2{}",
                if after.is_empty() {
                    String::new()
                } else {
                    format!("&after={after}")
                }
            ))
            .await
            .body;
        for b in page["bookings"].as_array().unwrap() {
            seen.push(b["reference"].as_str().unwrap().to_string());
        }
        match page["next_after"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let none = api.get("/api/v1/bookings?property=NOPE&limit=2").await;
    assert_eq!(none.body["bookings"].as_array().unwrap().len(), 0);
}

//! Rate plans, the quote and priced bookings end to end, on a real `innsync serve` process:
//! a BAR plan with a season, occupancy prices and restrictions, a plan derived from it, a
//! family quoted and booked, and bad input refused with nothing written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::{day, seed, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

fn family_price(amount: Option<i64>) -> Value {
    let mut v = json!({
        "room_type": "FAM",
        "adults_included": 2,
        "extra_adult": 40000,
        "children": [{"up_to_age": 2, "amount": 0}, {"up_to_age": 12, "amount": 25000}],
        "max_adults": 3
    });
    if let Some(a) = amount {
        v["amount"] = json!(a);
    }
    v
}

fn bar() -> Value {
    json!({
        "name": "Best available rate",
        "basis": {"kind": "base"},
        "occupancy": [family_price(None)],
        "seasons": [{"name": "Festive", "from": day(20), "to": day(35), "prices": [family_price(Some(320000))]}],
        "restrictions": [
            {"from": day(20), "to": day(35), "min_stay_arrival": 3},
            {"from": day(10), "to": day(11), "closed_to_arrival": true}
        ],
        "reprice_on_edit": true,
        "deposit": {"kind": "percent", "percent": 30, "due": {"days_after_booking": 2}}
    })
}

fn nrf() -> Value {
    json!({
        "name": "Non-refundable",
        "basis": {"kind": "derived", "from": "BAR", "adjust": {"percent_bp": -1000},
                  "rounding": {"step": 500, "mode": "nearest"}},
        "refundable": false,
        "deposit": {"kind": "first_night", "due": {"days_after_booking": 0}},
        "cancellation": {"free_until_days_before": null, "late": {"kind": "full_stay"}, "no_show": {"kind": "full_stay"}}
    })
}

fn line<'a>(q: &'a Value, room_type: &str, plan: &str) -> &'a Value {
    q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["room_type"] == room_type && l["rate_plan"] == plan)
        .unwrap_or_else(|| panic!("no line {room_type}/{plan} in {q}"))
}

#[tokio::test]
async fn a_family_is_quoted_and_booked_on_a_derived_plan() {
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

    // Plans: BAR (created: 201, version 1), then NRF derived from it.
    let a = api
        .put("/api/v1/properties/KRL/rate-plans/BAR", bar())
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["currency"], "ZAR");
    let a = api
        .put("/api/v1/properties/KRL/rate-plans/NRF", nrf())
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let list = api.get("/api/v1/properties/KRL/rate-plans").await.body;
    let codes: Vec<&str> = list["rate_plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["BAR", "NRF"]);

    // A family of two adults and a child of 7, two nights outside the season:
    // BAR 2 000.00 + 250.00 a night; NRF 10 % off, to a 5.00 ending: 2 025.00.
    let q = api
        .get(&format!(
            "/api/v1/quote?property=KRL&from={}&to={}&adults=2&children=7",
            day(3),
            day(5)
        ))
        .await;
    assert_eq!(q.status, 200, "{:?}", q.body);
    let q = q.body;
    let fam_bar = line(&q, "FAM", "BAR");
    assert_eq!(fam_bar["nightly"], json!([225000, 225000]));
    assert_eq!(fam_bar["total"], 450000);
    let fam_nrf = line(&q, "FAM", "NRF");
    assert_eq!(fam_nrf["nightly"], json!([202500, 202500]));
    assert_eq!(fam_nrf["total"], 405000);
    assert_eq!(fam_nrf["currency"], "ZAR");
    assert_eq!(fam_nrf["sellable_here"], 2);
    assert_eq!(fam_nrf["free_at_property"], 2);
    assert_eq!(fam_nrf["bookable"], true);
    // Deluxe sleeps two: refused for three guests.
    assert_eq!(line(&q, "DLX", "BAR")["refused"]["code"], "max_occupancy");

    // In the festive season, a two-night stay breaks BAR's min stay — NRF inherits it.
    let q = api
        .get(&format!(
            "/api/v1/quote?property=KRL&from={}&to={}&adults=2&children=7&rate_plan=NRF",
            day(21),
            day(23)
        ))
        .await
        .body;
    let l = line(&q, "FAM", "NRF");
    assert_eq!(l["refused"]["code"], "min_stay_arrival", "{l}");
    assert_eq!(
        l["refused"]["detail"],
        format!("min stay 3 on arrival {}", day(21))
    );
    assert_eq!(l["restrictions"][0]["refuses"], true);
    assert_eq!(l["bookable"], false);
    assert!(q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["rate_plan"] == "NRF"));
    // Three nights pass, at the season's price: (3 200.00 + 250.00) − 10 % = 3 105.00.
    let q = api
        .get(&format!(
            "/api/v1/quote?property=KRL&from={}&to={}&adults=2&children=7&rate_plan=NRF",
            day(21),
            day(24)
        ))
        .await
        .body;
    let l = line(&q, "FAM", "NRF");
    assert_eq!(l["nightly"], json!([310500, 310500, 310500]), "{l}");
    assert_eq!(l["restrictions"][0]["refuses"], false);
    // Closed to arrival.
    let q = api
        .get(&format!(
            "/api/v1/quote?property=KRL&from={}&to={}&adults=2",
            day(10),
            day(12)
        ))
        .await
        .body;
    assert_eq!(
        line(&q, "FAM", "BAR")["refused"]["code"],
        "closed_to_arrival"
    );

    // Book on NRF: the price is decided once and stored on the booking.
    let mut body = json!({"property": "KRL", "room_type": "FAM", "arrival": day(3), "departure": day(5),
        "guest": {"name": "Thandi Dube", "email": "thandi@example.com"},
        "rate_plan": "NRF", "adults": 2, "children": [7]});
    let b = api.post("/api/v1/bookings", body.clone()).await;
    assert_eq!(b.status, 201, "{:?}", b.body);
    let reference = b.body["reference"].as_str().unwrap().to_string();
    assert_eq!(
        b.body["price"],
        json!({"amount": 405000, "currency": "ZAR"})
    );
    assert_eq!(b.body["rate_plan"], "NRF");
    assert_eq!(b.body["adults"], 2);
    assert_eq!(b.body["children"], json!([7]));
    assert_eq!(b.body["pricing"]["nightly"], json!([202500, 202500]));

    // A restriction refuses a booking with problem+json, and nothing is written.
    let before = api.get("/api/v1/bookings?property=KRL").await.body;
    body["arrival"] = json!(day(21));
    body["departure"] = json!(day(23));
    let refused = api.post("/api/v1/bookings", body.clone()).await;
    let detail = refused.problem(409, "restricted");
    assert!(detail.contains("min stay 3 on arrival"), "{detail}");
    assert_eq!(refused.body["restriction"], "min_stay_arrival");
    // Too many guests for the room type: invalid input.
    body["arrival"] = json!(day(3));
    body["departure"] = json!(day(5));
    body["children"] = json!([1, 5, 9]);
    api.post("/api/v1/bookings", body.clone())
        .await
        .problem(400, "invalid_input");
    assert_eq!(api.get("/api/v1/bookings?property=KRL").await.body, before);

    // Bad plans are refused naming the field; nothing is written.
    let mut overlapping = bar();
    overlapping["seasons"].as_array_mut().unwrap().push(
        json!({"name": "Again", "from": day(30), "to": day(40), "prices": [family_price(Some(1))]}),
    );
    let d = api
        .put("/api/v1/properties/KRL/rate-plans/BAR", overlapping)
        .await
        .problem(400, "invalid_input");
    assert!(d.starts_with("seasons"), "{d}");
    let mut typo = bar();
    typo["restrictions"][0]["min_stay"] = json!(2);
    let d = api
        .put("/api/v1/properties/KRL/rate-plans/BAR", typo)
        .await
        .problem(400, "invalid_input");
    assert_eq!(d, "restrictions[0].min_stay: unknown field");
    let mut bad_kind = nrf();
    bad_kind["basis"]["from"] = json!("NOPE");
    let d = api
        .put("/api/v1/properties/KRL/rate-plans/AGT", bad_kind)
        .await
        .problem(400, "invalid_input");
    assert!(d.starts_with("basis.from"), "{d}");
    api.get("/api/v1/properties/KRL/rate-plans/AGT")
        .await
        .problem(404, "not_found");
    // If-Match: a stale version is refused; the current one replaces.
    let mut dearer = bar();
    dearer["seasons"][0]["prices"][0]["amount"] = json!(500000);
    api.send(
        Method::PUT,
        "/api/v1/properties/KRL/rate-plans/BAR",
        Some(dearer.clone()),
        &[("if-match", "\"7\"")],
    )
    .await
    .problem(409, "version_conflict");
    let got = api.get("/api/v1/properties/KRL/rate-plans/BAR").await;
    assert_eq!(got.body["version"], 1);
    assert_eq!(got.body["seasons"][0]["prices"][0]["amount"], 320000);
    let a = api
        .send(
            Method::PUT,
            "/api/v1/properties/KRL/rate-plans/BAR",
            Some(dearer),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["version"], 2);
    // Bad quotes.
    api.get(&format!(
        "/api/v1/quote?property=KRL&from={}&to={}&children=seven",
        day(3),
        day(5)
    ))
    .await
    .problem(400, "invalid_input");
    api.get(&format!(
        "/api/v1/quote?property=KRL&from={}&to={}&rate_plan=NOPE",
        day(3),
        day(5)
    ))
    .await
    .problem(404, "not_found");

    // The booking form's live fragment shows the quoted price (and a refusal) before booking.
    let form = |arrival: u64, departure: u64| {
        format!(
            "{}/ui/bookings/new/availability?stock=KRL/FAM&arrival={}&departure={}&units=1&rate_plan=KRL/NRF&adults=2&children=7",
            s.base,
            day(arrival),
            day(departure)
        )
    };
    let fragment = |url: String| {
        let http = api.http.clone();
        async move {
            http.get(url)
                // The session cookie is named per server (a server outside an environment:
                // by its code alone).
                .header("cookie", format!("innsync_session_WB={}", common::TOKEN))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let html = fragment(form(40, 42)).await;
    assert!(html.contains("data-testid=\"live-price\""), "{html}");
    assert!(html.contains("data-total=\"405000\""), "{html}");
    let html = fragment(form(21, 23)).await;
    assert!(html.contains("Not sold on this plan"), "{html}");
    assert!(html.contains("min stay 3 on arrival"), "{html}");

    // The stored booking keeps its price whatever the plans say now.
    let got = api.get(&format!("/api/v1/bookings/{reference}")).await.body;
    assert_eq!(got["price"]["amount"], 405000);
    assert_eq!(got["pricing"]["rate_plan"], "NRF");
    s.check_invariants();
}

//! A rate plan's deposit and cancellation terms end to end, with a real server process: a
//! provisional booking on a plan asking 30% is shown its deposit due, confirmed by the
//! server's own deposit sweep once the deposit is paid; a late cancellation posts the plan's
//! fee (the first night) to the folio, a refused one writes nothing; the deposits report
//! applies the plan's rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use serde_json::{json, Value};

fn plan() -> Value {
    json!({
        "name": "Best available rate",
        "basis": {"kind": "base"},
        "occupancy": [{"room_type": "DLX", "amount": 10000, "adults_included": 2, "extra_adult": 0, "children": []}],
        "deposit": {"kind": "percent", "percent": 30, "due": {"days_after_booking": 2}},
        "cancellation": {"free_until_days_before": 7, "late": {"kind": "first_night"}, "no_show": {"kind": "full_stay"}}
    })
}

fn on_plan(arrival: u64, nights: u64, provisional: bool) -> Value {
    let mut b = booking(arrival, nights);
    b["rate_plan"] = json!("BAR");
    b["adults"] = json!(2);
    if provisional {
        b["status"] = json!("provisional");
        b["hold_until"] = json!((chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339());
    }
    b
}

#[tokio::test]
async fn deposits_confirm_and_cancellations_charge_by_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--server",
        "WB",
        "--data-dir",
        &dir.path().display().to_string(),
        "--setting",
        "night_audit_check=100ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (mut child, base) = launch(&args, "warn");
    let api = Api::new(&base, TOKEN);
    seed(&api, 2).await;
    let a = api
        .put("/api/v1/properties/KRL/rate-plans/BAR", plan())
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);

    // A provisional booking of three nights at 100.00: 30% = 90.00 due in two days.
    let b = api.ok("/api/v1/bookings", on_plan(20, 3, true)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    assert_eq!(b["status"], "provisional");
    let terms = api.get(&format!("/api/v1/bookings/{r}/terms")).await;
    assert_eq!(terms.status, 200, "{:?}", terms.body);
    assert_eq!(terms.body["deposit"]["required"], 9000, "{:?}", terms.body);
    assert_eq!(terms.body["deposit"]["state"], "due");
    assert_eq!(terms.body["deposit"]["due"], day(2));
    assert_eq!(terms.body["cancellation"]["fee_today"], 0);
    assert_eq!(terms.body["cancellation"]["no_show_fee"], 30000);
    let report = api
        .get(&format!(
            "/api/v1/reports/deposits?property=KRL&from={}&to={}",
            day(0),
            day(60)
        ))
        .await;
    assert_eq!(report.status, 200, "{:?}", report.body);
    let row = report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["reference"] == r.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", report.body));
    assert_eq!(row["deposit_due"], 9000, "{row:?}");
    assert_eq!(row["state"], "due", "{row:?}");
    assert_eq!(row["due_date"], day(2), "{row:?}");

    // The deposit paid: the sweep confirms the booking.
    let p = api
        .post(
            &format!("/api/v1/bookings/{r}/payments"),
            json!({"amount": 9000, "currency": "ZAR", "method": "transfer", "kind": "deposit", "reference": "EFT 77"}),
        )
        .await;
    assert_eq!(p.status, 201, "{:?}", p.body);
    until("the deposit sweep to confirm the booking", || {
        let api = &api;
        let r = &r;
        async move {
            let b = api.get(&format!("/api/v1/bookings/{r}")).await.body;
            (b["status"] == "confirmed").then_some(())
        }
    })
    .await;
    let terms = api.get(&format!("/api/v1/bookings/{r}/terms")).await;
    assert_eq!(terms.body["deposit"]["state"], "paid");

    // A late cancellation (arriving in 3 days): the first night is posted.
    let late = api.ok("/api/v1/bookings", on_plan(3, 3, false)).await;
    let lr = late["reference"].as_str().unwrap().to_string();
    let bad = api
        .post(
            &format!("/api/v1/bookings/{lr}/cancellation"),
            json!({"reason": "x", "colour": 1}),
        )
        .await;
    bad.problem(400, "invalid_input");
    let f = api.get(&format!("/api/v1/bookings/{lr}/folio")).await.body;
    assert_eq!(f["balance"], 0, "nothing written by a refusal");
    let c = api
        .post(
            &format!("/api/v1/bookings/{lr}/cancellation"),
            json!({"reason": "flight cancelled"}),
        )
        .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    assert_eq!(c.body["status"], "cancelled");
    assert_eq!(c.body["related"][0]["amount"], 10000, "{:?}", c.body);
    let f = api.get(&format!("/api/v1/bookings/{lr}/folio")).await.body;
    assert_eq!(f["balance"], 10000);
    // Cancelling again is refused; no second fee.
    api.post(&format!("/api/v1/bookings/{lr}/cancellation"), json!({}))
        .await
        .problem(409, "invalid_transition");
    let f = api.get(&format!("/api/v1/bookings/{lr}/folio")).await.body;
    assert_eq!(f["balance"], 10000);
    api.get("/api/v1/bookings/WB-999999/terms")
        .await
        .problem(404, "not_found");
    let _ = child.kill();
    let _ = child.wait();
}

/// With `confirm_on_deposit` (the default) the payment that completes a deposit confirms the
/// booking in its own decision — the sweep (every minute by default) has not run yet; a plain
/// cancel inside the plan's fee window posts the fee like `/cancellation`, and one while
/// cancelling is free posts nothing.
#[tokio::test]
async fn a_paid_deposit_confirms_at_once_and_a_plain_cancel_applies_the_policy() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    let a = api
        .put("/api/v1/properties/KRL/rate-plans/BAR", plan())
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let b = api.ok("/api/v1/bookings", on_plan(20, 3, true)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    let pay = |amount: i64| json!({"amount": amount, "currency": "ZAR", "method": "card", "kind": "deposit", "reference": "POS 12"});
    let p = api
        .post(&format!("/api/v1/bookings/{r}/payments"), pay(5000))
        .await;
    assert_eq!(p.status, 201, "{:?}", p.body);
    let b = api.get(&format!("/api/v1/bookings/{r}")).await.body;
    assert_eq!(b["status"], "provisional", "part of the deposit");
    let p = api
        .post(&format!("/api/v1/bookings/{r}/payments"), pay(4000))
        .await;
    assert_eq!(p.status, 201, "{:?}", p.body);
    let b = api.get(&format!("/api/v1/bookings/{r}")).await.body;
    assert_eq!(b["status"], "confirmed", "{b}");
    assert_eq!(b["hold_until"], Value::Null, "{b}");
    let audit = api
        .get(&format!("/api/v1/audit?record={r}"))
        .await
        .body
        .to_string();
    assert!(audit.contains("booking.deposit_confirm"), "{audit}");

    // A plain cancel three days before arrival: the first night (100.00) on the folio.
    let late = api.ok("/api/v1/bookings", on_plan(3, 3, false)).await;
    let lr = late["reference"].as_str().unwrap().to_string();
    let c = api
        .post(
            &format!("/api/v1/bookings/{lr}/cancel"),
            json!({"reason": "flight cancelled"}),
        )
        .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(c.body["status"], "cancelled");
    let f = api.get(&format!("/api/v1/bookings/{lr}/folio")).await.body;
    assert_eq!(f["balance"], 10000, "{f}");
    assert_eq!(
        f["folios"][0]["entries"][0]["description"], "Cancellation fee (first night)",
        "{f}"
    );
    // Early (thirty days ahead): free, nothing posted; a refused cancel writes nothing.
    let early = api.ok("/api/v1/bookings", on_plan(30, 2, false)).await;
    let er = early["reference"].as_str().unwrap().to_string();
    api.post(
        &format!("/api/v1/bookings/{er}/cancel"),
        json!({"reason": 7}),
    )
    .await
    .problem(400, "invalid_input");
    let c = api
        .post(&format!("/api/v1/bookings/{er}/cancel"), json!({}))
        .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    let f = api.get(&format!("/api/v1/bookings/{er}/folio")).await.body;
    assert_eq!(f["balance"], 0, "{f}");
    api.post(&format!("/api/v1/bookings/{lr}/cancel"), json!({}))
        .await
        .problem(409, "invalid_transition");
    let f = api.get(&format!("/api/v1/bookings/{lr}/folio")).await.body;
    assert_eq!(f["balance"], 10000, "no second fee");
}

//! Money end to end, with real server processes: a booking with a 30% deposit, a charge from
//! the catalogue, the night audit run twice for one date (posted once), check-out with the
//! balance paid, an invoice and a credit note, the reports (JSON and CSV) and `innsync check`;
//! then two servers, where a deposit taken on the office while the lodge is cut off reaches
//! the lodge after the heal and both hold the same folio.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::mesh::{admin_known, digest, proxy_mesh, start_behind};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn folio(api: &Api, reference: &str) -> Value {
    let a = api
        .get(&format!("/api/v1/bookings/{reference}/folio"))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body
}

async fn catalogue(api: &Api) {
    let a = api
        .put(
            "/api/v1/properties/KRL/catalog",
            json!({
                "taxes": [{"code": "VAT", "name": "VAT 15%", "rate_bp": 1500, "inclusive": true}],
                "items": [
                    {"code": "ROOM", "name": "Room", "price": null, "tax": "VAT", "group": "rooms"},
                    {"code": "MINIBAR", "name": "Minibar", "price": 4500, "tax": "VAT", "group": "beverage"}
                ]
            }),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
}

#[tokio::test]
async fn a_stay_from_deposit_to_credit_note_over_http() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    catalogue(&api).await;
    // Two nights at 100.00: 200.00, a 30% deposit of 60.00.
    let b = api.ok("/api/v1/bookings", booking(0, 2)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    assert_eq!(b["price"]["amount"], 20000, "{b:?}");
    let pay = |amount: i64, kind: &str, reference: &str| json!({"amount": amount, "currency": "ZAR", "method": "card", "kind": kind, "reference": reference});
    // Refusals: problem+json, nothing written.
    let payments = format!("/api/v1/bookings/{r}/payments");
    for (body, code, needle) in [
        (
            pay(6000, "deposit", "4111 1111 1111 1111"),
            "invalid_input",
            "card number",
        ),
        (pay(0, "deposit", "x"), "invalid_input", "amount"),
        (pay(6000, "gift", "x"), "invalid_input", "kind"),
        (
            json!({"amount": 6000, "currency": "EUR", "method": "card"}),
            "invalid_input",
            "ZAR",
        ),
        (
            json!({"amount": 6000, "currency": "ZAR", "method": "cheque"}),
            "invalid_input",
            "method",
        ),
        (
            json!({"amount": 6000, "currency": "ZAR", "method": "card", "colour": 1}),
            "invalid_input",
            "colour",
        ),
    ] {
        let a = api.post(&payments, body).await;
        assert!(a.problem(400, code).contains(needle), "{:?}", a.body);
    }
    api.post(
        "/api/v1/bookings/WB-999999/payments",
        pay(1, "payment", "x"),
    )
    .await
    .problem(404, "not_found");
    assert_eq!(folio(&api, &r).await["balance"], 0);
    assert!(folio(&api, &r).await["folios"][0]["entries"]
        .as_array()
        .unwrap()
        .is_empty());
    // The deposit, retried with the same Idempotency-Key: taken once.
    let body = pay(6000, "deposit", "visa 1111");
    let first = api
        .send(
            Method::POST,
            &payments,
            Some(body.clone()),
            &[("Idempotency-Key", "dep-1")],
        )
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = api
        .send(
            Method::POST,
            &payments,
            Some(body),
            &[("Idempotency-Key", "dep-1")],
        )
        .await;
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(folio(&api, &r).await["balance"], -6000);
    // Check in; the minibar; the night audit of today, twice: one room night.
    api.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": "101"}),
    )
    .await;
    let mini = api
        .ok(
            &format!("/api/v1/bookings/{r}/charges"),
            json!({"item": "MINIBAR", "quantity": 1}),
        )
        .await;
    assert_eq!(mini["amount"], 4500);
    assert_eq!(mini["taxes"][0]["amount"], 587, "{mini:?}");
    for _ in 0..2 {
        let a = api
            .post(
                "/api/v1/night-audit",
                json!({"property": "KRL", "business_date": day(0)}),
            )
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    let f = folio(&api, &r).await;
    let entries = f["folios"][0]["entries"].as_array().unwrap().clone();
    let rooms: Vec<&Value> = entries.iter().filter(|e| e["item"] == "ROOM").collect();
    assert_eq!(rooms.len(), 1, "one night, one charge: {entries:?}");
    assert_eq!(rooms[0]["amount"], 10000);
    assert_eq!(f["balance"], 10000 + 4500 - 6000);
    // A wrong charge, corrected; the correction nets it.
    let wrong = api
        .ok(
            &format!("/api/v1/bookings/{r}/charges"),
            json!({"amount": 999, "description": "Laundry"}),
        )
        .await;
    api.ok(
        &format!("/api/v1/bookings/{r}/corrections"),
        json!({"entry": wrong["id"], "reason": "not ours"}),
    )
    .await;
    assert_eq!(folio(&api, &r).await["balance"], 8500);
    // Check-out, the balance paid, the invoice.
    api.ok(&format!("/api/v1/bookings/{r}/check-out"), json!({}))
        .await;
    api.ok(&payments, pay(8500, "payment", "visa 1111")).await;
    assert_eq!(folio(&api, &r).await["balance"], 0);
    let inv = api
        .ok(&format!("/api/v1/bookings/{r}/invoices"), json!({}))
        .await;
    let number = inv["number"].as_str().unwrap().to_string();
    let year = chrono::Datelike::year(&today());
    assert_eq!(number, format!("WB-{year}-000001"));
    assert_eq!(inv["total"], 14500);
    assert_eq!(inv["paid"], 14500);
    // Nothing left to invoice.
    api.post(&format!("/api/v1/bookings/{r}/invoices"), json!({}))
        .await
        .problem(400, "invalid_input");
    // Printable.
    let html = api
        .http
        .get(format!("{}/api/v1/invoices/{number}", api.base))
        .bearer_auth(TOKEN)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&number) && html.contains("145.00 ZAR"),
        "{html}"
    );
    assert!(html.contains("series of server"), "{html}");
    // The credit note, in the same series; the entries may be invoiced again.
    let cn = api
        .ok(
            &format!("/api/v1/invoices/{number}/credit-note"),
            json!({"reason": "wrong company name"}),
        )
        .await;
    assert_eq!(cn["number"], format!("WB-{year}-000002"));
    assert_eq!(cn["total"], -14500);
    api.post(
        &format!("/api/v1/invoices/{number}/credit-note"),
        json!({"reason": "again"}),
    )
    .await
    .problem(409, "already_exists");
    let reissued = api
        .ok(
            &format!("/api/v1/bookings/{r}/invoices"),
            json!({"bill_to": "Smith Holdings"}),
        )
        .await;
    assert_eq!(reissued["number"], format!("WB-{year}-000003"));
    // Reports.
    let occ = api
        .get(&format!(
            "/api/v1/reports/occupancy?property=KRL&from={}&to={}",
            day(0),
            day(1)
        ))
        .await;
    assert_eq!(occ.status, 200, "{:?}", occ.body);
    let dlx = occ.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["room_type"] == "DLX")
        .unwrap()
        .clone();
    // 2 rooms, 1 sold (the stay was cut to its first night at check-out), 100.00 gross.
    assert_eq!(dlx["rooms_available"], 2, "{dlx:?}");
    assert_eq!(dlx["room_revenue"], 10000 - 1304);
    assert_eq!(dlx["adr"], 10000 - 1304);
    assert_eq!(dlx["revpar"], (10000 - 1304) / 2);
    assert!(!occ.body["freshness"].as_array().unwrap().is_empty());
    let csv = api
        .http
        .get(format!(
            "{}/api/v1/reports/revenue?property=KRL&from={}",
            api.base,
            day(0)
        ))
        .bearer_auth(TOKEN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(csv
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("kind,item,entries,net,tax,gross\r\n"),
        "{csv}"
    );
    assert!(csv.contains("charge,MINIBAR,1,3913,587,4500"), "{csv}");
    api.get("/api/v1/reports/nope?property=KRL&from=2027-01-01")
        .await
        .problem(404, "not_found");
    api.get("/api/v1/reports/arrivals?property=KRL&from=2027-01-05&to=2027-01-01")
        .await
        .problem(400, "invalid_input");
    let arrivals = api
        .get(&format!(
            "/api/v1/reports/arrivals?property=KRL&from={}",
            day(0)
        ))
        .await;
    assert_eq!(arrivals.body["rows"][0]["reference"], r.as_str());
    assert_eq!(arrivals.body["rows"][0]["balance"], 0);
    // The UI: the folio page, a payment taken through its form (CSRF checked), the invoice.
    api.ok(
        "/api/v1/users",
        json!({"username": "desk", "password": "desk-password-1", "roles": ["front_desk"]}),
    )
    .await;
    let (http, cookie) = ui_login(&api.base, "desk", "desk-password-1").await;
    let page = ui_get(
        &http,
        &cookie,
        &format!("{}/ui/bookings/{r}/folio", api.base),
    )
    .await;
    assert!(page.contains("Balance 0.00 ZAR"), "{page}");
    assert!(page.contains(&number), "{page}");
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    let posted = http
        .post(format!("{}/ui/folio/{r}/payment", api.base))
        .header(reqwest::header::COOKIE, &cookie)
        .header("origin", &api.base)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "refund"),
            ("method", "cash"),
            ("amount", "500"),
            ("reference", ""),
            ("folio", "guest"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(folio(&api, &r).await["balance"], 500);
    let refused = http
        .post(format!("{}/ui/folio/{r}/payment", api.base))
        .header(reqwest::header::COOKIE, &cookie)
        .header("origin", &api.base)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("kind", "payment"),
            ("method", "card"),
            ("amount", "500"),
            ("reference", "5500 0000 0000 0004"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("card number"));
    assert_eq!(folio(&api, &r).await["balance"], 500);
    let printable = ui_get(
        &http,
        &cookie,
        &format!("{}/ui/invoices/{number}", api.base),
    )
    .await;
    assert!(printable.contains("Credit note") || printable.contains("Invoice"));
    s.check_invariants();
}

async fn ui_login(base: &str, name: &str, password: &str) -> (reqwest::Client, String) {
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{base}/ui/login"))
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "UI login");
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    (http, cookie)
}

async fn ui_get(http: &reqwest::Client, cookie: &str, url: &str) -> String {
    let page = http
        .get(url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{url}");
    page.text().await.unwrap()
}

#[tokio::test]
async fn a_deposit_taken_at_the_office_while_the_lodge_is_cut_off_reaches_the_lodge() {
    let dir = tempfile::tempdir().unwrap();
    let codes = ["WB", "PA"];
    let real: Vec<u16> = codes.iter().map(|_| free_port()).collect();
    let env = environment_file(dir.path(), &[("WB", real[0]), ("PA", real[1])]);
    let links = proxy_mesh(&codes, &real).await;
    let servers = start_behind(&env, &codes, &real, &links);
    let (wb, pa) = (servers[0].api(), servers[1].api());
    for api in [&wb, &pa] {
        admin_known(api).await;
    }
    // The lodge sets up KRL (it owns it) and takes a booking.
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
    pa.ok(
        "/api/v1/properties/KRL/rooms",
        json!({"number": "101", "room_type": "DLX"}),
    )
    .await;
    let a = pa
        .put(
            "/api/v1/properties/KRL/rates/DLX",
            json!({"from": day(0), "to": day(30), "amount": 10000, "currency": "ZAR"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    catalogue(&pa).await;
    let b = pa.ok("/api/v1/bookings", booking(0, 2)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    until("the booking at the office", || async {
        (wb.get(&format!("/api/v1/bookings/{r}")).await.status == 200).then_some(())
    })
    .await;
    // The lodge is cut off; the office takes the 30% deposit on the lodge's booking.
    for p in links.values() {
        p.cut();
    }
    let dep = wb
        .ok(
            &format!("/api/v1/bookings/{r}/payments"),
            json!({"amount": 6000, "currency": "ZAR", "method": "transfer", "kind": "deposit"}),
        )
        .await;
    assert_eq!(dep["owner"], "server:WB");
    // Meanwhile the lodge checks the guest in, posts the minibar and runs its audit.
    pa.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": "101"}),
    )
    .await;
    pa.ok(
        &format!("/api/v1/bookings/{r}/charges"),
        json!({"item": "MINIBAR"}),
    )
    .await;
    let audit = pa
        .ok(
            "/api/v1/night-audit",
            json!({"property": "KRL", "business_date": day(0)}),
        )
        .await;
    assert_eq!(audit["posted"].as_array().unwrap().len(), 1, "{audit:?}");
    // The office cannot run the lodge's audit for it: it posts nothing for PA's booking.
    let office_audit = wb
        .ok(
            "/api/v1/night-audit",
            json!({"property": "KRL", "business_date": day(0)}),
        )
        .await;
    assert!(office_audit["posted"].as_array().unwrap().is_empty());
    assert_eq!(folio(&pa, &r).await["balance"], 10000 + 4500);
    // Heal: both hold every entry; the folios are identical.
    for p in links.values() {
        p.heal();
    }
    let want = 10000 + 4500 - 6000;
    until("the deposit at the lodge", || async {
        (folio(&pa, &r).await["balance"] == want).then_some(())
    })
    .await;
    until("the lodge's postings at the office", || async {
        (folio(&wb, &r).await == folio(&pa, &r).await).then_some(())
    })
    .await;
    let d = digest(&wb).await;
    until("identical stores", || async {
        (digest(&pa).await == d).then_some(())
    })
    .await;
    for s in &servers {
        s.check_invariants();
    }
}

//! Issue 18's "done when", end to end with real processes and real sockets: a provisional
//! booking on a plan asking a 30% deposit; the deposit paid on the office server while the
//! lodge is cut off; after the heal the lodge's deposit sweep confirms it; cut off again, the
//! lodge checks the guest in, receives minibar postings over its FIAS link (TCP) onto the
//! folio, moves the guest to another room, runs its night audit (twice: posted once), checks
//! the guest out with the balance paid, issues an invoice and a credit note; after the heal
//! every server holds the same folio, invoices and store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;
mod fias_peer;

use common::mesh::{admin_known, digest, proxy_mesh, start_behind_with};
use common::*;
use serde_json::{json, Value};

async fn folio(api: &Api, reference: &str) -> Value {
    let a = api
        .get(&format!("/api/v1/bookings/{reference}/folio"))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body
}

const LINK_RECORDS: [&str; 4] = [
    "LR|RIGI|FLRNG#GNSF|",
    "LR|RIGO|FLRNG#SF|",
    "LR|RIGC|FLRNG#GNRO|",
    "LR|RIPA|FLASRNP#CTDATI|",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stay_from_an_offline_deposit_to_a_credit_note_on_two_servers() {
    let dir = tempfile::tempdir().unwrap();
    let codes = ["WB", "PA"];
    let real: Vec<u16> = codes.iter().map(|_| free_port()).collect();
    let env = environment_file(dir.path(), &[("WB", real[0]), ("PA", real[1])]);
    let links = proxy_mesh(&codes, &real).await;
    let servers = start_behind_with(
        &env,
        &codes,
        &real,
        &links,
        &["--setting", "night_audit_check=100ms"],
    );
    let (wb, pa) = (servers[0].api(), servers[1].api());
    for api in [&wb, &pa] {
        admin_known(api).await;
    }
    // The lodge sets up KRL: two rooms at 100.00, a minibar, plan BAR asking 30% in 2 days.
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
    for n in ["101", "102"] {
        pa.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": n, "room_type": "DLX"}),
        )
        .await;
    }
    let a = pa
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
    let a = pa
        .put(
            "/api/v1/properties/KRL/rate-plans/BAR",
            json!({
                "name": "Best available rate",
                "basis": {"kind": "base"},
                "occupancy": [{"room_type": "DLX", "amount": 10000, "adults_included": 2, "extra_adult": 0, "children": []}],
                "deposit": {"kind": "percent", "percent": 30, "due": {"days_after_booking": 2}},
                "cancellation": {"free_until_days_before": 7, "late": {"kind": "first_night"}, "no_show": {"kind": "first_night"}}
            }),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let mut body = booking(0, 2);
    body["rate_plan"] = json!("BAR");
    body["adults"] = json!(2);
    body["status"] = json!("provisional");
    body["hold_until"] = json!((chrono::Utc::now() + chrono::Duration::hours(20)).to_rfc3339());
    let b = pa.ok("/api/v1/bookings", body).await;
    let r = b["reference"].as_str().unwrap().to_string();
    assert_eq!(b["price"]["amount"], 20000, "{b:?}");
    until("the booking at the office", || async {
        (wb.get(&format!("/api/v1/bookings/{r}")).await.status == 200).then_some(())
    })
    .await;
    let terms = wb.get(&format!("/api/v1/bookings/{r}/terms")).await.body;
    assert_eq!(terms["deposit"]["required"], 6000, "{terms}");

    // The lodge is cut off; the office takes the 30% deposit on the lodge's booking.
    for p in links.values() {
        p.cut();
    }
    let dep = wb
        .ok(
            &format!("/api/v1/bookings/{r}/payments"),
            json!({"amount": 6000, "currency": "ZAR", "method": "transfer", "kind": "deposit", "reference": "EFT 4471"}),
        )
        .await;
    assert_eq!(dep["owner"], "server:WB");
    // The office may not confirm the lodge's booking; the lodge has not heard of the deposit.
    assert_eq!(
        pa.get(&format!("/api/v1/bookings/{r}")).await.body["status"],
        "provisional"
    );
    for p in links.values() {
        p.heal();
    }
    until(
        "the lodge's deposit sweep to confirm the booking",
        || async {
            (pa.get(&format!("/api/v1/bookings/{r}")).await.body["status"] == "confirmed")
                .then_some(())
        },
    )
    .await;

    // The lodge's FIAS link, with the vendor's interface connected over TCP.
    let address = format!("127.0.0.1:{}", free_port());
    let put = pa
        .put(
            "/api/v1/pms/links/fias",
            json!({"property": "KRL", "dialect": "fias", "role": "listen", "address": address}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let mut peer = fias_peer::FiasPeer::connect(&address).await;
    peer.start_link(&LINK_RECORDS).await;

    // Cut off again, the lodge runs the stay.
    for p in links.values() {
        p.cut();
    }
    let ci = pa
        .ok(
            &format!("/api/v1/bookings/{r}/check-in"),
            json!({"room": "101"}),
        )
        .await;
    let number = ci["reservation_number"].as_u64();
    let gi = peer.until("GI").await;
    assert_eq!(gi.text("RN").as_deref(), Some("101"), "{}", gi.show());
    // Minibar over the link: charged, answered OK; the same P# again is charged once.
    for _ in 0..2 {
        let pa_rec = peer.post("101", number, 1250, 501).await;
        assert_eq!(
            pa_rec.text("AS").as_deref(),
            Some("OK"),
            "{}",
            pa_rec.show()
        );
    }
    // A room move; the next minibar is for the new room; the old one is empty: NG.
    pa.ok(
        &format!("/api/v1/bookings/{r}/move-room"),
        json!({"room": "102"}),
    )
    .await;
    let rec = peer.post("102", None, 800, 502).await;
    assert_eq!(rec.text("AS").as_deref(), Some("OK"), "{}", rec.show());
    let rec = peer.post("101", None, 300, 503).await;
    assert_eq!(rec.text("AS").as_deref(), Some("NG"), "{}", rec.show());
    // Night audits of today, twice: one room night.
    for _ in 0..2 {
        let a = pa
            .post(
                "/api/v1/night-audit",
                json!({"property": "KRL", "business_date": day(0)}),
            )
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }
    let f = folio(&pa, &r).await;
    let want = 10000 + 1250 + 800 - 6000;
    assert_eq!(f["balance"], want, "{f}");
    let pms: Vec<&Value> = f["folios"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "pms")
        .collect();
    assert_eq!(pms.len(), 2, "{f}");
    // Check-out with the balance paid; an invoice; a credit note.
    pa.ok(&format!("/api/v1/bookings/{r}/check-out"), json!({}))
        .await;
    pa.ok(
        &format!("/api/v1/bookings/{r}/payments"),
        json!({"amount": want, "currency": "ZAR", "method": "card", "kind": "payment", "reference": "visa 1111"}),
    )
    .await;
    assert_eq!(folio(&pa, &r).await["balance"], 0);
    let inv = pa
        .ok(&format!("/api/v1/bookings/{r}/invoices"), json!({}))
        .await;
    let number = inv["number"].as_str().unwrap().to_string();
    assert!(number.starts_with("PA-"), "{inv}");
    assert_eq!(inv["total"], 10000 + 1250 + 800, "{inv}");
    let cn = pa
        .ok(
            &format!("/api/v1/invoices/{number}/credit-note"),
            json!({"reason": "billed to the wrong company"}),
        )
        .await;
    assert_eq!(cn["total"], -(10000 + 1250 + 800), "{cn}");

    // Heal: every server holds the same folio, invoices and store.
    for p in links.values() {
        p.heal();
    }
    until("the lodge's stay at the office", || async {
        (folio(&wb, &r).await == folio(&pa, &r).await).then_some(())
    })
    .await;
    let at_office = wb.get(&format!("/api/v1/invoices/{number}")).await;
    assert_eq!(at_office.status, 200, "{:?}", at_office.body);
    let d = digest(&pa).await;
    until("identical stores", || async {
        (digest(&wb).await == d).then_some(())
    })
    .await;
    for s in &servers {
        s.check_invariants();
    }
}

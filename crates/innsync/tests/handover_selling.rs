//! The web server keeps selling through a planned handover of the master role and back, on real
//! server processes (WB web and initial master, RS office, PA property server), every link
//! through its own fault proxy.
//!
//! RVC is env-owned stock. While WB is master it sells it as `env`; a standing rule
//! (`[[allotment_rules]]`, holder `WB`) keeps a share of every night granted to WB, so when the
//! master moves to RS, WB goes on selling from its own share instead of holding nothing. A
//! booking that meets the handover's freeze is refused with the retryable
//! `handover_in_progress` (503) and accepted when retried. At the end every server holds the
//! same bookings, none sold twice, no night beyond its rooms, and `innsync check` passes on each.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::mesh::{admin_known, digest, three_servers, ThreeServers};
use common::{day, until, Api};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The web's standing share of the env stock: 15 tents a night, 30 days ahead.
const WEB_SHARE: &str = r#"
[[allotment_rules]]
name = "web-share"
property = "RVC"
room_types = ["TNT"]
holder = "WB"
units = 15
days_ahead = 30
"#;

/// Tents at RVC.
const ROOMS: u64 = 30;
/// WB's share a night (the rule's `units`).
const SHARE: u64 = 15;
/// The nights the web sells, one-night stays on nights `1..=NIGHTS`.
const NIGHTS: u64 = 28;

/// What the web's seller saw: every accepted booking (reference, night, holder) and how many
/// answers were the retryable handover refusal.
#[derive(Default)]
struct Sales {
    accepted: Vec<(String, u64, String)>,
    handover_refusals: usize,
}

/// One booking on WB for `night`, retried while the answer is the retryable
/// `handover_in_progress`; anything but 201 or that refusal fails the test.
async fn book_through(wb: &Api, night: u64, guest: &str, sales: &mut Sales) {
    let body = json!({"property": "RVC", "room_type": "TNT", "arrival": day(night),
                      "departure": day(night + 1), "guest": {"name": guest}});
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let a = wb.post("/api/v1/bookings", body.clone()).await;
        match (a.status.as_u16(), a.body["code"].as_str()) {
            (201, _) => {
                let reference = a.body["reference"].as_str().unwrap().to_string();
                let holder = a.body["holder"].as_str().unwrap_or_default().to_string();
                sales.accepted.push((reference, night, holder));
                return;
            }
            (503, Some("handover_in_progress")) => {
                assert_eq!(a.content_type(), "application/problem+json", "{:?}", a.body);
                sales.handover_refusals += 1;
                assert!(
                    std::time::Instant::now() < deadline,
                    "the handover refusal lasted 30 s"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            other => panic!(
                "WB refused a sale during the handovers: {other:?}: {:?}",
                a.body
            ),
        }
    }
}

/// The units of RVC's tents on `night` that `api` sees granted to WB (its share).
async fn wb_share(api: &Api, night: u64) -> i64 {
    let a = api
        .get(&format!(
            "/api/v1/allotments?property=RVC&from={}&to={}",
            day(night),
            day(night + 1)
        ))
        .await;
    a.body["room_types"][0]["nights"][0]["holders"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["holder"] == "server:WB")
        .and_then(|h| h["held"].as_i64())
        .unwrap_or(0)
}

/// Who the master is as `api` sees it, and its state there.
async fn master_seen(api: &Api) -> (String, String) {
    let e = api.get("/api/v1/environment").await.body;
    (
        e["master"]["server"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        e["state"].as_str().unwrap_or_default().to_string(),
    )
}

/// RVC's tents on `night` as `api` sees them: (booked, available here, held here).
async fn tnt_night(api: &Api, night: u64) -> (u64, u64, u64) {
    let a = api
        .get(&format!(
            "/api/v1/availability?property=RVC&from={}&to={}",
            day(night),
            day(night + 1)
        ))
        .await;
    let n = &a.body["room_types"][0]["nights"][0];
    (
        n["booked"].as_u64().unwrap_or(0),
        n["available"].as_u64().unwrap_or(0),
        n["held_here"].as_u64().unwrap_or(0),
    )
}

/// The RVC booking references `api` holds, with their arrivals (every page of the list).
async fn bookings_on(api: &Api) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut after = String::new();
    loop {
        let a = api
            .get(&format!(
                "/api/v1/bookings?property=RVC&from={}&to={}&limit=100{after}",
                day(0),
                day(NIGHTS + 2)
            ))
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        for b in a.body["bookings"].as_array().unwrap() {
            let r = b["reference"].as_str().unwrap().to_string();
            let prev = out.insert(r.clone(), b["arrival"].as_str().unwrap().to_string());
            assert!(prev.is_none(), "booking {r} listed twice");
        }
        match a.body["next_after"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_web_keeps_selling_through_a_planned_handover_and_back() {
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links: _links,
        servers,
    } = three_servers(WEB_SHARE, &["--setting", "allotment_rule_interval=100ms"]).await;
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    // The master sets up env-owned stock: RVC, 8 tents, a rate.
    wb.ok(
        "/api/v1/properties",
        json!({"code": "RVC", "name": "River Camp", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    wb.ok(
        "/api/v1/properties/RVC/room-types",
        json!({"code": "TNT", "name": "Tent", "max_occupancy": 2}),
    )
    .await;
    for i in 1..=ROOMS {
        wb.ok(
            "/api/v1/properties/RVC/rooms",
            json!({"number": format!("{i}"), "room_type": "TNT"}),
        )
        .await;
    }
    let r = wb
        .put(
            "/api/v1/properties/RVC/rates/TNT",
            json!({"from": day(0), "to": day(400), "amount": 90000, "currency": "ZAR"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    // The rule (run by the master, the stock's owner) grants WB its share; every server learns it.
    until("WB's share granted and known everywhere", || async {
        let d = digest(&wb).await;
        let granted = wb_share(&wb, NIGHTS).await == SHARE as i64;
        (granted && digest(&rs).await == d && digest(&pa).await == d).then_some(())
    })
    .await;
    // Before the handover the web sells the env stock as the master.
    let mut sales = Sales::default();
    book_through(&wb, 1, "Before 1", &mut sales).await;
    assert_eq!(sales.accepted[0].2, "env", "the master sells as env");

    // Sellers on WB book one-night stays round the nights without pause, while the master
    // moves WB → RS and back RS → WB. Demand stays within WB's share on every night (each of
    // the SELLERS sells at most SHARE / SELLERS a night), so a refusal for lack of units would
    // be the bug.
    const SELLERS: u64 = 3;
    let stop = Arc::new(AtomicBool::new(false));
    let sellers: Vec<_> = (0..SELLERS)
        .map(|k| {
            let (wb, stop) = (wb.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sales = Sales::default();
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) && i < (SHARE / SELLERS) * NIGHTS {
                    let night = 1 + (i + k * 7) % NIGHTS;
                    book_through(&wb, night, &format!("Guest {k}-{i}"), &mut sales).await;
                    i += 1;
                }
                sales
            })
        })
        .collect();
    until("a few sales before the handover", || async {
        (tnt_night(&rs, 2).await.0 >= 1).then_some(())
    })
    .await;
    let h = wb
        .post(
            "/api/v1/environment/handover",
            json!({"to": "RS", "reason": "office shift"}),
        )
        .await;
    assert_eq!(h.status, 200, "{:?}", h.body);
    assert_eq!(h.body["master"]["server"], "RS");
    until("RS master as WB sees it", || async {
        (master_seen(&wb).await == ("RS".into(), "slave".into())).then_some(())
    })
    .await;
    // WB, a slave now, holds its share and sells from it.
    until("WB selling as itself", || async {
        (tnt_night(&wb, NIGHTS).await.2 >= 1).then_some(())
    })
    .await;
    until("RS master", || async {
        (master_seen(&rs).await.1 == "master").then_some(())
    })
    .await;
    // Sales go on (as RS learns them) while RS is master.
    let seen_on_rs = || async { bookings_on(&rs).await.len() };
    let before_back = seen_on_rs().await;
    until("more sales while RS is master", || async {
        (seen_on_rs().await >= before_back + 3).then_some(())
    })
    .await;
    // And back: RS hands the master to WB.
    let back = until("RS's handover back to WB", || async {
        let h = rs
            .post(
                "/api/v1/environment/handover",
                json!({"to": "WB", "reason": "web shift"}),
            )
            .await;
        (h.status == 200).then_some(h)
    })
    .await;
    assert_eq!(back.body["master"]["server"], "WB");
    until("WB master again", || async {
        (master_seen(&wb).await.1 == "master").then_some(())
    })
    .await;
    let after_back = seen_on_rs().await;
    until("more sales after the handover back", || async {
        (seen_on_rs().await >= after_back + 3).then_some(())
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for s in sellers {
        let s = s.await.unwrap();
        sales.accepted.extend(s.accepted);
        sales.handover_refusals += s.handover_refusals;
    }
    // After the handover back, the web sells as the master again.
    let mut after = Sales::default();
    book_through(&wb, NIGHTS + 1, "After", &mut after).await;
    assert_eq!(after.accepted[0].2, "env", "the master again sells as env");

    // The seller went through both handovers with nothing refused but the retryable freeze.
    let holders: BTreeSet<&str> = sales.accepted.iter().map(|s| s.2.as_str()).collect();
    assert!(
        holders.contains("env") && holders.contains("server:WB"),
        "sold as the master and as itself: {holders:?}"
    );
    let mut all: Vec<(String, u64, String)> = sales.accepted;
    all.extend(after.accepted);
    let refs: BTreeSet<&str> = all.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(refs.len(), all.len(), "a reference given twice");

    // Every server ends with the same bookings: every accepted one, once, and nothing else.
    until("every server the same records", || async {
        let d = digest(&wb).await;
        (!d.is_empty() && digest(&rs).await == d && digest(&pa).await == d).then_some(())
    })
    .await;
    let on_wb = bookings_on(&wb).await;
    for api in [&rs, &pa] {
        assert_eq!(
            bookings_on(api).await,
            on_wb,
            "the same bookings everywhere"
        );
    }
    assert_eq!(
        on_wb.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        refs,
        "every accepted booking, and no other"
    );
    // No night sold beyond its tents, and every server counts the same.
    for night in 1..=NIGHTS + 1 {
        let sold = all.iter().filter(|s| s.1 == night).count() as u64;
        assert!(sold <= ROOMS, "night {night}: {sold} sold of {ROOMS}");
        for api in [&wb, &rs, &pa] {
            assert_eq!(tnt_night(api, night).await.0, sold, "night {night} booked");
        }
    }
    for s in &servers {
        s.check_invariants();
    }
    eprintln!(
        "sold {} bookings through two handovers; {} retryable handover refusals",
        all.len(),
        sales.handover_refusals
    );
}

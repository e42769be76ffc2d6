//! The PMS link end to end over real TCP: `innsync serve` (the PMS side) and the gateway (the
//! system side, `innsync-pms`'s own simulator). A General Reset over 2,000 rooms leaves the
//! gateway identical to innsync; check-in and check-out reach it; maid status comes back into
//! the room records; resets run on demand; a link cut leads to a fresh, complete cycle. FIAS
//! links are tested against an independent FIAS interface (`fias_peer`): numeric `G#`, names
//! per encoding, local `DA`/`TI`, skipped records, postings, and `LE` then reconnect.
//! the room records; resets run on demand; a link cut leads to a fresh, complete cycle.
//! Mitel-style charge records (`CHG`) from a byte-level system (`mitel_peer`) are charged to the
//! guest in house and answered `ACK`, once per sequence number, and `NAK`ed for an empty room.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;
mod fias_peer;
mod mitel_peer;

use common::*;
use futures::future::join_all;
use innsync_pms::net::{Gateway, GatewayConfig, GatewayHandle};
use innsync_pms::{Extension, MaidStatus, Message};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const ROOMS: usize = 2_000;

/// Polls `check` until it returns Some, failing after a bounded wait.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Rooms 1000.. of type DLX at KRL, created a hundred at a time.
async fn seed_rooms(api: &Api, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        join_all(chunk.iter().map(|i| {
            let api = api.clone();
            async move {
                api.ok(
                    "/api/v1/properties/KRL/rooms",
                    json!({"number": format!("{}", 1000 + i), "room_type": "DLX"}),
                )
                .await
            }
        }))
        .await;
    }
}

async fn gateway_occupancy(h: &GatewayHandle) -> BTreeMap<String, Option<String>> {
    h.rooms()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, r)| r.occupied)
        .map(|(e, r)| {
            (
                e.as_str().to_string(),
                r.name.map(|n| n.as_str().to_string()),
            )
        })
        .collect()
}

async fn resets(api: &Api) -> u64 {
    api.get("/api/v1/pms").await.body["links"][0]["resets"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn general_reset_check_in_out_and_maid_status_over_tcp() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 0).await;
    seed_rooms(&api, ROOMS).await;
    // Three guests are in house before the link exists.
    let mut in_house = BTreeMap::new();
    for (i, name) in ["Ann Smith", "Bo Chen", "Cy Dube"].iter().enumerate() {
        let mut b = booking(0, 2);
        b["guest"] = json!({"name": name});
        let r = api.ok("/api/v1/bookings", b).await["reference"]
            .as_str()
            .unwrap()
            .to_string();
        let room = format!("{}", 1000 + i * 7);
        api.ok(
            &format!("/api/v1/bookings/{r}/check-in"),
            json!({"room": room}),
        )
        .await;
        in_house.insert(room, Some(name.to_string()));
    }
    let gw = Gateway::bind(GatewayConfig::new("127.0.0.1:0".parse().unwrap(), 4))
        .await
        .unwrap();
    let addr = gw.local_addr().unwrap();
    let h = gw.handle();
    tokio::spawn(gw.run());
    let put = api.put("/api/v1/pms/links/gw", json!({"property": "KRL", "dialect": "mitel", "role": "connect", "address": addr.to_string()})).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    // Reset on connect: the gateway ends identical to innsync.
    until("the first General Reset", || async {
        (resets(&api).await >= 1).then_some(())
    })
    .await;
    // Each node commits its cache after END; wait for the commit, not for a fixed time.
    until("the gateway to commit the reset", || async {
        (gateway_occupancy(&h).await == in_house).then_some(())
    })
    .await;
    assert_eq!(
        h.rooms().await.unwrap().len(),
        ROOMS + 1,
        "every room of the property was sent"
    );
    // Check-in and check-out reach the gateway.
    let b = api.ok("/api/v1/bookings", booking(0, 1)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    api.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": "1500"}),
    )
    .await;
    until("check-in at the gateway", || async {
        gateway_occupancy(&h)
            .await
            .contains_key("1500")
            .then_some(())
    })
    .await;
    api.ok(
        &format!("/api/v1/bookings/{r}/move-room"),
        json!({"room": "1501"}),
    )
    .await;
    until("room move at the gateway", || async {
        let o = gateway_occupancy(&h).await;
        (o.contains_key("1501") && !o.contains_key("1500")).then_some(())
    })
    .await;
    api.ok(&format!("/api/v1/bookings/{r}/check-out"), json!({}))
        .await;
    until("check-out at the gateway", || async {
        (gateway_occupancy(&h).await == in_house).then_some(())
    })
    .await;
    // Maid status from the PBX lands in the room record, audited under the link's name.
    h.raise(Message::MaidStatus {
        status: MaidStatus::CLEAN,
        extension: Extension::new("1005").unwrap(),
    })
    .await
    .unwrap();
    let room = until("maid status in innsync", || async {
        let rooms = api.get("/api/v1/properties/KRL/rooms").await.body;
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == "1005" && r["housekeeping"] == "clean")
            .cloned()
    })
    .await;
    let audit = api
        .get(&format!(
            "/api/v1/audit?record={}",
            room["id"].as_str().unwrap()
        ))
        .await
        .body;
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["actor"] == "pms:gw" && a["action"] == "room.status"));
    // On demand, and a cut mid-cycle leads to a fresh complete cycle.
    let before = resets(&api).await;
    assert_eq!(
        api.post("/api/v1/pms/links/gw/reset", json!({}))
            .await
            .status,
        202
    );
    h.cut_link_after(500).await.unwrap();
    until("a complete reset after the cut", || async {
        (resets(&api).await > before).then_some(())
    })
    .await;
    until("the gateway to commit again", || async {
        (gateway_occupancy(&h).await == in_house).then_some(())
    })
    .await;
    let log = api.get("/api/v1/pms").await.body["links"][0]["last_messages"].to_string();
    assert!(
        log.contains("link down") && log.contains("Interrupted"),
        "the cut did not hit a cycle: {log}"
    );
    api.post("/api/v1/pms/links/nope/reset", json!({}))
        .await
        .problem(404, "not_found");
    api.put(
        "/api/v1/pms/links/bad",
        json!({"property": "KRL", "dialect": "mitel", "role": "connect", "address": "nowhere"}),
    )
    .await
    .problem(400, "invalid_input");
    let metrics = api
        .anonymous()
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("innsync_pms_resets{link=\"gw\"}"),
        "{metrics}"
    );
}

/// Property LDG in time zone `tz` with rooms 101.. of type DLX.
async fn seed_lodge(api: &Api, tz: &str, rooms: usize) {
    api.ok(
        "/api/v1/properties",
        json!({"code": "LDG", "name": "Lodge", "timezone": tz, "currency": "EUR"}),
    )
    .await;
    api.ok(
        "/api/v1/properties/LDG/room-types",
        json!({"code": "DLX", "name": "Deluxe", "max_occupancy": 2}),
    )
    .await;
    for i in 0..rooms {
        api.ok(
            "/api/v1/properties/LDG/rooms",
            json!({"number": format!("{}", 101 + i), "room_type": "DLX"}),
        )
        .await;
    }
}

/// Books `name` at LDG from today (at the property) and checks them in to `room`; returns the
/// reference and the reservation number.
async fn check_in(api: &Api, tz: chrono_tz::Tz, name: &str, room: &str) -> (String, u64) {
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let b = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "LDG", "room_type": "DLX", "arrival": today.to_string(),
                   "departure": (today + chrono::Days::new(2)).to_string(), "units": 1,
                   "guest": {"name": name}}),
        )
        .await;
    let r = b["reference"].as_str().unwrap().to_string();
    let n = b["reservation_number"]
        .as_u64()
        .expect("a reservation number");
    api.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": room}),
    )
    .await;
    (r, n)
}

async fn fias_link(api: &Api, name: &str, extra: serde_json::Value) -> String {
    let address = format!("127.0.0.1:{}", free_port());
    let mut settings =
        json!({"property": "LDG", "dialect": "fias", "role": "listen", "address": address});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let put = api
        .put(&format!("/api/v1/pms/links/{name}"), settings)
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    address
}

const LINK_RECORDS: [&str; 4] = [
    "LR|RIGI|FLRNG#GNSF|",
    "LR|RIGO|FLRNG#SF|",
    "LR|RIGC|FLRNG#GNRO|",
    "LR|RIPA|FLASRNP#CTDATI|",
];

/// `DA`/`TI` of a record as a local date and time.
fn stamp_of(rec: &fias_peer::Rec) -> chrono::NaiveDateTime {
    let da = rec.text("DA").unwrap_or_default();
    let ti = rec.text("TI").unwrap_or_default();
    chrono::NaiveDateTime::parse_from_str(&format!("{da}{ti}"), "%y%m%d%H%M%S")
        .unwrap_or_else(|e| panic!("DA/TI of {}: {e}", rec.show()))
}

/// The record's DA/TI is the property's local time now (not UTC).
fn assert_local_time(rec: &fias_peer::Rec, tz: chrono_tz::Tz) {
    let local = chrono::Utc::now().with_timezone(&tz).naive_local();
    let skew = (local - stamp_of(rec)).num_seconds().abs();
    assert!(
        skew < 300,
        "{} is not the local time {local} at the property ({skew} s off)",
        rec.show()
    );
}

async fn link_status(api: &Api, name: &str) -> serde_json::Value {
    let links = api.get("/api/v1/pms").await.body;
    links["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no link {name}: {links}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fias_numeric_reservation_numbers_local_time_and_names_per_encoding() {
    let s = TestServer::start();
    let api = s.api();
    // Kathmandu is UTC+05:45: local DA/TI cannot pass for UTC.
    let tz: chrono_tz::Tz = "Asia/Kathmandu".parse().unwrap();
    seed_lodge(&api, "Asia/Kathmandu", 4).await;
    let encodings = ["ascii", "cp850", "iso-8859-1", "utf-8"];
    let mut peers = Vec::new();
    for enc in encodings {
        let name = format!("fias-{}", enc.replace('-', ""));
        let address = fias_link(&api, &name, json!({"encoding": enc})).await;
        let mut peer = fias_peer::FiasPeer::connect(&address).await;
        let (ls, la) = peer.start_link(&LINK_RECORDS).await;
        assert_local_time(&ls, tz);
        assert_local_time(&la, tz);
        peers.push((enc, peer));
    }
    let guests = [
        ("101", "Zoë Müller"),
        ("102", "Иван Петров"),
        ("103", "王小明"),
        ("104", "Ada 🎉"),
    ];
    let mut numbers = BTreeMap::new();
    for (room, name) in guests {
        let (_, n) = check_in(&api, tz, name, room).await;
        numbers.insert(room, n);
    }
    // Every number is distinct, numeric and at most 10 digits.
    assert_eq!(
        numbers
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        4
    );
    assert!(numbers.values().all(|n| n.to_string().len() <= 10));
    let expected: [(&str, [&[u8]; 4]); 4] = [
        ("ascii", [b"Zoe Mueller", b"Ivan Petrov", b"???", b"Ada ?"]),
        // CP850: e-diaeresis is 0x89, u-diaeresis 0x81 (IBM code page 850 chart).
        (
            "cp850",
            [b"Zo\x89 M\x81ller", b"Ivan Petrov", b"???", b"Ada ?"],
        ),
        // ISO-8859-1: e-diaeresis is 0xEB, u-diaeresis 0xFC.
        (
            "iso-8859-1",
            [b"Zo\xeb M\xfcller", b"Ivan Petrov", b"???", b"Ada ?"],
        ),
        (
            "utf-8",
            [
                "Zoë Müller".as_bytes(),
                "Иван Петров".as_bytes(),
                "王小明".as_bytes(),
                "Ada 🎉".as_bytes(),
            ],
        ),
    ];
    for ((enc, peer), (want_enc, names)) in peers.iter_mut().zip(expected) {
        assert_eq!(*enc, want_enc);
        for _ in 0..4 {
            let gi = peer.until("GI").await;
            assert!(
                gi.text("G#")
                    .is_some_and(|g| g.bytes().all(|b| b.is_ascii_digit())),
                "{}",
                gi.show()
            );
        }
        assert!(peer.rejected.is_empty(), "{enc}: {:?}", peer.rejected);
        for ((room, _), want) in guests.iter().zip(names) {
            let row = peer
                .guests
                .get(*room)
                .unwrap_or_else(|| panic!("{enc}: room {room}"));
            assert_eq!(row.reservation, numbers[room], "{enc} room {room}");
            assert_eq!(
                row.name,
                want.to_vec(),
                "{enc} room {room}: {}",
                String::from_utf8_lossy(&row.name)
            );
        }
    }
    // The resync carries the same numbers, with the swap flag, between DS and DE in local time.
    let (_, peer) = &mut peers[0];
    let before = peer.guests.clone();
    let (ds, body, de) = peer.resync().await;
    assert_local_time(&ds, tz);
    assert_local_time(&de, tz);
    assert!(body.iter().all(|r| r.has("SF")), "{body:?}");
    let gis: BTreeMap<String, String> = body
        .iter()
        .filter(|r| r.kind == "GI")
        .map(|r| (r.text("RN").unwrap(), r.text("G#").unwrap()))
        .collect();
    assert_eq!(
        gis,
        numbers
            .iter()
            .map(|(r, n)| (r.to_string(), n.to_string()))
            .collect()
    );
    assert_eq!(
        peer.guests, before,
        "the resync leaves the vendor's table as it was"
    );
    assert!(peer.rejected.is_empty());
    // The number finds the booking, as a filter and in the guest search.
    let n = numbers["101"];
    for q in [format!("reservation_number={n}"), format!("guest={n}")] {
        let found = api.get(&format!("/api/v1/bookings?{q}")).await.body;
        let found = found["bookings"].as_array().unwrap().clone();
        assert_eq!(found.len(), 1, "{q}: {found:?}");
        assert_eq!(found[0]["reservation_number"], n);
        assert_eq!(found[0]["guest"]["name"], "Zoë Müller");
    }
    api.get("/api/v1/bookings?reservation_number=WB-1")
        .await
        .problem(400, "invalid_input");
    // The link's status speaks in words.
    let status = link_status(&api, "fias-ascii").await.to_string();
    assert!(
        status.contains(&format!("sent GI room 101, reservation {n}, Zoë Müller")),
        "{status}"
    );
    assert!(
        !status.contains("FiasGuest") && !status.contains("Some("),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fias_skips_what_cannot_be_sent_answers_postings_and_survives_le() {
    let s = TestServer::start();
    let api = s.api();
    let tz: chrono_tz::Tz = "Europe/Zurich".parse().unwrap();
    seed_lodge(&api, "Europe/Zurich", 4).await;
    // This vendor accepts records of at most 48 bytes.
    let address = fias_link(&api, "fias", json!({"max_record_len": 48})).await;
    let mut peer = fias_peer::FiasPeer::connect(&address).await;
    peer.start_link(&LINK_RECORDS).await;
    // A record that cannot be sent is skipped and shown; the next check-in still goes through.
    let long = "Maximilian Alexander von Habsburg-Lothringen";
    let (r1, n1) = check_in(&api, tz, long, "101").await;
    let (r2, n2) = check_in(&api, tz, "Ada Lovelace", "102").await;
    let gi = peer.until("GI").await;
    assert_eq!(gi.text("RN").as_deref(), Some("102"), "{}", gi.show());
    assert_eq!(gi.text("G#"), Some(n2.to_string()));
    let status = link_status(&api, "fias").await;
    assert_eq!(status["skipped"], 1, "{status}");
    let skipped = status["last_skipped"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        skipped.starts_with(&format!(
            "GI room 101, reservation {n1}, {long} not sent: the record is"
        )),
        "{skipped}"
    );
    until("the skipped record in the booking's history", || async {
        let n = api
            .get(&format!("/api/v1/bookings/{r1}/notes"))
            .await
            .body
            .to_string();
        n.contains("update the system by hand: GI room 101")
            .then_some(())
    })
    .await;
    // A resync still goes through; the unsendable room is left out and shown.
    let (_, body, _) = peer.resync().await;
    let rooms: Vec<(String, String)> = body
        .iter()
        .map(|r| (r.kind.clone(), r.text("RN").unwrap_or_default()))
        .collect();
    assert_eq!(
        rooms,
        vec![
            ("GI".to_string(), "102".to_string()),
            ("GO".into(), "103".into()),
            ("GO".into(), "104".into()),
        ]
    );
    let status = until("the resync to be counted", || async {
        let st = link_status(&api, "fias").await;
        (st["resets"] == 1).then_some(st)
    })
    .await;
    assert_eq!(status["skipped"], 2, "{status}");
    let metrics = api
        .anonymous()
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("innsync_pms_skipped{link=\"fias\"} 2"),
        "{metrics}"
    );
    // A posting for the guest in house is charged durably to the folio, then answered OK;
    // sent again (same P#) it is answered OK and charged once; a posting for an empty room is
    // answered NG (guest not found) and charged nowhere.
    let cat = api
        .put(
            "/api/v1/properties/LDG/catalog",
            json!({"taxes": [{"code": "VAT", "name": "VAT 8.1%", "rate_bp": 810, "inclusive": true}],
                   "items": [{"code": "MINIBAR", "name": "Minibar", "price": null, "tax": "VAT", "group": "beverage"}]}),
        )
        .await;
    assert_eq!(cat.status, 200, "{:?}", cat.body);
    for _ in 0..2 {
        let pa = peer.post("102", Some(n2), 1250, 77).await;
        assert_eq!(pa.text("AS").as_deref(), Some("OK"), "{}", pa.show());
        assert_eq!(pa.text("RN").as_deref(), Some("102"));
        assert_eq!(pa.text("P#").as_deref(), Some("77"));
    }
    let pa = peer.post("104", None, 300, 78).await;
    assert_eq!(pa.text("AS").as_deref(), Some("NG"), "{}", pa.show());
    assert_eq!(pa.text("P#").as_deref(), Some("78"));
    let folio = api.get(&format!("/api/v1/bookings/{r2}/folio")).await.body;
    assert_eq!(folio["balance"], 1250, "{folio}");
    let entries = folio["folios"][0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{folio}");
    assert_eq!(entries[0]["source"], "pms");
    assert_eq!(entries[0]["item"], "MINIBAR");
    assert_eq!(entries[0]["reference"], "fias:77");
    assert_eq!(entries[0]["taxes"][0]["code"], "VAT");
    let status = link_status(&api, "fias").await;
    assert_eq!(status["postings"], 3, "{status}");
    assert_eq!(status["last_postings"][0]["answer"], "OK", "{status}");
    assert_eq!(status["last_postings"][2]["answer"], "NG", "{status}");
    // The vendor ends the link; what happens meanwhile is sent once it is back.
    peer.end_link().await;
    assert!(
        peer.closed_by_pms().await,
        "innsync closes the link after LE"
    );
    until("the link to be down", || async {
        (link_status(&api, "fias").await["state"] == "down").then_some(())
    })
    .await;
    let (_, n3) = check_in(&api, tz, "Bo Chen", "103").await;
    let mut peer = fias_peer::FiasPeer::connect(&address).await;
    peer.start_link(&LINK_RECORDS).await;
    let gi = peer.until("GI").await;
    assert_eq!(gi.text("RN").as_deref(), Some("103"), "{}", gi.show());
    assert_eq!(gi.text("G#"), Some(n3.to_string()));
    assert_eq!(peer.guests["103"].name, b"Bo Chen".to_vec());
    // Room status from the vendor still lands in the room records.
    peer.send("RE|RN104|RS5|").await;
    until("RE applied to room 104", || async {
        let rooms = api.get("/api/v1/properties/LDG/rooms").await.body;
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == "104" && r["housekeeping"] == "inspected")
            .cloned()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn innsync_killed_mid_cycle_runs_a_fresh_complete_cycle_after_restart() {
    let mut s = TestServer::start();
    let api = s.api();
    seed(&api, 0).await;
    seed_rooms(&api, ROOMS).await;
    let b = api.ok("/api/v1/bookings", booking(0, 2)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    api.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": "1999"}),
    )
    .await;
    let gw = Gateway::bind(GatewayConfig::new("127.0.0.1:0".parse().unwrap(), 2))
        .await
        .unwrap();
    let addr = gw.local_addr().unwrap();
    let h = gw.handle();
    tokio::spawn(gw.run());
    api.put("/api/v1/pms/links/gw", json!({"property": "KRL", "dialect": "mitel", "role": "connect", "address": addr.to_string()})).await;
    // Kill innsync while the gateway is inside the cycle.
    until("the gateway to enter a cycle", || async {
        (h.mode().await.unwrap() == innsync_pms::GrsMode::Cycle).then_some(())
    })
    .await;
    s.kill9();
    until("the gateway to abandon the cycle", || async {
        (h.mode().await.unwrap() == innsync_pms::GrsMode::Abandoned).then_some(())
    })
    .await;
    assert!(
        gateway_occupancy(&h).await.is_empty(),
        "an abandoned cycle wrote nothing"
    );
    s.restart();
    let api = s.api();
    until("a fresh complete cycle", || async {
        let occ = gateway_occupancy(&h).await;
        (h.mode().await.unwrap() == innsync_pms::GrsMode::Normal && occ.contains_key("1999"))
            .then_some(())
    })
    .await;
    assert_eq!(gateway_occupancy(&h).await.len(), 1);
    assert_eq!(h.rooms().await.unwrap().len(), ROOMS + 1);
    assert!(resets(&api).await >= 1);
}

/// The folio entries of a booking and its balance.
async fn folio_of(api: &Api, r: &str) -> (Vec<serde_json::Value>, i64) {
    let folio = api.get(&format!("/api/v1/bookings/{r}/folio")).await.body;
    let entries = folio["folios"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .flat_map(|f| f["entries"].as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    (entries, folio["balance"].as_i64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mitel_charge_records_are_posted_to_the_guest_in_house_over_tcp() {
    use mitel_peer::{ACK, NAK};
    let s = TestServer::start();
    let api = s.api();
    let tz: chrono_tz::Tz = "Europe/Zurich".parse().unwrap();
    seed_lodge(&api, "Europe/Zurich", 3).await;
    let (r, _) = check_in(&api, tz, "Ada Lovelace", "101").await;
    let address = format!("127.0.0.1:{}", free_port());
    let put = api
        .put(
            "/api/v1/pms/links/pbx",
            json!({"property": "LDG", "dialect": "mitel", "role": "listen",
                   "address": address, "reset_on_connect": false}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let mut pbx = mitel_peer::MitelPeer::connect(&address).await;
    // A minibar charge for the guest in room 101: on the folio, then ACK.
    let minibar = "CHG 000042 M 1250 101  ";
    assert_eq!(pbx.send(minibar).await, ACK);
    let (entries, balance) = folio_of(&api, &r).await;
    assert_eq!(balance, 1250, "{entries:?}");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["source"], "pms");
    assert_eq!(entries[0]["reference"], "pbx:000042");
    assert_eq!(entries[0]["description"], "Minibar (PMS CHG 000042)");
    // Sent again (the system got no answer, say): ACK, and charged once.
    assert_eq!(pbx.send(minibar).await, ACK);
    assert_eq!(folio_of(&api, &r).await.1, 1250);
    // A telephone call on the same room.
    assert_eq!(pbx.send("CHG 000043 T 480 101  ").await, ACK);
    assert_eq!(folio_of(&api, &r).await.1, 1730);
    // Nobody in room 102: NAK, and NAK again on every resend; charged nowhere.
    let empty = "CHG 000044 M 900 102  ";
    assert_eq!(pbx.send(empty).await, NAK);
    for _ in 0..3 {
        assert_eq!(pbx.resend(empty).await, NAK);
    }
    // A malformed record (no amount) is refused at once.
    assert_eq!(pbx.send("CHG 000045 M 0 101  ").await, NAK);
    // After check-out the room's charges are refused.
    api.ok(&format!("/api/v1/bookings/{r}/check-out"), json!({}))
        .await;
    assert_eq!(pbx.send("CHG 000046 M 300 101  ").await, NAK);
    let (entries, balance) = folio_of(&api, &r).await;
    assert_eq!((entries.len(), balance), (2, 1730), "{entries:?}");
    // The link's status shows every decided record with its answer.
    let status = link_status(&api, "pbx").await;
    let answers: Vec<String> = status["last_postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["answer"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        answers,
        [
            "ACK (OK)", "ACK (OK)", "ACK (OK)", "NAK (NG)", "NAK (NG)", "NAK (NG)", "NAK (NG)",
            "NAK (NG)"
        ],
        "{status}"
    );
    // What innsync sent the system meanwhile was taken in the usual way (check-out of 101).
    assert!(
        pbx.received
            .iter()
            .all(|t| t.starts_with("CHK") || t.starts_with("NAM") || t == "AYT"),
        "{:?}",
        pbx.received
    );
}

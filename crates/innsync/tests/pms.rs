//! The PMS link end to end over real TCP: `innsync serve` (the PMS side) and the gateway (the
//! system side, `innsync-pms`'s own simulator). A General Reset over 2,000 rooms leaves the
//! gateway identical to innsync; check-in and check-out reach it; maid status comes back into
//! the room records; resets run on demand; a link cut leads to a fresh, complete cycle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

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

/// A scripted FIAS interface (the other side of a FIAS link) over TCP.
struct FiasPeer {
    stream: tokio::net::TcpStream,
    pending: Vec<u8>,
}

impl FiasPeer {
    async fn send(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        let mut frame = vec![0x02];
        frame.extend_from_slice(text.as_bytes());
        frame.push(0x03);
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn recv(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == 0x03) {
                let frame: Vec<u8> = self.pending.drain(..=end).collect();
                let start = frame.iter().position(|&b| b == 0x02).unwrap();
                return String::from_utf8(frame[start + 1..frame.len() - 1].to_vec()).unwrap();
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut buf))
                .await
                .expect("no record")
                .unwrap();
            assert!(n > 0, "innsync closed the FIAS link");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fias_link_start_check_in_resync_and_room_status() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    api.put(
        "/api/v1/pms/links/fias",
        json!({"property": "KRL", "dialect": "fias", "role": "connect", "address": address}),
    )
    .await
    .problem(400, "invalid_input");
    let put = api
        .put(
            "/api/v1/pms/links/fias",
            json!({"property": "KRL", "dialect": "fias", "role": "listen", "address": address}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let stream = until("innsync to listen for FIAS", || async {
        tokio::net::TcpStream::connect(&address).await.ok()
    })
    .await;
    let mut peer = FiasPeer {
        stream,
        pending: vec![],
    };
    assert!(peer.recv().await.starts_with("LS|"));
    peer.send("LD|V#1.0|IFPB|DA261123|TI120000|").await;
    peer.send("LR|RIGI|FLRNG#GN|").await;
    peer.send("LR|RIGO|FLRN|").await;
    peer.send("LA|").await;
    assert!(peer.recv().await.starts_with("LA|"));
    let b = api.ok("/api/v1/bookings", booking(0, 2)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    api.ok(
        &format!("/api/v1/bookings/{r}/check-in"),
        json!({"room": "102"}),
    )
    .await;
    assert_eq!(peer.recv().await, format!("GI|RN102|G#{r}|GNAnn Smith|"));
    peer.send("DR|").await;
    assert_eq!(peer.recv().await, "DS|");
    let mut body = vec![];
    loop {
        let rec = peer.recv().await;
        if rec == "DE|" {
            break;
        }
        body.push(rec);
    }
    body.sort();
    // Resync records carry the swap flag SF; every room is sent, the occupied one with its guest.
    assert_eq!(
        body,
        vec![
            format!("GI|RN102|G#{r}|GNAnn Smith|SF|"),
            "GO|RN101|SF|".into(),
            "GO|RN103|SF|".into(),
            "GO|RN201|SF|".into()
        ]
    );
    peer.send("RE|RN103|RS5|").await;
    until("RE applied to room 103", || async {
        let rooms = api.get("/api/v1/properties/KRL/rooms").await.body;
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == "103" && r["housekeeping"] == "inspected")
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

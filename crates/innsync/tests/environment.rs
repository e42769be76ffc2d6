//! An environment of three real server processes on 127.0.0.1 (WB web and master, RS office,
//! PA property server owning KRL): changes travel between them, writes are accepted only where
//! their authority is, peers with a different file or secret are refused, and after a partition
//! heals every server holds the same database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::mesh::*;
use common::*;
use innsync_faultproxy::Proxy;
use serde_json::json;

/// Reference data for RVC (env-owned, written on the master WB).
async fn seed_rvc(wb: &Api, rooms: usize) {
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
    for i in 0..rooms {
        wb.ok(
            "/api/v1/properties/RVC/rooms",
            json!({"number": format!("{}", 1 + i), "room_type": "TNT"}),
        )
        .await;
    }
}

/// The master gives `to` one unit of RVC tents a night on days `from..until`, and waits until
/// `to` has learned it (a slave office sells only from what it was given).
async fn give_rvc(wb: &Api, to: &Api, to_code: &str, from: u64, until_day: u64) {
    wb.ok(
        "/api/v1/allotments/grant",
        json!({"property": "RVC", "room_type": "TNT", "from": day(from), "to": day(until_day),
               "units": 1, "to_holder": to_code}),
    )
    .await;
    let path = format!(
        "/api/v1/availability?property=RVC&from={}&to={}",
        day(from),
        day(until_day)
    );
    until("the grant to reach its holder", || async {
        let a = to.get(&path).await;
        a.body["room_types"][0]["nights"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["held_here"] == 1))
            .then_some(())
    })
    .await;
}

fn rvc_booking(arrival: u64, name: &str) -> serde_json::Value {
    json!({"property": "RVC", "room_type": "TNT", "arrival": day(arrival), "departure": day(arrival + 1), "guest": {"name": name}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_travel_and_writes_stay_where_their_authority_is() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [
        ("WB", free_port()),
        ("RS", free_port()),
        ("PA", free_port()),
    ];
    let env = environment_file(dir.path(), &ports);
    let servers = start_all(&env, &ports);
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    seed_rvc(&wb, 3).await;
    let b = wb.ok("/api/v1/bookings", rvc_booking(2, "Ann Smith")).await;
    let r = b["reference"].as_str().unwrap().to_string();
    assert_eq!(b["owner"], "env");
    for api in [&rs, &pa] {
        let seen = until("the booking on every server", || async {
            let a = api.get(&format!("/api/v1/bookings/{r}")).await;
            (a.status == 200).then_some(a.body)
        })
        .await;
        assert_eq!(seen["guest"]["name"], "Ann Smith");
    }
    // Env-owned data is written only on the master; the refusal says where it lives.
    let d = rs
        .post(
            "/api/v1/properties",
            json!({"code": "NEW", "name": "New", "timezone": "UTC"}),
        )
        .await;
    d.problem(409, "not_master");
    assert_eq!(d.body["master"], "WB");
    assert_eq!(
        d.body["master_url"],
        format!("https://127.0.0.1:{}", ports[0].1)
    );
    rs.post(&format!("/api/v1/bookings/{r}/cancel"), json!({}))
        .await
        .problem(409, "not_master");
    // PA's property is written only on PA.
    let d = wb
        .post(
            "/api/v1/properties",
            json!({"code": "KRL", "name": "Kraal", "timezone": "UTC"}),
        )
        .await;
    d.problem(409, "not_owner");
    assert_eq!(d.body["owner"], "server:PA");
    assert_eq!(
        d.body["owner_url"],
        format!("https://127.0.0.1:{}", ports[2].1)
    );
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal Lodge", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    let krl = until("PA's property on WB", || async {
        let a = wb.get("/api/v1/properties/KRL").await;
        (a.status == 200).then_some(a.body)
    })
    .await;
    assert_eq!(krl["owner"], "server:PA");
    // A slave office books under its own authority, from the units the master gave it; only
    // it may change that booking.
    let refused = rs.post("/api/v1/bookings", rvc_booking(3, "Bo Chen")).await;
    assert_eq!(
        refused.body["code"], "no_availability",
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["holder"], "server:RS");
    give_rvc(&wb, &rs, "RS", 3, 4).await;
    let own = rs.ok("/api/v1/bookings", rvc_booking(3, "Bo Chen")).await;
    assert_eq!(own["owner"], "server:RS");
    let o = own["reference"].as_str().unwrap().to_string();
    assert!(o.starts_with("RS-"));
    // Rooms belong to the property's owner: RS cannot put even its own booking in a room here.
    let d = rs
        .post(
            &format!("/api/v1/bookings/{o}/assign-room"),
            json!({"room": "1"}),
        )
        .await;
    d.problem(409, "not_master");
    until("RS's booking on WB", || async {
        (wb.get(&format!("/api/v1/bookings/{o}")).await.status == 200).then_some(())
    })
    .await;
    let d = wb
        .post(&format!("/api/v1/bookings/{o}/cancel"), json!({}))
        .await;
    d.problem(409, "not_owner");
    assert_eq!(d.body["owner"], "server:RS");
    assert_eq!(
        rs.post(
            &format!("/api/v1/bookings/{o}/cancel"),
            json!({"reason": "changed plans"})
        )
        .await
        .status,
        200
    );
    // Everyone converges on the same database.
    until("identical digests", || async {
        let (a, b, c) = (digest(&wb).await, digest(&rs).await, digest(&pa).await);
        (!a.is_empty() && a == b && b == c).then_some(())
    })
    .await;
    let e = rs.get("/api/v1/environment").await.body;
    assert_eq!(e["master"]["server"], "WB");
    assert_eq!(e["state"], "slave");
    assert_eq!(e["servers"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_with_another_file_or_secret_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [
        ("WB", free_port()),
        ("RS", free_port()),
        ("PA", free_port()),
    ];
    let env = environment_file(dir.path(), &ports);
    let wb = TestServer::start_in(&env, "WB", &format!("127.0.0.1:{}", ports[0].1), &[]);
    let api = wb.api().anonymous();
    let pull = |token: String, fingerprint: &str| {
        let api = api.clone();
        let fingerprint = fingerprint.to_string();
        async move {
            let auth = format!("Bearer {token}");
            let headers: [(&str, &str); 3] = [
                ("authorization", &auth),
                ("x-innsync-server", "RS"),
                ("x-innsync-fingerprint", &fingerprint),
            ];
            api.send(
                reqwest::Method::POST,
                "/api/v1/replication/pull",
                Some(json!({"cursor": {}, "limit": 10, "wait_ms": 0})),
                &headers,
            )
            .await
        }
    };
    let good =
        innsync_server::replication::auth::peer_token("a long shared secret for tests", "RS");
    let wrong = innsync_server::replication::auth::peer_token("another secret entirely", "RS");
    let ours = innsync_environment::Environment::parse(&std::fs::read_to_string(&env).unwrap())
        .unwrap()
        .fingerprint()
        .to_string();
    pull(wrong, &ours).await.problem(401, "unauthorized");
    let d = pull(good.clone(), &"0".repeat(64))
        .await
        .problem(409, "environment_mismatch");
    assert!(d.contains("differs"), "{d}");
    let ok = pull(good, &ours).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert!(!ok.body["changes"].as_array().unwrap().is_empty());
    // A bad environment file is rejected at start with the line and the reason.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\nsecret = \"short\"\ninitial_master = \"WB\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args(["serve", "--server", "WB", "--data-dir"])
        .arg(dir.path().join("x"))
        .arg("--environment")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partitioned_office_keeps_working_and_everyone_converges_after_heal() {
    // One proxy per directed link, so any link can be cut on its own.
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links,
        servers,
    } = three_servers("", &[]).await;
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    seed_rvc(&wb, 10).await;
    until("RVC on RS", || async {
        (rs.get("/api/v1/properties/RVC").await.status == 200).then_some(())
    })
    .await;
    // The office is given a tent a night to sell while it is cut off.
    give_rvc(&wb, &rs, "RS", 10, 15).await;
    // Cut RS off from everyone, both ways.
    for ((from, to), p) in &links {
        if from == "RS" || to == "RS" {
            p.cut();
        }
    }
    let mut refs = vec![];
    for i in 0..5 {
        refs.push(
            wb.ok(
                "/api/v1/bookings",
                rvc_booking(1 + i, &format!("Web guest {i}")),
            )
            .await["reference"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        refs.push(
            rs.ok(
                "/api/v1/bookings",
                rvc_booking(10 + i, &format!("Office guest {i}")),
            )
            .await["reference"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(
        rs.get(&format!("/api/v1/bookings/{}", refs[0]))
            .await
            .status,
        404,
        "RS is cut off"
    );
    until("RS unreachable on WB", || async {
        let e = wb.get("/api/v1/environment").await.body;
        e["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == "RS" && s["reachable"] == false)
            .map(|_| ())
    })
    .await;
    for p in links.values() {
        p.heal();
    }
    // An operator forces a transfer now: RS gets WB's five bookings (and their guests).
    let t = rs
        .post("/api/v1/environment/transfer", json!({"with": "WB"}))
        .await;
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(
        rs.get(&format!("/api/v1/bookings/{}", refs[0]))
            .await
            .status,
        200,
        "after transfer"
    );
    rs.post("/api/v1/environment/transfer", json!({"with": "XX"}))
        .await
        .problem(400, "invalid_input");
    until("identical digests after heal", || async {
        let (a, b, c) = (digest(&wb).await, digest(&rs).await, digest(&pa).await);
        (!a.is_empty() && a == b && b == c).then_some(())
    })
    .await;
    for r in &refs {
        for api in [&wb, &rs, &pa] {
            assert_eq!(
                api.get(&format!("/api/v1/bookings/{r}")).await.status,
                200,
                "{r}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handover_under_write_load_never_has_two_masters_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [
        ("WB", free_port()),
        ("RS", free_port()),
        ("PA", free_port()),
    ];
    let env = environment_file(dir.path(), &ports);
    let servers = start_all(&env, &ports);
    let apis: Vec<Api> = servers.iter().map(TestServer::api).collect();
    for api in &apis {
        admin_known(api).await;
    }
    seed_rvc(&apis[0], 50).await;
    until("RVC on RS", || async {
        (apis[1].get("/api/v1/properties/RVC").await.status == 200).then_some(())
    })
    .await;
    // Writers keep writing env-owned data (rooms: reference data, master only) on whoever is
    // master, following not_master and retrying 503s. (A slave would accept a booking under its
    // own authority, which is not an env write.)
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let urls: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, urls) = (stop.clone(), urls.clone());
            tokio::spawn(async move {
                let mut acked = vec![];
                let mut at = 0usize;
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let api = Api::new(&urls[at], TOKEN);
                    let number = format!("W{w}-{i}");
                    let a = api
                        .post(
                            "/api/v1/properties/RVC/rooms",
                            json!({"number": number, "room_type": "TNT"}),
                        )
                        .await;
                    match (a.status.as_u16(), a.body["code"].as_str()) {
                        (201, _) => {
                            assert_eq!(a.body["owner"], "env", "{:?}", a.body);
                            acked.push(number);
                            i += 1;
                        }
                        (409, Some("not_master")) => {
                            let m = a.body["master"].as_str().unwrap();
                            at = ["WB", "RS", "PA"].iter().position(|c| *c == m).unwrap();
                        }
                        (503, Some("handover_in_progress")) => tokio::task::yield_now().await,
                        other => panic!("unexpected answer {other:?}: {:?}", a.body),
                    }
                }
                acked
            })
        })
        .collect();
    until("some load on WB", || async {
        let n = apis[0].get("/api/v1/properties/RVC/rooms").await.body["rooms"]
            .as_array()
            .map_or(0, Vec::len);
        (n >= 80).then_some(())
    })
    .await;
    let h = apis[0]
        .post(
            "/api/v1/environment/handover",
            json!({"to": "RS", "reason": "shift change"}),
        )
        .await;
    assert_eq!(h.status, 200, "{:?}", h.body);
    assert_eq!(h.body["master"]["server"], "RS");
    assert_eq!(h.body["master"]["epoch"], 2);
    // A handover asked of a slave names the master.
    apis[2]
        .post("/api/v1/environment/handover", json!({"to": "WB"}))
        .await
        .problem(409, "not_master");
    until("load on RS as master", || async {
        let e = apis[1].get("/api/v1/environment").await.body;
        (e["state"] == "master").then_some(())
    })
    .await;
    until("writes accepted on RS", || async {
        let n = apis[1].get("/api/v1/audit?limit=1000").await.body["audit"]
            .as_array()
            .map_or(0, |a| {
                a.iter()
                    .filter(|e| e["server"] == "RS" && e["action"] == "room.create")
                    .count()
            });
        (n >= 20).then_some(())
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut acked = vec![];
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    until("identical digests", || async {
        let d: Vec<String> = futures::future::join_all(apis.iter().map(digest)).await;
        (!d[0].is_empty() && d.iter().all(|x| *x == d[0])).then_some(())
    })
    .await;
    let rooms = apis[2].get("/api/v1/properties/RVC/rooms").await.body;
    let have: std::collections::BTreeSet<&str> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    assert!(acked.len() > 40);
    for r in &acked {
        assert!(have.contains(r.as_str()), "acknowledged room {r} lost");
    }
    // From every server's own log: one writer of env data per epoch, WB then RS.
    for s in &servers {
        let w = env_writers(&s.dir);
        assert!(
            w.values().all(|o| o.len() == 1),
            "two env writers in one epoch: {w:?}"
        );
        assert_eq!(
            w.get(&1).map(|o| o.iter().next().unwrap().as_str()),
            Some("WB")
        );
        assert_eq!(
            w.get(&2).map(|o| o.iter().next().unwrap().as_str()),
            Some("RS")
        );
    }
    let e = apis[0].get("/api/v1/environment").await.body;
    assert_eq!(e["master"]["server"], "RS");
    assert_eq!(e["state"], "slave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_timetable_hands_the_master_over_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    // A slot at the current minute (UTC) is due at once: WB must hand over to RS by itself.
    let at = chrono::Utc::now().format("%H:%M");
    let mut text = std::fs::read_to_string(&env).unwrap();
    text.push_str(&format!(
        "\n[[timetable]]\nat = \"{at}\"\ntz = \"UTC\"\nmaster = \"RS\"\n"
    ));
    std::fs::write(&env, text).unwrap();
    let servers = start_all(&env, &ports);
    let rs = servers[1].api();
    admin_known(&rs).await;
    let e = until("RS master by the timetable", || async {
        let e = rs.get("/api/v1/environment").await.body;
        (e["state"] == "master").then_some(e)
    })
    .await;
    assert_eq!(e["master"]["epoch"], 2);
    let audit = servers[0].api().get("/api/v1/audit?limit=100").await.body;
    assert!(
        audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "master.grant" && a["actor"] == "timetable"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_forwarded_to_their_owner_now_or_when_it_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("PA", free_port())];
    let env = environment_file(dir.path(), &ports);
    let to_pa = Proxy::start(
        "127.0.0.1:0",
        format!("127.0.0.1:{}", ports[1].1).parse().unwrap(),
    )
    .await
    .unwrap();
    let wb_server = TestServer::start_in(
        &env,
        "WB",
        &format!("127.0.0.1:{}", ports[0].1),
        &[("PA".into(), format!("http://{}", to_pa.addr()))],
    );
    let pa_server = TestServer::start_in(&env, "PA", &format!("127.0.0.1:{}", ports[1].1), &[]);
    let (wb, pa) = (wb_server.api(), pa_server.api());
    admin_known(&pa).await;
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal", "timezone": "UTC"}),
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
    let b = pa.ok("/api/v1/bookings", booking(3, 2)).await;
    let r = b["reference"].as_str().unwrap().to_string();
    until("PA's booking on WB", || async {
        (wb.get(&format!("/api/v1/bookings/{r}")).await.status == 200).then_some(())
    })
    .await;
    // A non-owner adds its own dependent record to PA's booking: a note, owned by WB.
    let note = wb
        .post(
            &format!("/api/v1/bookings/{r}/notes"),
            json!({"text": "Guest phoned the web office"}),
        )
        .await;
    assert_eq!(note.status, 201, "{:?}", note.body);
    assert_eq!(
        note.body["owner"], "env",
        "written on the master: env-owned, not PA's"
    );
    until("WB's note on PA", || async {
        let n = pa.get(&format!("/api/v1/bookings/{r}/notes")).await.body;
        (n["notes"].as_array().map_or(0, Vec::len) == 1).then_some(())
    })
    .await;
    wb.post(&format!("/api/v1/bookings/{r}/notes"), json!({"text": " "}))
        .await
        .problem(400, "invalid_input");
    wb.post("/api/v1/bookings/WB-999999/notes", json!({"text": "x"}))
        .await
        .problem(404, "not_found");
    // Not forwarded: refused, naming the owner.
    wb.post(&format!("/api/v1/bookings/{r}/cancel"), json!({}))
        .await
        .problem(409, "not_owner");
    // Forwarded while PA is reachable: PA carries it out and answers at once.
    let c = wb
        .post(
            &format!("/api/v1/bookings/{r}/cancel?forward=true"),
            json!({"reason": "guest called the web office"}),
        )
        .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(c.body["status"], "cancelled");
    assert_eq!(
        pa.get(&format!("/api/v1/bookings/{r}")).await.body["status"],
        "cancelled"
    );
    // The owner's refusal comes back as it is.
    wb.post(
        "/api/v1/properties/KRL/room-types?forward=true",
        json!({"code": "DLX", "name": "Again", "max_occupancy": 2}),
    )
    .await
    .problem(409, "already_exists");
    // PA unreachable: the change is queued and delivered when PA is back.
    to_pa.cut();
    let q = wb
        .post(
            "/api/v1/properties/KRL/room-types?forward=true",
            json!({"code": "FAM", "name": "Family", "max_occupancy": 4}),
        )
        .await;
    assert_eq!(q.status, 202, "{:?}", q.body);
    let id = q.body["pending"]["id"].as_i64().unwrap();
    let env_view = wb.get("/api/v1/environment").await.body;
    assert_eq!(env_view["pending"]["count"], 1);
    assert_eq!(
        pa.get("/api/v1/properties/KRL/room-types").await.body["room_types"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A second one, canceled by the operator before it can be delivered.
    let q2 = wb
        .post(
            "/api/v1/properties/KRL/room-types?forward=true",
            json!({"code": "STD", "name": "Standard", "max_occupancy": 2}),
        )
        .await;
    let id2 = q2.body["pending"]["id"].as_i64().unwrap();
    assert_eq!(
        wb.post(&format!("/api/v1/pending/{id2}/cancel"), json!({}))
            .await
            .body["state"],
        "canceled"
    );
    to_pa.heal();
    let done = until("the pending operation delivered", || async {
        let l = wb.get("/api/v1/pending").await.body;
        l["pending"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id && p["state"] == "done")
            .cloned()
    })
    .await;
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    let types = pa.get("/api/v1/properties/KRL/room-types").await.body;
    let codes: Vec<&str> = types["room_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["DLX", "FAM"],
        "delivered once, the canceled one never"
    );
    wb.post(&format!("/api/v1/pending/{id}/retry"), json!({}))
        .await
        .problem(409, "invalid_transition");
    let audit = pa.get("/api/v1/audit?limit=100").await.body;
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["actor"] == "admin via WB" && a["action"] == "room_type.create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forced_takeover_fences_the_old_master_and_loses_nothing() {
    // One proxy per directed link, so any link can be cut on its own.
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links,
        servers,
    } = three_servers("", &[]).await;
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    seed_rvc(&wb, 3).await;
    let before = wb
        .ok("/api/v1/bookings", rvc_booking(2, "Before the split"))
        .await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    until("RVC everywhere", || async {
        let (a, b, c) = (digest(&wb).await, digest(&rs).await, digest(&pa).await);
        (a == b && b == c).then_some(())
    })
    .await;
    // WB is cut off, and keeps taking env writes it believes legitimate.
    for ((from, to), p) in &links {
        if from == "WB" || to == "WB" {
            p.cut();
        }
    }
    let mut wb_acked = vec![];
    for i in 0..4 {
        let n = format!("WB-{i}");
        wb.ok(
            "/api/v1/properties/RVC/rooms",
            json!({"number": n, "room_type": "TNT"}),
        )
        .await;
        wb_acked.push(n);
    }
    let cancelled = wb
        .post(
            &format!("/api/v1/bookings/{before}/cancel"),
            json!({"reason": "cancelled on the isolated WB"}),
        )
        .await;
    assert_eq!(cancelled.status, 200);
    // RS takes over: audited, with a reason; refused without force.
    rs.post(
        "/api/v1/environment/takeover",
        json!({"force": false, "reason": "x"}),
    )
    .await
    .problem(400, "invalid_input");
    pa.post(
        "/api/v1/environment/takeover",
        json!({"force": true, "reason": "x"}),
    )
    .await
    .problem(400, "invalid_input");
    let t = rs
        .post(
            "/api/v1/environment/takeover",
            json!({"force": true, "reason": "WB unreachable since the storm"}),
        )
        .await;
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["master"]["server"], "RS");
    assert_eq!(t.body["master"]["epoch"], 2);
    rs.ok(
        "/api/v1/properties/RVC/rooms",
        json!({"number": "RS-1", "room_type": "TNT"}),
    )
    .await;
    for p in links.values() {
        p.heal();
    }
    // WB learns it is no longer master; everyone converges on the same database.
    until("WB a slave", || async {
        (wb.get("/api/v1/environment").await.body["state"] == "slave").then_some(())
    })
    .await;
    until("identical digests after the takeover", || async {
        let (a, b, c) = (digest(&wb).await, digest(&rs).await, digest(&pa).await);
        (!a.is_empty() && a == b && b == c).then_some(())
    })
    .await;
    // WB's fenced writes reach every server, as conflicts (they change no record, so the
    // digests can agree before they arrive).
    for api in [&wb, &rs, &pa] {
        until("the fenced writes as conflicts everywhere", || async {
            let c = api.get("/api/v1/conflicts").await.body["conflicts"]
                .as_array()
                .map_or(0, Vec::len);
            (c > wb_acked.len()).then_some(())
        })
        .await;
    }
    // Every write WB acknowledged is in the database or in conflicts, on every server.
    for api in [&wb, &rs, &pa] {
        let rooms = api.get("/api/v1/properties/RVC/rooms").await.body;
        let have: Vec<String> = rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["number"].as_str().unwrap().to_string())
            .collect();
        let conflicts = api.get("/api/v1/conflicts").await.body["conflicts"]
            .as_array()
            .unwrap()
            .clone();
        for n in &wb_acked {
            let in_conflicts = conflicts
                .iter()
                .any(|c| c["theirs"]["number"] == n.as_str() && c["origin"] == "WB");
            assert!(
                have.contains(n) || in_conflicts,
                "{n} lost on {}: rooms {have:?} conflicts {conflicts:?}",
                api.base
            );
            assert!(
                !(have.contains(n) && in_conflicts),
                "{n} applied and in conflicts"
            );
        }
        assert!(have.contains(&"RS-1".to_string()));
        // The cancel WB made after the fence is a conflict too; the booking stands.
        assert_eq!(
            api.get(&format!("/api/v1/bookings/{before}")).await.body["status"],
            "confirmed"
        );
        assert!(conflicts.iter().any(|c| c["record_id"] == before.as_str()));
    }
    // The new master settles them: one applied (checked like any write), one discarded.
    let conflicts = rs.get("/api/v1/conflicts").await.body["conflicts"]
        .as_array()
        .unwrap()
        .clone();
    let room0 = conflicts
        .iter()
        .find(|c| c["theirs"]["number"] == "WB-0")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let room1 = conflicts
        .iter()
        .find(|c| c["theirs"]["number"] == "WB-1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        rs.post(&format!("/api/v1/conflicts/{room0}/apply"), json!({}))
            .await
            .body["status"],
        "applied"
    );
    assert_eq!(
        rs.post(&format!("/api/v1/conflicts/{room1}/discard"), json!({}))
            .await
            .body["status"],
        "discarded"
    );
    rs.post(&format!("/api/v1/conflicts/{room1}/apply"), json!({}))
        .await
        .problem(409, "invalid_transition");
    until("WB-0 restored everywhere", || async {
        let rooms = pa.get("/api/v1/properties/RVC/rooms").await.body;
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["number"] == "WB-0")
            .then_some(())
    })
    .await;
    let audit = rs.get("/api/v1/audit?limit=200").await.body;
    assert!(audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "master.takeover"
            && a["detail"]
                .as_str()
                .unwrap()
                .contains("WB unreachable since the storm")));
    for s in &servers {
        s.check_invariants();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handover_to_a_target_that_cannot_catch_up_aborts_and_the_master_stays() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    let rs_to_wb = Proxy::start(
        "127.0.0.1:0",
        format!("127.0.0.1:{}", ports[0].1).parse().unwrap(),
    )
    .await
    .unwrap();
    let wb_server = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{}", ports[0].1),
        &[],
        &[
            "--setting",
            "handover_silence=1s",
            "--setting",
            "handover_timeout=5s",
        ],
    );
    let rs_server = TestServer::start_in(
        &env,
        "RS",
        &format!("127.0.0.1:{}", ports[1].1),
        &[("WB".into(), format!("http://{}", rs_to_wb.addr()))],
    );
    let (wb, rs) = (wb_server.api(), rs_server.api());
    admin_known(&rs).await;
    seed_rvc(&wb, 1).await;
    // RS can no longer pull from WB: it can never hold everything WB holds (one more env write
    // after the cut, so that RS lacks something even if it pulled the seed just before it).
    rs_to_wb.cut();
    wb.ok(
        "/api/v1/properties",
        json!({"code": "RV2", "name": "River Camp Two", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    let started = std::time::Instant::now();
    let h = wb
        .post("/api/v1/environment/handover", json!({"to": "RS"}))
        .await;
    let d = h.problem(503, "unavailable");
    assert!(
        d.contains("aborted") && d.contains("WB stays master"),
        "{d}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // WB is still master, unfrozen, taking env writes; RS never became master.
    let e = wb.get("/api/v1/environment").await.body;
    assert_eq!(
        (e["state"].as_str(), e["master"]["epoch"].as_u64()),
        (Some("master"), Some(1))
    );
    assert_eq!(
        wb.post(
            "/api/v1/properties/RVC/rooms",
            json!({"number": "2", "room_type": "TNT"})
        )
        .await
        .status,
        201
    );
    rs_to_wb.heal();
    let e = rs.get("/api/v1/environment").await.body;
    assert_eq!(e["master"]["server"], "WB");
    // And the next handover, with the link back, goes through.
    let ok = until("a handover once RS pulls again", || async {
        let h = wb
            .post("/api/v1/environment/handover", json!({"to": "RS"}))
            .await;
        (h.status == 200).then_some(h.body)
    })
    .await;
    assert_eq!(ok["master"]["epoch"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_delays_and_dropped_connections_still_converge() {
    // One proxy per directed link, so any link can be cut on its own.
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links,
        mut servers,
    } = three_servers("", &[]).await;
    for s in &servers {
        admin_known(&s.api()).await;
    }
    let (wb, pa) = (servers[0].api(), servers[2].api());
    seed_rvc(&wb, 20).await;
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal", "timezone": "UTC"}),
    )
    .await;
    // Slow, lossy links to and from PA (seeded), while RS dies hard and comes back.
    for ((from, to), p) in &links {
        if from == "PA" || to == "PA" {
            p.set_delay(std::time::Duration::from_millis(30));
            p.set_drop_rate(0.3, 7);
        }
    }
    let mut refs = vec![];
    for i in 0..10u64 {
        refs.push(
            wb.ok(
                "/api/v1/bookings",
                rvc_booking(1 + i, &format!("Guest {i}")),
            )
            .await["reference"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        if i == 4 {
            servers[1].kill9();
        }
    }
    pa.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "DLX", "name": "Deluxe", "max_occupancy": 2}),
    )
    .await;
    servers[1].restart();
    let rs = servers[1].api();
    for p in links.values() {
        p.set_drop_rate(0.0, 0);
    }
    until(
        "identical digests after kill -9, delays and drops",
        || async {
            let d: Vec<String> = futures::future::join_all([&wb, &rs, &pa].map(digest)).await;
            (!d[0].is_empty() && d.iter().all(|x| *x == d[0])).then_some(())
        },
    )
    .await;
    for r in &refs {
        assert_eq!(
            rs.get(&format!("/api/v1/bookings/{r}")).await.status,
            200,
            "{r}"
        );
    }
    let m = rs
        .anonymous()
        .http
        .get(format!("{}/metrics", rs.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("innsync_replication_applied_total") && m.contains("innsync_conflicts_open 0"),
        "{m}"
    );
}

/// A pull that waits (long-poll) is not answered with the caller's own changes that reach the
/// server while it waits: the caller wrote them. Before, every booking made on WB came back to
/// WB from RS (issue 22: half the bytes on the link). A pull that does not wait still gets
/// them (a restored server gets its own changes back: nothing lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_pull_is_not_answered_with_the_callers_own_changes() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    // No night audit during the test: RS writes nothing of its own, so nothing else ends the
    // wait early.
    let servers: Vec<TestServer> = ports
        .iter()
        .map(|(c, p)| {
            TestServer::start_in_with(
                &env,
                c,
                &format!("127.0.0.1:{p}"),
                &[],
                &["--setting", "night_audit_check=1h"],
            )
        })
        .collect();
    let (wb, rs) = (servers[0].api(), servers[1].api());
    for api in [&wb, &rs] {
        admin_known(api).await;
    }
    seed_rvc(&wb, 3).await;
    let fingerprint =
        innsync_environment::Environment::parse(&std::fs::read_to_string(&env).unwrap())
            .unwrap()
            .fingerprint()
            .to_string();
    let auth = format!(
        "Bearer {}",
        innsync_server::replication::auth::peer_token("a long shared secret for tests", "WB")
    );
    // WB's pulls of RS, made by hand.
    let pull = |cursor: serde_json::Value, wait_ms: u64| {
        let (api, auth, fingerprint) = (rs.anonymous(), auth.clone(), fingerprint.clone());
        async move {
            let headers: [(&str, &str); 3] = [
                ("authorization", &auth),
                ("x-innsync-server", "WB"),
                ("x-innsync-fingerprint", &fingerprint),
            ];
            let a = api
                .send(
                    reqwest::Method::POST,
                    "/api/v1/replication/pull",
                    Some(json!({"cursor": cursor, "limit": 100, "wait_ms": wait_ms})),
                    &headers,
                )
                .await;
            assert_eq!(a.status, 200, "{:?}", a.body);
            a.body
        }
    };
    let from_wb = |answer: &serde_json::Value| {
        answer["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["origin"] == "WB")
            .count()
    };
    until("RS holds WB's reference data", || async {
        (digest(&wb).await == digest(&rs).await).then_some(())
    })
    .await;
    let cursor = pull(json!({}), 0).await["holds"].clone();
    let wb_head = cursor["WB"].as_u64().unwrap();
    let waiting = tokio::spawn(pull(cursor.clone(), 3_000));
    let b = wb.ok("/api/v1/bookings", rvc_booking(2, "Ann Echo")).await;
    let r = b["reference"].as_str().unwrap().to_string();
    until("the booking on RS", || async {
        (rs.get(&format!("/api/v1/bookings/{r}")).await.status == 200).then_some(())
    })
    .await;
    let answer = waiting.await.unwrap();
    assert_eq!(
        from_wb(&answer),
        0,
        "WB's own changes echoed back: {answer}"
    );
    let booked = 2; // the guest and the booking
    assert_eq!(
        answer["holds"]["WB"].as_u64().unwrap(),
        wb_head + booked,
        "the booking reached RS while WB's pull waited: {answer}"
    );
    // Asked without waiting, from the same cursor: WB's changes are there for it.
    let at_once = pull(cursor, 0).await;
    assert_eq!(from_wb(&at_once) as u64, booked, "{at_once}");
}

/// Over TLS a server offers HTTP/2 first (ALPN), so peer links and browsers speak it: a peer
/// link's repeated headers then cost a few bytes an exchange (issue 22). A client that speaks
/// only HTTP/1.1 is served as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_http2_is_negotiated_and_http1_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    let wb = TestServer::start_in(&env, "WB", &format!("127.0.0.1:{}", ports[0].1), &[]);
    let url = format!("{}/healthz", wb.api().base);
    assert!(url.starts_with("https://"), "{url}");
    let h2 = client_builder().build().unwrap();
    let h1 = client_builder().http1_only().build().unwrap();
    let (a, b) = (
        h2.get(&url).send().await.unwrap(),
        h1.get(&url).send().await.unwrap(),
    );
    assert_eq!(
        (a.status().as_u16(), a.version()),
        (200, reqwest::Version::HTTP_2)
    );
    assert_eq!(
        (b.status().as_u16(), b.version()),
        (200, reqwest::Version::HTTP_11)
    );
}

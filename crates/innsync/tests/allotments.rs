//! Allotments between real server processes (WB web and master, RS office, PA property server
//! owning KRL), every link through its own fault proxy: a standing rule gives the web two of
//! PA's rooms a night; PA and WB both sell KRL while cut off from each other, each only what it
//! holds; a request for more waits as a pending operation until PA is reachable; after the heal
//! every server agrees and no night is sold beyond its rooms. Bad grants are refused with a
//! clear problem and change nothing; a room out of order reports the shortfall it makes.
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
use serde_json::{json, Value};

const RULE: &str = r#"
[[allotment_rules]]
name = "web-keeps-2"
property = "KRL"
holder = "env"
units = 2
days_ahead = 30
"#;

fn krl_booking(arrival: u64, name: &str) -> Value {
    json!({"property": "KRL", "room_type": "DLX", "arrival": day(arrival),
           "departure": day(arrival + 1), "guest": {"name": name}})
}

/// One night of KRL's DLX as `api` sees it: (held_here, available, booked).
async fn dlx_night(api: &Api, night: u64) -> (u64, u64, u64) {
    let a = api
        .get(&format!(
            "/api/v1/availability?property=KRL&from={}&to={}",
            day(night),
            day(night + 1)
        ))
        .await;
    let n = &a.body["room_types"][0]["nights"][0];
    (
        n["held_here"].as_u64().unwrap_or(0),
        n["available"].as_u64().unwrap_or(0),
        n["booked"].as_u64().unwrap_or(0),
    )
}

/// Books on `api` until it answers `no_availability`; the references it sold.
async fn sell_out(api: &Api, night: u64, who: &str) -> Vec<String> {
    let mut sold = vec![];
    for i in 0..10 {
        let a = api
            .post(
                "/api/v1/bookings",
                krl_booking(night, &format!("{who} {i}")),
            )
            .await;
        if a.status == 409 {
            assert_eq!(a.body["code"], "no_availability", "{:?}", a.body);
            return sold;
        }
        assert_eq!(a.status, 201, "{:?}", a.body);
        sold.push(a.body["reference"].as_str().unwrap().to_string());
    }
    panic!("{who} sold more than there are rooms");
}

/// Logs in through the UI's form and returns a page's HTML.
async fn ui_page(base: &str, (name, password): (&str, &str), path: &str) -> String {
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
    let page = http
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{path}");
    page.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_cut_off_from_each_other_never_sell_the_same_room() {
    let ThreeServers {
        dir: _dir,
        env: _,
        codes: _,
        real: _,
        links,
        servers,
    } = three_servers(RULE, &["--setting", "allotment_rule_interval=100ms"]).await;
    let (wb, rs, pa) = (servers[0].api(), servers[1].api(), servers[2].api());
    for api in [&wb, &rs, &pa] {
        admin_known(api).await;
    }
    // PA sets up its lodge: 4 deluxe rooms.
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
    for n in ["101", "102", "103", "104"] {
        pa.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": n, "room_type": "DLX"}),
        )
        .await;
    }
    // The standing rule runs on PA, the owner: the web holds 2 a night, PA the other 2.
    let night = 5;
    until("the rule's grant on WB", || async {
        (dlx_night(&wb, night).await.0 == 2).then_some(())
    })
    .await;
    assert_eq!(dlx_night(&pa, night).await.0, 2, "PA keeps the rest");
    assert_eq!(dlx_night(&rs, night).await.0, 0, "RS holds nothing of KRL");
    // PA is cut off from everyone, both ways.
    for ((from, to), p) in &links {
        if from == "PA" || to == "PA" {
            p.cut();
        }
    }
    // Both sell the same night: each exactly what it holds, nothing more.
    let web_sold = sell_out(&wb, night, "Web guest").await;
    let lodge_sold = sell_out(&pa, night, "Lodge guest").await;
    assert_eq!((web_sold.len(), lodge_sold.len()), (2, 2));
    let refused = wb
        .post("/api/v1/bookings", krl_booking(night, "One too many"))
        .await;
    assert_eq!(refused.body["holder"], "env", "{:?}", refused.body);
    // The web asks PA for one more unit: PA is unreachable, so it waits in the queue.
    let asked = wb
        .post(
            "/api/v1/allotments/request",
            json!({"property": "KRL", "room_type": "DLX", "from": day(night),
                   "to": day(night + 1), "units": 1, "from_holder": "PA"}),
        )
        .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    // PA's guest cancels; the room is PA's again, and PA's answer to the request can use it.
    pa.ok(
        &format!("/api/v1/bookings/{}/cancel", lodge_sold[0]),
        json!({"reason": "change of plans"}),
    )
    .await;
    // Heal: everyone converges; the queued request reaches PA and is granted.
    for p in links.values() {
        p.heal();
    }
    until("the request granted and sold out again", || async {
        (dlx_night(&wb, night).await.0 == 3).then_some(())
    })
    .await;
    let third = wb
        .ok("/api/v1/bookings", krl_booking(night, "Web guest 3"))
        .await;
    assert_eq!(third["owner"], "env");
    let want = digest(&wb).await;
    until("every server identical", || async {
        let mut same = true;
        for api in [&rs, &pa] {
            same &= digest(api).await == want;
        }
        same.then_some(())
    })
    .await;
    for api in [&wb, &rs, &pa] {
        let a = api
            .get(&format!(
                "/api/v1/allotments?property=KRL&from={}&to={}",
                day(0),
                day(30)
            ))
            .await;
        assert_eq!(a.status, 200);
        for n in a.body["room_types"][0]["nights"].as_array().unwrap() {
            assert!(n["sold"].as_u64() <= n["in_service"].as_u64(), "{n}");
            for h in n["holders"].as_array().unwrap() {
                assert!(h["sold"].as_i64() <= h["held"].as_i64(), "{n}");
            }
        }
        assert_eq!(a.body["shortfalls"], json!([]));
        let n = &a.body["room_types"][0]["nights"][night as usize];
        assert_eq!(n["sold"], 4, "the night is full, once: {n}");
        assert_eq!(
            n["holders"],
            json!([{"holder": "server:PA", "held": 1, "sold": 1},
                   {"holder": "env", "held": 3, "sold": 3}])
        );
    }
    let pending = wb.get("/api/v1/pending").await.body;
    assert!(
        pending["pending"]
            .as_array()
            .is_some_and(|ops| ops.iter().all(|o| o["state"] == "done")),
        "{pending}"
    );
    for s in &servers {
        s.check_invariants();
    }
    // The operator's tape chart on WB shows who held what that night.
    wb.ok(
        "/api/v1/users",
        json!({"username": "ops", "password": "ops-password", "roles": ["read_only"]}),
    )
    .await;
    let grid = ui_page(
        &servers[0].base,
        ("ops", "ops-password"),
        &format!("/ui/grid?property=KRL&from={}", day(night)),
    )
    .await;
    for holder in ["server:PA", "env"] {
        assert!(
            grid.contains(&format!("data-holder=\"{holder}\"")),
            "the grid names {holder}"
        );
    }
    assert!(
        grid.split("shared stock (sold by ").skip(1).any(|rest| rest
            .split_once("): ")
            .is_some_and(|(_, t)| t.starts_with("3 sold of 3 held"))),
        "the night's split is shown"
    );

    // Bad grants are refused with a precise problem and change nothing.
    let before = digest(&pa).await;
    let grant = |units: u64, from: String, to: String, to_holder: &str| {
        json!({"property": "KRL", "room_type": "DLX", "from": from, "to": to,
               "units": units, "to_holder": to_holder})
    };
    let more = pa
        .post(
            "/api/v1/allotments/grant",
            grant(1, day(night), day(night + 1), "env"),
        )
        .await;
    assert_eq!(
        (
            more.status.as_u16(),
            more.body["code"].as_str(),
            more.body["holder"].as_str()
        ),
        (409, Some("no_availability"), Some("server:PA")),
        "PA has sold what it holds that night: {:?}",
        more.body
    );
    let past = pa
        .post(
            "/api/v1/allotments/grant",
            grant(
                1,
                (today() - chrono::Days::new(1)).to_string(),
                day(night + 1),
                "env",
            ),
        )
        .await;
    assert_eq!(past.status, 400, "{:?}", past.body);
    assert!(past.body["detail"]
        .as_str()
        .unwrap()
        .contains("in the past"));
    let nobody = pa
        .post(
            "/api/v1/allotments/grant",
            grant(1, day(night), day(night + 1), "ZZ"),
        )
        .await;
    assert_eq!(nobody.status, 400);
    assert!(nobody.body["detail"]
        .as_str()
        .unwrap()
        .contains("cannot hold allotments"));
    let not_giver = rs
        .post(
            "/api/v1/allotments/grant",
            json!({"property": "KRL", "room_type": "DLX", "from": day(8), "to": day(9),
                   "units": 1, "to_holder": "RS", "from_holder": "PA"}),
        )
        .await;
    assert_eq!(not_giver.body["code"], "not_owner", "{:?}", not_giver.body);
    assert_eq!(digest(&pa).await, before, "refusals wrote nothing");
    // The same grant retried with its key moves the units once.
    let key = [("Idempotency-Key", "grant-rs-8")];
    let once = grant(1, day(8), day(9), "RS");
    let a = pa
        .send(
            reqwest::Method::POST,
            "/api/v1/allotments/grant",
            Some(once.clone()),
            &key,
        )
        .await;
    let b = pa
        .send(
            reqwest::Method::POST,
            "/api/v1/allotments/grant",
            Some(once),
            &key,
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (201, 201),
        "{:?}",
        b.body
    );
    assert_eq!(a.body["id"], b.body["id"]);

    // Concurrent bookings and grants on one night at PA (it holds 2 of night 12): whatever
    // the interleaving, what it sold and what it gave add up to at most what it held.
    let (n12, n13) = (day(12), day(13));
    let mut tasks = vec![];
    for i in 0..12 {
        let pa = pa.clone();
        let (from, to) = (n12.clone(), n13.clone());
        tasks.push(tokio::spawn(async move {
            let a = if i % 3 == 0 {
                pa.post(
                    "/api/v1/allotments/grant",
                    json!({"property": "KRL", "room_type": "DLX", "from": from, "to": to,
                           "units": 1, "to_holder": "env"}),
                )
                .await
            } else {
                pa.post("/api/v1/bookings", krl_booking(12, &format!("Racer {i}")))
                    .await
            };
            assert!(
                a.status == 201 || a.body["code"] == "no_availability",
                "{:?}",
                a.body
            );
            a.status == 201
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(
        won, 2,
        "PA's two units went to exactly two bookings or grants"
    );
    let a = pa
        .get(&format!(
            "/api/v1/allotments?property=KRL&from={n12}&to={n13}"
        ))
        .await;
    let n = &a.body["room_types"][0]["nights"][0];
    for h in n["holders"].as_array().unwrap() {
        assert!(h["sold"].as_i64() <= h["held"].as_i64(), "{n}");
    }

    // A pipe bursts in 101 on the full night: PA now holds fewer rooms than it sold.
    let ooo = pa
        .post(
            "/api/v1/properties/KRL/rooms/101/out-of-order",
            json!({"from": day(night), "to": day(night + 1), "reason": "burst pipe"}),
        )
        .await;
    // The whole night is sold (4 of 4), so taking a room away is refused outright...
    assert_eq!(ooo.status, 409, "{:?}", ooo.body);
    // ...but on night 8 the web and RS still hold unsold units, and PA has sold the one it
    // kept: taking 101 away leaves PA short, and it says so, naming its booking.
    let _ = sell_out(&pa, 8, "Lodge guest").await;
    let ooo = pa
        .post(
            "/api/v1/properties/KRL/rooms/101/out-of-order",
            json!({"from": day(8), "to": day(9), "reason": "burst pipe"}),
        )
        .await;
    assert_eq!(ooo.status, 200, "{:?}", ooo.body);
    let short = &ooo.body["shortfalls"];
    assert_eq!(short.as_array().map(Vec::len), Some(1), "{short}");
    assert_eq!(short[0]["holder"], "server:PA");
    assert_eq!(
        (short[0]["held"].as_i64(), short[0]["sold"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(short[0]["bookings"].as_array().map(Vec::len), Some(1));
    let metrics = http_client()
        .get(format!("{}/metrics", servers[2].base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("innsync_allotment_shortfalls 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("shortfall"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The demo's own partition drill (`innsync demo --seed-only`): PA cut off, WB and PA both sell
/// one night of the lodge, the heal, and every server's count checked by the demo itself.
#[test]
fn the_demo_drill_sells_each_room_once() {
    // Three consecutive free ports for WB, RS and PA, taken from the tests' own allocator so
    // no other test of this binary is handed them.
    let port = (0..50)
        .map(|_| (free_port(), free_port(), free_port()))
        .find(|(a, b, c)| *b == a + 1 && *c == a + 2)
        .map(|(a, _, _)| a)
        .expect("three free ports in a row");
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args([
            "demo",
            "--seed-only",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("WB sold 2, PA sold 4"), "{stdout}");
    for code in ["WB", "RS", "PA"] {
        assert!(
            stdout.contains(&format!("seen on {code}: 6 of 6 rooms sold, never twice")),
            "{stdout}"
        );
    }
}

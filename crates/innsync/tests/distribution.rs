//! Distribution rules between real processes: WB (web, master), PA (property server owning KRL,
//! receiving only its own properties), AR (archive), and SF — a partner environment of its own.
//! Bookings for KRL made on WB are given to PA with their ownership (also after PA was down for a
//! while); cancelled bookings move to the archive on a schedule; guests are copied to the
//! partner with a field mapping as independent copies; a copy the partner refuses fails, an
//! operator fixes the cause and retries it, and it completes; PA never receives River Camp's
//! records; killing WB mid-queue loses and repeats nothing.
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
use std::path::Path;

const RULES: &str = r#"
[[rules]]
name = "lodge-bookings-to-lodge"
kind = "booking"
on = "create"
when = 'property = "KRL"'
operation = "transfer"
target = "owner"
mode = "data_and_ownership"
pool = "lodge"

[[rules]]
name = "cancelled-to-archive"
kind = "booking"
on = "schedule"
when = 'status = "cancelled" and departure < today + 60d'
operation = "transfer"
target = "AR"
mode = "data_and_ownership"
pool = "archive"

[[rules]]
name = "guests-to-safari"
kind = "guest"
on = "create"
when = 'email != null'
operation = "transfer"
target = "partner:safari"
mode = "independent_copy"
duplicates = "error"
match = ["email"]
pool = "partners"
[rules.map]
drop = ["phone"]
compute = { name = 'upper(name)' }
"#;

fn write_envs(
    dir: &Path,
    wb: u16,
    pa: u16,
    ar: u16,
    sf: u16,
    partner_url: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let kraal = format!(
        r#"name = "kraal"
secret = "a long shared secret for tests"
initial_master = "WB"

[[servers]]
code = "WB"
role = "web"
url = "http://127.0.0.1:{wb}"

[[servers]]
code = "PA"
role = "property"
url = "http://127.0.0.1:{pa}"
properties = ["KRL"]
receive = "own"

[[servers]]
code = "AR"
role = "archive"
url = "http://127.0.0.1:{ar}"

[[partners]]
name = "safari"
url = "{partner_url}"
token = "{TOKEN}"
{RULES}"#
    );
    let safari = format!(
        r#"name = "safari"
secret = "another long secret for the partner"
initial_master = "SF"

[[servers]]
code = "SF"
role = "web"
url = "http://127.0.0.1:{sf}"
"#
    );
    let (k, s) = (dir.join("kraal.toml"), dir.join("safari.toml"));
    std::fs::write(&k, kraal).unwrap();
    std::fs::write(&s, safari).unwrap();
    (k, s)
}

const FAST: [&str; 10] = [
    "--setting",
    "rule_sweep_interval=200ms",
    "--setting",
    "pending_poll=50ms",
    "--setting",
    "pending_retry_min=50ms",
    "--setting",
    "pending_retry_max=300ms",
    "--setting",
    "peer_retry_max=300ms",
];

async fn pending(api: &Api) -> Vec<Value> {
    api.get("/api/v1/pending?limit=1000").await.body["pending"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until every operation of `api`'s queue has settled; returns them.
async fn drained(api: &Api) -> Vec<Value> {
    until("the queue to drain", || async {
        let ops = pending(api).await;
        ops.iter()
            .all(|o| {
                !["pending", "retry", "in_progress"].contains(&o["state"].as_str().unwrap_or(""))
            })
            .then_some(ops)
    })
    .await
}

fn krl_booking(arrival: u64, name: &str) -> Value {
    json!({"property": "KRL", "room_type": "DLX", "arrival": day(arrival),
           "departure": day(arrival + 1), "guest": {"name": name}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_go_where_the_rules_say_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    // The partner is reached through a proxy, so its link can be slowed.
    let to_sf = innsync_faultproxy::Proxy::start(
        "127.0.0.1:0",
        format!("127.0.0.1:{}", ports[3]).parse().unwrap(),
    )
    .await
    .unwrap();
    let (kraal, safari) = write_envs(
        dir.path(),
        ports[0],
        ports[1],
        ports[2],
        ports[3],
        &format!("http://{}", to_sf.addr()),
    );
    let sf = TestServer::start_in_with(
        &safari,
        "SF",
        &format!("127.0.0.1:{}", ports[3]),
        &[],
        &FAST,
    );
    let mut servers: Vec<TestServer> = ["WB", "PA", "AR"]
        .iter()
        .zip(&ports)
        .map(|(c, p)| TestServer::start_in_with(&kraal, c, &format!("127.0.0.1:{p}"), &[], &FAST))
        .collect();
    let (wb, pa, ar, sfa) = (
        servers[0].api(),
        servers[1].api(),
        servers[2].api(),
        sf.api(),
    );
    for api in [&wb, &pa, &ar] {
        admin_known(api).await;
    }
    // The lodge and its rooms, on PA; the web is given two units a night to sell.
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal Lodge", "timezone": "UTC"}),
    )
    .await;
    pa.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "DLX", "name": "Deluxe", "max_occupancy": 2}),
    )
    .await;
    for n in ["1", "2", "3", "4"] {
        pa.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": n, "room_type": "DLX"}),
        )
        .await;
    }
    pa.ok(
        "/api/v1/allotments/grant",
        json!({"property": "KRL", "room_type": "DLX", "from": day(0), "to": day(30), "units": 2, "to_holder": "env"}),
    )
    .await;
    // River Camp is the web's own; PA receives only its own properties, so never sees it.
    wb.ok(
        "/api/v1/properties",
        json!({"code": "RVC", "name": "River Camp", "timezone": "UTC"}),
    )
    .await;
    wb.ok(
        "/api/v1/properties/RVC/room-types",
        json!({"code": "TNT", "name": "Tent", "max_occupancy": 2}),
    )
    .await;
    wb.ok(
        "/api/v1/properties/RVC/rooms",
        json!({"number": "T1", "room_type": "TNT"}),
    )
    .await;
    let rvc = wb
        .ok(
            "/api/v1/bookings",
            json!({"property": "RVC", "room_type": "TNT", "arrival": day(2),
            "departure": day(3), "guest": {"name": "River Guest"}}),
        )
        .await;
    let rvc_ref = rvc["reference"].as_str().unwrap().to_string();

    // 1. A booking for KRL made on WB is given to PA with its ownership.
    until("KRL on WB", || async {
        (wb.get("/api/v1/properties/KRL/room-types").await.status == 200).then_some(())
    })
    .await;
    until("the grant on WB", || async {
        let a = wb
            .get(&format!(
                "/api/v1/availability?property=KRL&from={}&to={}",
                day(3),
                day(4)
            ))
            .await;
        (a.body["room_types"][0]["nights"][0]["held_here"] == 2).then_some(())
    })
    .await;
    let b = wb.ok("/api/v1/bookings", krl_booking(3, "Ann Smith")).await;
    let r1 = b["reference"].as_str().unwrap().to_string();
    let owned = until("the booking owned by PA on PA", || async {
        let a = pa.get(&format!("/api/v1/bookings/{r1}")).await;
        (a.body["owner"] == "server:PA").then_some(a.body)
    })
    .await;
    assert_eq!(owned["holder"], "server:PA", "its unit went with it");
    assert_eq!(owned["provenance"]["from_owner"], "env");
    let ops = drained(&wb).await;
    let t = ops
        .iter()
        .find(|o| o["op"] == "transfer")
        .expect("a transfer operation");
    assert_eq!(
        (
            t["state"].as_str(),
            t["pool"].as_str(),
            t["target"].as_str()
        ),
        (Some("done"), Some("lodge"), Some("PA"))
    );
    let refused = wb
        .post(&format!("/api/v1/bookings/{r1}/cancel"), json!({}))
        .await;
    assert_eq!(refused.body["code"], "not_owner", "{:?}", refused.body);

    // 2. PA is down for a while: the transfer waits and retries, then completes.
    servers[1].kill9();
    let b = wb.ok("/api/v1/bookings", krl_booking(4, "Bo Chen")).await;
    let r2 = b["reference"].as_str().unwrap().to_string();
    until("the transfer retrying", || async {
        pending(&wb)
            .await
            .iter()
            .any(|o| {
                o["op"] == "transfer" && o["state"] == "retry" && o["attempts"].as_u64() >= Some(2)
            })
            .then_some(())
    })
    .await;
    servers[1].restart();
    let pa = servers[1].api();
    until("the second booking at PA", || async {
        (pa.get(&format!("/api/v1/bookings/{r2}")).await.body["owner"] == "server:PA").then_some(())
    })
    .await;
    drained(&wb).await;

    // 3. Cancelled at PA, the booking moves to the archive by PA's scheduled rule.
    pa.ok(
        &format!("/api/v1/bookings/{r2}/cancel"),
        json!({"reason": "plans changed"}),
    )
    .await;
    until("the cancelled booking owned by the archive", || async {
        (ar.get(&format!("/api/v1/bookings/{r2}")).await.body["owner"] == "server:AR").then_some(())
    })
    .await;
    let edit = ar
        .post(
            "/api/v1/records/delete",
            json!({"kind": "booking", "key": r2, "reason": "tidy"}),
        )
        .await;
    assert!(
        edit.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("never edits"),
        "{:?}",
        edit.body
    );
    let archived = drained(&pa).await;
    assert!(
        archived
            .iter()
            .any(|o| o["rule"] == "cancelled-to-archive" && o["state"] == "done"),
        "{archived:?}"
    );

    // 4. Guests are copied to the partner, mapped (name upper-cased, phone dropped): independent
    //    copies that remember where they came from.
    let g = wb
        .ok(
            "/api/v1/guests",
            json!({"name": "Lena Fischer", "email": "lena@example.com", "phone": "+49 30 1234"}),
        )
        .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let copy = until("the copy at the partner", || async {
        let ops = pending(&wb).await;
        let done = ops.iter().find(|o| {
            o["rule"] == "guests-to-safari"
                && o["record_id"] == gid.as_str()
                && o["state"] == "done"
        })?;
        let result: Value = serde_json::from_str(done["result"].as_str()?).ok()?;
        Some(result)
    })
    .await;
    let copied_id = copy["id"].as_str().unwrap().to_string();
    let at_sf = sfa.get(&format!("/api/v1/guests/{copied_id}")).await.body;
    assert_eq!(at_sf["name"], "LENA FISCHER");
    assert_eq!(at_sf["phone"], Value::Null, "the phone was dropped");
    assert_eq!(at_sf["owner"], "env", "the copy is the partner's own");
    assert_eq!(at_sf["provenance"]["from_environment"], "kraal");
    assert_eq!(at_sf["provenance"]["from_id"], gid.as_str());
    assert_eq!(at_sf["provenance"]["copy"], "independent");

    // 5. The partner refuses a copy (it already has a guest with that e-mail): the operation
    //    fails with the reason; the operator removes the cause, retries, and it completes.
    sfa.ok(
        "/api/v1/guests",
        json!({"name": "Kenji Sato", "email": "kenji@example.com"}),
    )
    .await;
    wb.ok(
        "/api/v1/guests",
        json!({"name": "Kenji Sato", "email": "kenji@example.com"}),
    )
    .await;
    let failed = until("the refused copy to fail", || async {
        pending(&wb)
            .await
            .into_iter()
            .find(|o| o["rule"] == "guests-to-safari" && o["state"] == "failed")
    })
    .await;
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("matches the copy on email"),
        "{failed}"
    );
    let dup = sfa.get("/api/v1/audit?limit=50").await.body["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "guest.create")
        .map(|a| a["record_id"].as_str().unwrap().to_string())
        .expect("the partner's own guest");
    sfa.ok(
        "/api/v1/records/delete",
        json!({"kind": "guest", "key": dup, "reason": "duplicate"}),
    )
    .await;
    let retry = std::process::Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args([
            "pending",
            "retry",
            &failed["id"].to_string(),
            "--url",
            &servers[0].base,
            "--token",
            TOKEN,
        ])
        .env("INNSYNC_CA", common::test_certs().join("ca.pem"))
        .output()
        .unwrap();
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    until("the retried copy done", || async {
        let ops = pending(&wb).await;
        ops.iter()
            .find(|o| o["id"] == failed["id"])
            .filter(|o| o["state"] == "done")
            .cloned()
    })
    .await;

    // 6. Partial replication: PA has none of River Camp, the archive has all of it.
    until("RVC's booking on the archive", || async {
        (ar.get(&format!("/api/v1/bookings/{rvc_ref}")).await.status == 200).then_some(())
    })
    .await;
    assert_eq!(
        pa.get(&format!("/api/v1/bookings/{rvc_ref}")).await.status,
        404
    );
    assert_eq!(
        pa.get("/api/v1/properties/RVC/room-types").await.body["room_types"],
        json!([])
    );
    assert_eq!(
        pa.get("/api/v1/properties/RVC").await.status,
        200,
        "properties are shared reference data"
    );
    until("PA caught up with WB despite what it skips", || async {
        let env = pa.get("/api/v1/environment").await.body;
        env["servers"]
            .as_array()?
            .iter()
            .find(|s| s["code"] == "WB" && s["behind"] == 0)
            .map(|_| ())
    })
    .await;

    // 7. Kill -9 WB in the middle of a queue of copies (the partner's link slowed so the queue
    //    is long): after the restart every copy is made, once.
    to_sf.set_delay(std::time::Duration::from_millis(40));
    for i in 0..30 {
        wb.ok(
            "/api/v1/guests",
            json!({"name": format!("Queue Guest {i}"), "email": format!("q{i}@example.com")}),
        )
        .await;
    }
    // Mid-queue: the partner has made some of the copies while WB still counts at least ten
    // as open (a round records its outcomes only at its end, so WB's "done" lags the partner).
    let imported = |audit: &Value| {
        audit["audit"].as_array().map_or(0, |a| {
            a.iter()
                .filter(|e| e["action"] == "record.import_copy")
                .count()
        })
    };
    until("some copies made and many still queued", || async {
        let made = imported(&sfa.get("/api/v1/audit?limit=1000").await.body);
        let open = pending(&wb)
            .await
            .iter()
            .filter(|o| {
                o["rule"] == "guests-to-safari"
                    && ["pending", "in_progress", "retry"]
                        .contains(&o["state"].as_str().unwrap_or(""))
            })
            .count();
        (made >= 2 + 5 && open >= 10).then_some(())
    })
    .await;
    servers[0].kill9();
    to_sf.set_delay(std::time::Duration::ZERO);
    servers[0].restart();
    let wb = servers[0].api();
    let ops = drained(&wb).await;
    let copies: Vec<&Value> = ops
        .iter()
        .filter(|o| o["rule"] == "guests-to-safari")
        .collect();
    assert_eq!(
        copies.len(),
        32,
        "one operation per guest: {}",
        copies.len()
    );
    assert!(copies.iter().all(|o| o["state"] == "done"), "{copies:?}");
    let mut from_ids = std::collections::BTreeSet::new();
    let audit = sfa.get("/api/v1/audit?limit=1000").await.body;
    let imported: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "record.import_copy")
        .collect();
    for a in &imported {
        assert!(
            from_ids.insert(a["record_id"].as_str().unwrap().to_string()),
            "a copy made twice: {a}"
        );
    }
    assert_eq!(imported.len(), 32, "every guest copied exactly once");
    for s in servers.iter().chain(std::iter::once(&sf)) {
        s.check_invariants();
    }
}

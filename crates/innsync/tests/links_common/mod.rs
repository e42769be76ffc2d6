//! Two real servers over a shaped link (issue 22): WB, the master, and RS, an office at the far
//! end of a satellite or 3G link. Each reaches the other only through its own relay
//! (`innsync-faultproxy`), both relays shaped as one link profile — rate, delay and jitter, loss
//! as TCP stalls, drop-outs — so the tests see what a lodge's server sees. Shared by the
//! `links_*` tests.
#![allow(dead_code)]

pub use crate::common::mesh::env_writers;
use crate::common::mesh::{admin_known, digest};
use crate::common::{day, environment_file, free_port, Api, TestServer};
use innsync_faultproxy::{LinkProfile, Proxy, ProxyHandle, Site};
use serde_json::json;
use std::time::{Duration, Instant};

/// WB and RS over one shaped link.
pub struct Pair {
    /// Holds the environment file.
    pub dir: tempfile::TempDir,
    /// RS → WB: RS (the site) is the relay's client.
    pub to_wb: ProxyHandle,
    /// WB → RS: RS is the relay's upstream.
    pub to_rs: ProxyHandle,
    /// The master.
    pub wb: TestServer,
    /// The office over the link.
    pub rs: TestServer,
}

impl Pair {
    /// Both relays.
    pub fn links(&self) -> [&ProxyHandle; 2] {
        [&self.to_wb, &self.to_rs]
    }

    /// Cuts the link both ways.
    pub fn cut(&self) {
        self.links().iter().for_each(|l| l.cut());
    }

    /// Restores the link both ways.
    pub fn heal(&self) {
        self.links().iter().for_each(|l| l.heal());
    }

    /// Shapes both relays as `profile` (one link, one drop-out schedule) with `seed`.
    pub fn shape(&self, profile: &LinkProfile, seed: u64) {
        self.to_wb.set_profile(profile, Site::Client, seed);
        self.to_rs.set_profile(profile, Site::Upstream, seed + 1);
    }
}

/// Starts WB and RS, each reaching the other through its relay, with `extra` arguments for
/// both; the link is not shaped yet ([`Pair::shape`]).
pub async fn pair(extra: &[&str]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    let relay =
        |port: u16| Proxy::start("127.0.0.1:0", format!("127.0.0.1:{port}").parse().unwrap());
    let to_wb = relay(ports[0].1).await.unwrap();
    let to_rs = relay(ports[1].1).await.unwrap();
    let wb = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{}", ports[0].1),
        &[("RS".into(), format!("https://{}", to_rs.addr()))],
        extra,
    );
    let rs = TestServer::start_in_with(
        &env,
        "RS",
        &format!("127.0.0.1:{}", ports[1].1),
        &[("WB".into(), format!("https://{}", to_wb.addr()))],
        extra,
    );
    admin_known(&rs.api()).await;
    Pair {
        dir,
        to_wb,
        to_rs,
        wb,
        rs,
    }
}

/// Polls `check` until it returns Some, failing after `limit` (links are slow: the common
/// 30 s bound is too short for some waits here).
pub async fn within<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Property LNK (env-owned, on the master WB) with `rooms` tents, and the office RS given one
/// tent a night on days 20–40 to sell on its own, learned by RS over the link.
pub async fn furnish(wb: &Api, rs: &Api, rooms: usize) {
    wb.ok(
        "/api/v1/properties",
        json!({"code": "LNK", "name": "Link Lodge", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    wb.ok(
        "/api/v1/properties/LNK/room-types",
        json!({"code": "TNT", "name": "Tent", "max_occupancy": 2}),
    )
    .await;
    for i in 0..rooms {
        wb.ok(
            "/api/v1/properties/LNK/rooms",
            json!({"number": format!("{}", 1 + i), "room_type": "TNT"}),
        )
        .await;
    }
    wb.ok(
        "/api/v1/allotments/grant",
        json!({"property": "LNK", "room_type": "TNT", "from": day(20), "to": day(40),
               "units": 1, "to_holder": "RS"}),
    )
    .await;
    let path = format!(
        "/api/v1/availability?property=LNK&from={}&to={}",
        day(20),
        day(40)
    );
    within(Duration::from_secs(60), "the grant to reach RS", || async {
        let a = rs.get(&path).await;
        a.body["room_types"][0]["nights"]
            .as_array()
            .is_some_and(|n| n.iter().all(|n| n["held_here"] == 1))
            .then_some(())
    })
    .await;
}

/// A one-night booking of a tent at LNK.
pub fn tent(arrival: u64, name: &str) -> serde_json::Value {
    json!({"property": "LNK", "room_type": "TNT", "arrival": day(arrival),
           "departure": day(arrival + 1), "guest": {"name": name}})
}

/// `n` one-night bookings on WB (8 writers), on nights 41–120 (after RS's own allotment):
/// their references.
pub async fn offline_bookings(wb: &Api, n: u64) -> Vec<String> {
    let per = n.div_ceil(8);
    let writers = (0..8u64).map(|w| {
        let wb = wb.clone();
        async move {
            let mut refs = Vec::new();
            for i in 0..per {
                let k = w * per + i;
                let b = wb
                    .ok(
                        "/api/v1/bookings",
                        tent(41 + k % 80, &format!("Offline guest {k}")),
                    )
                    .await;
                refs.push(b["reference"].as_str().unwrap().to_string());
            }
            refs
        }
    });
    futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Waits (up to `limit`) until WB and RS hold identical databases.
pub async fn converged(wb: &Api, rs: &Api, limit: Duration) {
    within(limit, "identical digests on WB and RS", || async {
        let (a, b) = (digest(wb).await, digest(rs).await);
        (!a.is_empty() && a == b).then_some(())
    })
    .await;
}

/// The references of every booking `api` holds (page by page), checking none is listed twice.
pub async fn references(api: &Api) -> std::collections::BTreeSet<String> {
    let mut all: Vec<String> = Vec::new();
    let mut after = String::new();
    loop {
        let list = api
            .get(&format!("/api/v1/bookings?limit=200&after={after}"))
            .await;
        assert_eq!(list.status, 200, "{:?}", list.body);
        all.extend(
            list.body["bookings"]
                .as_array()
                .unwrap_or_else(|| panic!("no bookings list: {:?}", list.body))
                .iter()
                .map(|b| b["reference"].as_str().unwrap().to_string()),
        );
        match list.body["next_after"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    let set: std::collections::BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(set.len(), all.len(), "a booking listed twice");
    set
}

/// `/metrics` of `api`'s server.
pub async fn metrics(api: &Api) -> String {
    api.anonymous()
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The link figures `api`'s server shows for `peer` in `GET /api/v1/environment`.
pub async fn link_of(api: &Api, peer: &str) -> serde_json::Value {
    let e = api.get("/api/v1/environment").await.body;
    e["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == peer)
        .map(|s| s["link"].clone())
        .unwrap_or_else(|| panic!("{peer} not in {e:?}"))
}

impl Pair {
    /// With the link cut and a catch-up owed: restores the link and, once an answer is
    /// streaming down to RS (past the TLS handshake), drops it again in the middle of the pull.
    /// Checks the drop landed mid-pull (RS does not hold it all, a connection was severed).
    pub async fn drop_mid_pull(&self, wb: &Api, rs: &Api) {
        let before = self.to_wb.stats();
        self.heal();
        within(
            Duration::from_secs(30),
            "a pull's answer on the way to RS",
            || async { (self.to_wb.stats().bytes_down >= before.bytes_down + 8_000).then_some(()) },
        )
        .await;
        self.cut();
        assert_ne!(
            digest(wb).await,
            digest(rs).await,
            "the drop should land before RS has it all"
        );
        assert!(
            self.to_wb.stats().severed > before.severed,
            "no pull was under way when the link dropped"
        );
    }
}

/// Once both servers have converged (within `limit`): they hold the same bookings, among them
/// every acknowledged one, each once.
pub async fn every_booking_once(wb: &Api, rs: &Api, acked: &[String], limit: Duration) {
    converged(wb, rs, limit).await;
    let (on_wb, on_rs) = (references(wb).await, references(rs).await);
    assert_eq!(on_wb, on_rs, "RS lost or invented a booking");
    for r in acked {
        assert!(on_rs.contains(r), "{r} lost");
    }
    assert_eq!(on_rs.len(), acked.len(), "a booking duplicated");
}

/// Asks `from` (`from_code`) to hand the master over to `to`: `true` when it completed, `false`
/// when it aborted safely (503, and `from` is still the master); anything else fails the test.
pub async fn try_handover(from: &Api, from_code: &str, to: &str) -> bool {
    let h = from
        .post("/api/v1/environment/handover", json!({"to": to}))
        .await;
    match h.status.as_u16() {
        200 => {
            assert_eq!(h.body["master"]["server"], to, "{:?}", h.body);
            true
        }
        503 => {
            let d = h.body["detail"].as_str().unwrap_or_default().to_string();
            assert!(d.contains(&format!("{from_code} stays master")), "{d}");
            let e = from.get("/api/v1/environment").await.body;
            assert_eq!(e["state"], "master", "{e}");
            false
        }
        s => panic!("handover to {to} answered {s}: {:?}", h.body),
    }
}

/// Both servers name `master` as the master within `limit`.
pub async fn agree_on_master(wb: &Api, rs: &Api, master: &str, limit: Duration) {
    within(limit, "both servers to agree on the master", || async {
        let (a, b) = (
            wb.get("/api/v1/environment").await.body,
            rs.get("/api/v1/environment").await.body,
        );
        (a["master"]["server"] == master && b["master"]["server"] == master).then_some(())
    })
    .await;
}

/// On both servers: no epoch had two writers of environment data, and the stores' invariants
/// hold.
pub fn one_env_writer_per_epoch(p: &Pair) {
    for s in [&p.wb, &p.rs] {
        let w = env_writers(&s.dir);
        assert!(
            w.values().all(|o| o.len() == 1),
            "two env writers in one epoch: {w:?}"
        );
        s.check_invariants();
    }
}

//! `innsync bench replication`: two real server processes (WB master, RS office) on loopback.
//! Measures how fast a change becomes visible on the other server, how fast an office catches
//! up after a long time offline, and how long a handover takes when caught up.

use super::bench::{free_port, start_in_environment, BenchArgs, ServerProcess};
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, Utc};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn start(
    dir: &Path,
    env: &Path,
    code: &str,
    port: u16,
    token: &str,
) -> anyhow::Result<ServerProcess> {
    start_in_environment(dir, env, code, port, token, &[])
}

/// Polls `check` until it holds, failing after `limit`.
pub(super) async fn wait_until(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !check().await? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    measure_replication(a).await?.print();
    Ok(())
}

/// What the replication benchmark measured.
pub struct ReplicationFigures {
    /// Records on WB when RS came online.
    pub records: u64,
    /// Changes RS applied to catch up.
    pub caught_up: u64,
    /// How long catching up took (process start included).
    pub catch_up: Duration,
    /// Bookings timed for visibility.
    pub visible: usize,
    /// Visibility WB → RS, p50 and p99.
    pub visibility: (Duration, Duration),
    /// Slowest handover until granted, until the new master writes, longest freeze (ms).
    pub handover: (Duration, Duration, u64),
}

impl ReplicationFigures {
    /// Catch-up speed.
    pub fn changes_per_s(&self) -> f64 {
        self.caught_up as f64 / self.catch_up.as_secs_f64()
    }

    fn print(&self) {
        println!();
        println!("| measure | value |");
        println!("|---|---|");
        println!("| records on WB when RS came online | {} |", self.records);
        println!(
            "| catch-up after {} changes offline | {} changes in {:.2} s = {:.0} changes/s |",
            self.caught_up,
            self.caught_up,
            self.catch_up.as_secs_f64(),
            self.changes_per_s()
        );
        println!(
            "| visibility WB → RS, p50 / p99 ({} bookings, one at a time) | {} / {} |",
            self.visible,
            ms(self.visibility.0),
            ms(self.visibility.1)
        );
        println!("| handover when caught up (4 handovers): slowest until granted / until the new master writes / longest freeze | {} / {} / {} ms |",
            ms(self.handover.0), ms(self.handover.1), self.handover.2);
    }
}

/// Runs the replication benchmark on a fresh directory, removed afterwards.
pub async fn measure_replication(a: &BenchArgs) -> anyhow::Result<ReplicationFigures> {
    let dir = super::bench::scratch_dir("repl")?;
    bench(a, dir.path()).await
}

#[allow(
    clippy::too_many_lines,
    reason = "a benchmark script: its steps in the order they run"
)]
async fn bench(a: &BenchArgs, dir: &Path) -> anyhow::Result<ReplicationFigures> {
    let token = random_token();
    let (wb_port, rs_port) = (free_port()?, free_port()?);
    let env = dir.join("environment.toml");
    std::fs::write(&env, format!(
        "name = \"bench\"\nsecret = \"{}\"\ninitial_master = \"WB\"\n\n[[servers]]\ncode = \"WB\"\nrole = \"web\"\nurl = \"http://127.0.0.1:{wb_port}\"\n\n[[servers]]\ncode = \"RS\"\nrole = \"reservation\"\nurl = \"http://127.0.0.1:{rs_port}\"\n",
        random_token()
    ))?;
    let wb = start(dir, &env, "WB", wb_port, &token)?;
    let wb_api = Api::new(&wb.base, &token)?;
    let today = Utc::now().date_naive();
    wb_api
        .post_ok(
            "/api/v1/properties",
            json!({"code": "BNC", "name": "Bench", "timezone": "UTC", "currency": "EUR"}),
        )
        .await?;
    for t in 0..20 {
        wb_api
            .post_ok(
                "/api/v1/properties/BNC/room-types",
                json!({"code": format!("T{t:02}"), "name": "T", "max_occupancy": 2}),
            )
            .await?;
        let rooms = (0..50).map(|r| {
            let api = wb_api.clone();
            async move {
                api.post_ok(
                    "/api/v1/properties/BNC/rooms",
                    json!({"number": format!("{t:02}{r:03}"), "room_type": format!("T{t:02}")}),
                )
                .await
            }
        });
        for r in join_all(rooms).await {
            r?;
        }
    }
    // 1. Catch-up: RS is offline while WB writes; then RS starts and catches up.
    let bookings = a.offline_changes.div_ceil(2);
    println!(
        "writing {bookings} bookings (~{} changes) on WB while RS is offline",
        bookings * 2
    );
    let per_client = bookings.div_ceil(64);
    let writers = (0..64u64).map(|c| {
        let api = wb_api.clone();
        tokio::spawn(async move {
            for i in 0..per_client {
                let n = c * per_client + i;
                let arrival = today + Days::new(1 + n % 360);
                let body = json!({"property": "BNC", "room_type": format!("T{:02}", (n / 360) % 20), "arrival": arrival.to_string(),
                    "departure": (arrival + Days::new(1)).to_string(), "guest": {"name": "Offline guest"}});
                let (s, _) = api.call(Method::POST, "/api/v1/bookings", Some(&body)).await?;
                if s != StatusCode::CREATED && s != StatusCode::CONFLICT {
                    bail!("booking answered {s}");
                }
            }
            Ok(())
        })
    });
    for w in join_all(writers).await {
        w??;
    }
    let (_, wb_env) = wb_api.call(Method::GET, "/api/v1/digest", None).await?;
    let total: u64 = wb_env["records"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    let started = Instant::now();
    let rs = start(dir, &env, "RS", rs_port, &token)?;
    let rs_api = Api::new(&rs.base, &token)?;
    let wb_digest = wb_env["digest"].as_str().unwrap_or_default().to_string();
    // Caught up when RS's cursor for WB reaches WB's head, read from RS's file (a cheap
    // indexed read): polling RS's digest instead — a pass over the whole store every 2 ms —
    // took a core from the catch-up it measured. The digests are compared once after.
    let wb_head = innsync_store::ReadPool::new(wb.dir.join(innsync_store::DB_FILE))
        .cursors()?
        .get("WB")
        .copied()
        .unwrap_or(0);
    let rs_file = rs.dir.join(innsync_store::DB_FILE);
    let mut rs_reads: Option<innsync_store::ReadPool> = None;
    wait_until("RS to catch up", Duration::from_secs(600), async || {
        if rs_reads.is_none() && rs_file.exists() {
            rs_reads = Some(innsync_store::ReadPool::new(rs_file.clone()));
        }
        let have = rs_reads
            .as_ref()
            .and_then(|r| r.cursors().ok())
            .and_then(|c| c.get("WB").copied())
            .unwrap_or(0);
        Ok(have >= wb_head)
    })
    .await?;
    let catch_up = started.elapsed();
    wait_until(
        "RS's digest to equal WB's",
        Duration::from_secs(30),
        async || {
            let (s, d) = rs_api.call(Method::GET, "/api/v1/digest", None).await?;
            Ok(s.is_success() && d["digest"].as_str() == Some(wb_digest.as_str()))
        },
    )
    .await?;
    // How far RS has WB's log: the changes it applied to catch up (the environment view
    // shows what is still behind, which is nothing now).
    let applied = innsync_store::ReadPool::new(rs.dir.join(innsync_store::DB_FILE))
        .cursors()?
        .get("WB")
        .copied()
        .unwrap_or(0);
    // 2. Visibility: one booking at a time on WB, polled on RS until it is there.
    let mut vis = Vec::new();
    for i in 0..300u64 {
        let arrival = today + Days::new(1 + i % 300);
        let body = json!({"property": "BNC", "room_type": "T19", "arrival": arrival.to_string(),
            "departure": (arrival + Days::new(1)).to_string(), "guest": {"name": "Visible guest"}});
        let (s, b) = wb_api
            .call(Method::POST, "/api/v1/bookings", Some(&body))
            .await?;
        if s != StatusCode::CREATED {
            continue;
        }
        let acked = Instant::now();
        let r = b["reference"].as_str().context("reference")?.to_string();
        let path = format!("/api/v1/bookings/{r}");
        loop {
            let (s, _) = rs_api.call(Method::GET, &path, None).await?;
            if s.is_success() {
                vis.push(acked.elapsed());
                break;
            }
            if acked.elapsed() > Duration::from_secs(10) {
                bail!("{r} not visible on RS after 10 s");
            }
        }
    }
    vis.sort();
    let pct = |p: f64| vis[((vis.len() as f64 - 1.0) * p).round() as usize];
    // 3. Handover when caught up, and back.
    let mut hand = Vec::new();
    for (from, to, target) in [
        (&wb_api, "RS", &rs_api),
        (&rs_api, "WB", &wb_api),
        (&wb_api, "RS", &rs_api),
        (&rs_api, "WB", &wb_api),
    ] {
        let t0 = Instant::now();
        let (s, b) = from
            .call(
                Method::POST,
                "/api/v1/environment/handover",
                Some(&json!({"to": to})),
            )
            .await?;
        if !s.is_success() {
            bail!("handover to {to}: {s} {}", b["detail"]);
        }
        let granted = t0.elapsed();
        // Until the new master knows it is master (it learns the grant by replication).
        wait_until("the new master", Duration::from_secs(30), async || {
            let (_, e) = target
                .call(Method::GET, "/api/v1/environment", None)
                .await?;
            Ok(e["state"] == "master")
        })
        .await?;
        hand.push((granted, t0.elapsed(), b["frozen_ms"].as_u64().unwrap_or(0)));
    }
    let worst_grant = hand.iter().map(|h| h.0).max().unwrap_or_default();
    let worst_total = hand.iter().map(|h| h.1).max().unwrap_or_default();
    let longest_freeze = hand.iter().map(|h| h.2).max().unwrap_or(0);
    drop(rs);
    drop(wb);
    Ok(ReplicationFigures {
        records: total,
        caught_up: applied,
        catch_up,
        visible: vis.len(),
        visibility: (pct(0.5), pct(0.99)),
        handover: (worst_grant, worst_total, longest_freeze),
    })
}

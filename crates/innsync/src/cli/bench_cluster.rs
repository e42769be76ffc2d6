//! `innsync bench cluster`: an HA cluster of three real server processes on loopback, and one
//! single server beside it. Measures failover (kill -9 of the leader → first acknowledged
//! write on the new leader), write throughput and latency of the cluster against the single
//! server, and backup and restore speed (MB/s) of the resulting database.

use super::bench::{spawn_server_with, BenchArgs, ServerProcess};
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, Utc};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SECRET: &str = "innsync benchmark cluster secret";

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One node of a benchmark cluster (also the regions bench's).
pub(super) struct Node {
    pub(super) dir: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) base: String,
    pub(super) process: Option<ServerProcess>,
}

impl Node {
    pub(super) fn spawn(&mut self, token: &str) -> anyhow::Result<()> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.process = Some(spawn_server_with(&self.dir, token, &args)?);
        Ok(())
    }
}

fn cluster_nodes(dir: &Path, settings: &[String]) -> anyhow::Result<Vec<Node>> {
    let ports = [free_port()?, free_port()?, free_port()?];
    let peers = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=http://127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    Ok((1..=3)
        .map(|id| {
            let mut args = vec![
                "--server".to_string(),
                "WB".into(),
                "--listen".into(),
                format!("127.0.0.1:{}", ports[id - 1]),
                "--cluster-node".into(),
                id.to_string(),
                "--cluster-peers".into(),
                peers.clone(),
                "--cluster-secret".into(),
                SECRET.into(),
            ];
            if id == 1 {
                args.push("--cluster-bootstrap".into());
            }
            for s in settings {
                args.push("--setting".into());
                args.push(s.clone());
            }
            Node {
                dir: dir.join(format!("node{id}")),
                args,
                base: format!("http://127.0.0.1:{}", ports[id - 1]),
                process: None,
            }
        })
        .collect())
}

pub(super) async fn leader(
    http: &reqwest::Client,
    nodes: &[Node],
    limit: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + limit;
    loop {
        for (i, n) in nodes.iter().enumerate() {
            if n.process.is_none() {
                continue;
            }
            if let Ok(r) = http.get(format!("{}/readyz", n.base)).send().await {
                if r.status() == StatusCode::OK {
                    return Ok(i);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("no leader within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One failover as a client sees it: the leader killed (-9), then bookings through the
/// survivors, `first_id` on, until one is acknowledged.
pub(super) struct Failover {
    /// From the kill to the first acknowledged write.
    pub took: Duration,
    /// The node killed.
    pub old: usize,
    /// The node leading after.
    pub elected: usize,
}

/// Kills the leader and times the first write acknowledged through a surviving node (at most
/// 30 s), then finds the new leader.
pub(super) async fn fail_over(
    http: &reqwest::Client,
    nodes: &mut [Node],
    token: &str,
    first_id: u64,
) -> anyhow::Result<Failover> {
    let old = leader(http, nodes, Duration::from_secs(20)).await?;
    let survivors: Vec<usize> = (0..nodes.len()).filter(|i| *i != old).collect();
    nodes[old].process = None; // kill -9 (the process is killed when dropped)
    let killed = Instant::now();
    let mut i = first_id;
    let took = 'acked: loop {
        for s in &survivors {
            i += 1;
            let sent = http
                .post(format!("{}/api/v1/bookings", nodes[*s].base))
                .bearer_auth(token)
                .json(&booking(i))
                .send()
                .await;
            if matches!(sent, Ok(r) if r.status() == StatusCode::CREATED) {
                break 'acked killed.elapsed();
            }
        }
        if killed.elapsed() > Duration::from_secs(30) {
            bail!("no write acknowledged within 30 s of the leader's death");
        }
    };
    let elected = leader(http, nodes, Duration::from_secs(20)).await?;
    Ok(Failover { took, old, elected })
}

/// Restarts the node a failover killed and waits until it has caught up with the leader: a
/// failover whose only other survivor is still catching up measures the catch-up, not the
/// election.
pub(super) async fn bring_back(
    nodes: &mut [Node],
    token: &str,
    f: &Failover,
) -> anyhow::Result<()> {
    nodes[f.old].spawn(token)?;
    let back = Api::new(&nodes[f.old].base, token)?;
    wait_admin(&back).await?;
    let lead = Api::new(&nodes[f.elected].base, token)?;
    caught_up(&back, &lead).await
}

pub(super) async fn seed(api: &Api) -> anyhow::Result<()> {
    api.post_ok(
        "/api/v1/properties",
        json!({"code": "BNC", "name": "Bench Hotel", "timezone": "UTC", "currency": "EUR"}),
    )
    .await?;
    for t in 0..20 {
        let code = format!("T{t:02}");
        api.post_ok(
            "/api/v1/properties/BNC/room-types",
            json!({"code": code, "name": code, "max_occupancy": 2}),
        )
        .await?;
        for r in 0..50 {
            api.post_ok(
                "/api/v1/properties/BNC/rooms",
                json!({"number": format!("{t:02}{r:02}"), "room_type": code}),
            )
            .await?;
        }
    }
    Ok(())
}

pub(super) fn booking(i: u64) -> serde_json::Value {
    let today = Utc::now().date_naive();
    let arrival = today + Days::new(1 + i % 360);
    json!({"property": "BNC", "room_type": format!("T{:02}", (i / 360) % 20),
           "arrival": arrival.to_string(), "departure": (arrival + Days::new(1)).to_string(),
           "units": 1, "guest": {"name": format!("Guest {i}")}})
}

/// `clients` clients booking for `seconds` through `api`: (bookings/s, p50, p99).
async fn load(api: &Api, clients: usize, seconds: u64, offset: u64) -> (f64, Duration, Duration) {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks = (0..clients as u64).map(|c| {
        let api = api.clone();
        async move {
            let mut lat = Vec::new();
            let mut i = offset + c;
            while Instant::now() < until {
                let t = Instant::now();
                if let Ok((s, _)) = api
                    .call(Method::POST, "/api/v1/bookings", Some(&booking(i)))
                    .await
                {
                    if s == StatusCode::CREATED {
                        lat.push(t.elapsed());
                    }
                }
                i += clients as u64;
            }
            lat
        }
    });
    let mut all: Vec<Duration> = join_all(tasks).await.into_iter().flatten().collect();
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    (all.len() as f64 / secs, pct(0.5), pct(0.99))
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    measure_cluster(a).await.map(|_| ())
}

/// What the cluster benchmark measured (it prints as it goes; `bench all` tabulates these).
pub struct ClusterFigures {
    /// Bookings/s through the leader, p50, p99.
    pub leader: (f64, Duration, Duration),
    /// Failovers measured, and the min / median / max until the first write was acknowledged.
    pub failover: Option<(usize, Duration, Duration, Duration)>,
}

/// Runs the cluster benchmark on a fresh directory, removed afterwards.
pub async fn measure_cluster(a: &BenchArgs) -> anyhow::Result<ClusterFigures> {
    let dir = super::bench::scratch_dir("cluster")?;
    bench(a, dir.path()).await
}

#[allow(
    clippy::too_many_lines,
    reason = "a benchmark script: its steps in the order they run"
)]
async fn bench(a: &BenchArgs, dir: &Path) -> anyhow::Result<ClusterFigures> {
    let token = random_token();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?;
    // A single server, for comparison.
    let single = spawn_server_with(
        &dir.join("single"),
        &token,
        &["--listen", "127.0.0.1:0", "--server", "WB"],
    )?;
    let sapi = Api::new(
        &format!("http://{}", single.base.trim_start_matches("http://")),
        &token,
    )?;
    seed(&sapi).await.context("seeding the single server")?;
    let (s_rate, s_p50, s_p99) = load(&sapi, a.clients, a.seconds, 0).await;
    println!(
        "single server: {s_rate:.0} bookings/s, p50 {}, p99 {} ({} clients)",
        ms(s_p50),
        ms(s_p99),
        a.clients
    );
    let single_db = single.dir.join(innsync_store::DB_FILE);
    // The cluster.
    let mut nodes = cluster_nodes(&dir.join("cluster"), &a.node_settings)?;
    for n in &mut nodes {
        n.spawn(&token)?;
    }
    let l = leader(&http, &nodes, Duration::from_secs(20)).await?;
    let lapi = Api::new(&nodes[l].base, &token)?;
    wait_admin(&lapi).await?;
    seed(&lapi).await.context("seeding the cluster")?;
    let (c_rate, c_p50, c_p99) = load(&lapi, a.clients, a.seconds, 0).await;
    println!(
        "cluster leader: {c_rate:.0} bookings/s, p50 {}, p99 {} ({:.0}% of the single server)",
        ms(c_p50),
        ms(c_p99),
        100.0 * c_rate / s_rate.max(1.0)
    );
    let f = (l + 1) % 3;
    let fapi = Api::new(&nodes[f].base, &token)?;
    let (f_rate, f_p50, f_p99) = load(&fapi, a.clients, a.seconds, 1_000_000).await;
    println!(
        "cluster via a follower (relayed): {f_rate:.0} bookings/s, p50 {}, p99 {}",
        ms(f_p50),
        ms(f_p99)
    );
    // Failover, several runs.
    let mut times = Vec::new();
    for run in 0..a.failovers {
        let f = fail_over(&http, &mut nodes, &token, 2_000_000 + run as u64 * 10_000).await?;
        println!(
            "failover {}: first write acknowledged {} after kill -9 (new leader node {})",
            run + 1,
            ms(f.took),
            f.elected + 1
        );
        times.push(f.took);
        bring_back(&mut nodes, &token, &f).await?;
    }
    times.sort();
    let failover = match (times.first(), times.last()) {
        (Some(min), Some(max)) => Some((times.len(), *min, times[times.len() / 2], *max)),
        _ => None,
    };
    if let (Some(min), Some(max)) = (times.first(), times.last()) {
        println!(
            "failover over {} runs: min {}, median {}, max {}",
            times.len(),
            ms(*min),
            ms(times[times.len() / 2]),
            ms(*max)
        );
    }
    drop(nodes);
    // Backup and restore of the single server's database (it kept running until now).
    let bytes = std::fs::metadata(&single_db)?.len() as f64;
    let backup_dir = dir.join("backup");
    let t = Instant::now();
    let m = innsync_store::backup::create(&single_db, &backup_dir, Utc::now())?;
    let b_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    innsync_store::backup::verify(&backup_dir)?;
    let v_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    innsync_store::backup::restore(&backup_dir, &dir.join("restored"), None, None)?;
    let r_secs = t.elapsed().as_secs_f64();
    drop(single);
    let mb = m.bytes as f64 / 1e6;
    println!(
        "backup: {mb:.1} MB (live file {:.1} MB) in {b_secs:.2} s = {:.0} MB/s; verify {:.0} MB/s; restore {:.0} MB/s",
        bytes / 1e6,
        mb / b_secs,
        mb / v_secs,
        mb / r_secs
    );
    Ok(ClusterFigures {
        leader: (c_rate, c_p50, c_p99),
        failover,
    })
}

pub(super) async fn wait_admin(api: &Api) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((s, _)) = api.call(Method::GET, "/api/v1/me", None).await {
            if s == StatusCode::OK {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the admin token was not accepted within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node` has applied everything `leader` had applied when asked.
pub(super) async fn caught_up(node: &Api, leader: &Api) -> anyhow::Result<()> {
    let (_, l) = leader.call(Method::GET, "/api/v1/cluster", None).await?;
    let target = l["last_applied"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, n) = node.call(Method::GET, "/api/v1/cluster", None).await?;
        if n["last_applied"].as_u64().unwrap_or(0) >= target {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the restarted node did not catch up within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

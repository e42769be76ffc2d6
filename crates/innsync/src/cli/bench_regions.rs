//! `innsync bench regions`: a three-node cluster whose nodes sit in three regions, A, B and C,
//! with round trips of 50 ms (A–B), 100 ms (A–C) and 150 ms (B–C) between them — a fault proxy
//! with a fixed delay on every directed Raft link (half the round trip each way; the kernel's
//! `netem` is missing on the machines this runs on). Node 1 (region A) starts as the leader,
//! near the writers. Measures write latency (p50/p99) for a client next to the leader and for
//! clients next to the followers (their writes are relayed to the leader), what a reader in
//! region C sees (how long until a write made in A is visible there, a local read, a
//! consistent read), and failover after kill -9 of the leader (time to the first write
//! acknowledged through a surviving node, and which region leads after).
//!
//! Leader placement: `--prefer-node N` gives node N shorter election timeouts than the others
//! (the only bias openraft 0.9 offers without a leadership transfer; see docs/BENCHMARKS.md),
//! and the failover lines say where the leadership went.

use super::bench::BenchArgs;
use super::bench_cluster::{booking, bring_back, fail_over, leader, seed, wait_admin, Node};
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use innsync_faultproxy::{Proxy, ProxyHandle};
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const SECRET: &str = "innsync benchmark regions secret";

/// Round trips between the regions of nodes 1, 2 and 3 (A, B, C), in milliseconds.
const RTT_MS: [((usize, usize), u64); 3] = [((0, 1), 50), ((0, 2), 100), ((1, 2), 150)];

/// How long a write made on the leader may take to show on a follower before the bench gives up.
const VISIBILITY_LIMIT: Duration = Duration::from_secs(10);

/// Writes whose visibility in region C is measured.
const VISIBILITY_SAMPLES: u64 = 60;

const REGIONS: [&str; 3] = ["A", "B", "C"];

/// The cluster settings for regions (before `--node-setting`, which may override them). With
/// the defaults (100 ms heartbeat) a follower 100 ms away never catches up: openraft gives
/// every AppendEntries the heartbeat interval as its timeout, shorter than the round trip. So
/// the heartbeat is twice the longest round trip, and the election timeouts and the ready age
/// keep the defaults' proportions above it.
/// Each `--setting` is checked alone against the defaults when the command line is read, so
/// every value here is also valid on its own.
const REGION_SETTINGS: [&str; 4] = [
    "cluster_election_max=2000ms",
    "cluster_election_min=900ms",
    "cluster_heartbeat=300ms",
    "cluster_ready_quorum_age=700ms",
];

/// What `--prefer-node` gives the preferred node: election timeouts below the others'.
const PREFERRED_SETTINGS: [&str; 3] = [
    "cluster_ready_quorum_age=500ms",
    "cluster_election_min=600ms",
    "cluster_election_max=900ms",
];

fn rtt(a: usize, b: usize) -> u64 {
    RTT_MS
        .iter()
        .find(|((x, y), _)| (*x, *y) == (a.min(b), a.max(b)))
        .map_or(0, |(_, ms)| *ms)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// The three nodes, each reaching the others through its own delayed proxies.
async fn region_nodes(
    dir: &Path,
    a: &BenchArgs,
) -> anyhow::Result<(Vec<Node>, BTreeMap<(usize, usize), ProxyHandle>)> {
    let ports = [
        super::bench::free_port()?,
        super::bench::free_port()?,
        super::bench::free_port()?,
    ];
    let mut links = BTreeMap::new();
    for from in 0..3 {
        for (to, port) in ports.iter().enumerate() {
            if from != to {
                let upstream = format!("127.0.0.1:{port}").parse()?;
                links.insert((from, to), Proxy::start("127.0.0.1:0", upstream).await?);
            }
        }
    }
    let nodes = (0..3)
        .map(|id| {
            let peers = (0..3)
                .map(|to| {
                    let port = if to == id {
                        ports[id]
                    } else {
                        links[&(id, to)].addr().port()
                    };
                    format!("{}=http://127.0.0.1:{port}", to + 1)
                })
                .collect::<Vec<_>>()
                .join(",");
            let mut args = vec![
                "--server".to_string(),
                "WB".into(),
                "--listen".into(),
                format!("127.0.0.1:{}", ports[id]),
                "--cluster-node".into(),
                (id + 1).to_string(),
                "--cluster-peers".into(),
                peers,
                "--cluster-secret".into(),
                SECRET.into(),
            ];
            if id == 0 {
                args.push("--cluster-bootstrap".into());
            }
            let mut settings: Vec<String> = REGION_SETTINGS.map(String::from).to_vec();
            if a.prefer_node == Some(id + 1) {
                settings.extend(PREFERRED_SETTINGS.map(String::from));
            }
            settings.extend(a.node_settings.iter().cloned());
            for s in settings {
                args.push("--setting".into());
                args.push(s);
            }
            Node {
                dir: dir.join(format!("node{}", id + 1)),
                args,
                base: format!("http://127.0.0.1:{}", ports[id]),
                process: None,
            }
        })
        .collect();
    Ok((nodes, links))
}

/// `clients` clients booking for `seconds` through `api`: every acknowledged write's latency.
async fn latencies(api: &Api, clients: usize, seconds: u64, offset: u64) -> Vec<Duration> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let tasks = (0..clients as u64).map(|c| {
        let api = api.clone();
        async move {
            let mut lat = Vec::new();
            let mut i = offset + c;
            while Instant::now() < until {
                let t = Instant::now();
                if let Ok((StatusCode::CREATED, _)) = api
                    .call(Method::POST, "/api/v1/bookings", Some(&booking(i)))
                    .await
                {
                    lat.push(t.elapsed());
                }
                i += clients as u64;
            }
            lat
        }
    });
    let mut all: Vec<Duration> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort();
    all
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = super::bench::scratch_dir("regions")?;
    bench(a, dir.path()).await
}

#[allow(
    clippy::too_many_lines,
    reason = "a benchmark script: its steps in the order they run"
)]
async fn bench(a: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    if a.prefer_node.is_some_and(|n| !(1..=3).contains(&n)) {
        bail!("--prefer-node takes 1, 2 or 3");
    }
    let token = random_token();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let (mut nodes, links) = region_nodes(dir, a).await?;
    for n in &mut nodes {
        n.spawn(&token)?;
    }
    let first = leader(&http, &nodes, Duration::from_secs(20)).await?;
    let lapi = Api::new(&nodes[first].base, &token)?;
    wait_admin(&lapi).await?;
    // Seeded on loopback speed, then the regions are put apart.
    seed(&lapi).await.context("seeding the cluster")?;
    for ((from, to), p) in &links {
        p.set_delay(Duration::from_millis(rtt(*from, *to) / 2));
    }
    println!(
        "regions: A–B {} ms, A–C {} ms, B–C {} ms round trip (fault proxies on the Raft links); \
         leader node {} (region {}); {} clients per measurement, {} s each",
        rtt(0, 1),
        rtt(0, 2),
        rtt(1, 2),
        first + 1,
        REGIONS[first],
        a.clients,
        a.seconds
    );
    // Writes from a client next to each node (a follower relays to the leader).
    for (k, offset) in [
        (first, 0u64),
        ((first + 1) % 3, 1_000_000),
        ((first + 2) % 3, 2_000_000),
    ] {
        let api = Api::new(&nodes[k].base, &token)?;
        let lat = latencies(&api, a.clients, a.seconds, offset).await;
        let rate = lat.len() as f64 / a.seconds.max(1) as f64;
        println!(
            "write from a client in region {} ({}): p50 {}, p99 {} ({rate:.0} bookings/s)",
            REGIONS[k],
            if k == first {
                "next to the leader".to_string()
            } else {
                format!("relayed, {} ms from the leader", rtt(k, first))
            },
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99))
        );
    }
    // What a reader in the farthest follower's region sees.
    let far = (0..3)
        .filter(|k| *k != first)
        .max_by_key(|k| rtt(*k, first))
        .unwrap_or((first + 1) % 3);
    let fapi = Api::new(&nodes[far].base, &token)?;
    let (mut visible, mut local, mut consistent) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..VISIBILITY_SAMPLES {
        let (s, v) = lapi
            .call(
                Method::POST,
                "/api/v1/bookings",
                Some(&booking(3_000_000 + i)),
            )
            .await?;
        if s != StatusCode::CREATED {
            continue;
        }
        let written = Instant::now();
        let path = format!(
            "/api/v1/bookings/{}",
            v["reference"].as_str().unwrap_or_default()
        );
        loop {
            let t = Instant::now();
            let (s, _) = fapi.call(Method::GET, &path, None).await?;
            local.push(t.elapsed());
            if s == StatusCode::OK {
                visible.push(written.elapsed());
                break;
            }
            if written.elapsed() > VISIBILITY_LIMIT {
                bail!(
                    "a write was not visible in region {} within {VISIBILITY_LIMIT:?}",
                    REGIONS[far]
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let t = Instant::now();
        let (s, _) = fapi
            .call(Method::GET, &format!("{path}?consistent=true"), None)
            .await?;
        if s == StatusCode::OK {
            consistent.push(t.elapsed());
        }
    }
    for v in [&mut visible, &mut local, &mut consistent] {
        v.sort();
    }
    println!(
        "reads in region {} ({} ms from the leader): a write acknowledged in {} is visible there \
         after p50 {}, p99 {}; a local read takes p50 {}; a consistent read (relayed to the \
         leader) p50 {}, p99 {}",
        REGIONS[far],
        rtt(far, first),
        REGIONS[first],
        ms(pct(&visible, 0.5)),
        ms(pct(&visible, 0.99)),
        ms(pct(&local, 0.5)),
        ms(pct(&consistent, 0.5)),
        ms(pct(&consistent, 0.99))
    );
    // Failover: kill -9 of the leader, the first write through a surviving node.
    let mut times = Vec::new();
    for run in 0..a.failovers {
        let f = fail_over(&http, &mut nodes, &token, 4_000_000 + run as u64 * 10_000).await?;
        println!(
            "failover {}: leader in region {} killed; first write acknowledged {} after; new \
             leader node {} (region {})",
            run + 1,
            REGIONS[f.old],
            ms(f.took),
            f.elected + 1,
            REGIONS[f.elected]
        );
        times.push(f.took);
        bring_back(&mut nodes, &token, &f).await?;
    }
    times.sort();
    if !times.is_empty() {
        println!(
            "failover over {} runs: min {}, median {}, max {}",
            times.len(),
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}

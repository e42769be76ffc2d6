//! `innsync bench`: starts a real server process on a temporary directory, loads it over HTTP
//! with concurrent clients, and prints booking throughput (durable commits), latency
//! percentiles and the time of an availability query for a large property.

use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, Utc};
use clap::Args;
use futures::future::join_all;
use innsync_core::dates::Nights;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// Options of `innsync bench`.
#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Seconds of booking load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Room types of the benchmark property.
    #[arg(long, default_value_t = 50)]
    pub room_types: usize,
    /// Rooms of each type.
    #[arg(long, default_value_t = 20)]
    pub rooms_per_type: usize,
    /// Seed of the random workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// What to measure: `bookings` (one server), `replication` (two servers), `queue` (the
    /// pending-operation queue towards a partner), `quote` (rate plans and the quote of a
    /// large property), `cluster` (a three-node HA cluster:
    /// failover, throughput against one node, backup and restore), `regions` (the cluster with
    /// 50–150 ms between its nodes: write latency per region, follower reads, failover), `all` (one table over
    /// every area, each in a reduced mode), `looktobook` (booking-engine reads with 1 booking
    /// per 1,000), `scale` (reads and a booking on stores of 10k and 100k bookings) or `links`
    /// (bytes on the peer link per booking and per idle second, visibility per link profile).
    #[arg(default_value = "bookings")]
    pub what: String,
    /// Changes written while the second server is offline (replication bench).
    #[arg(long, default_value_t = 100_000)]
    pub offline_changes: u64,
    /// Leader kills measured (cluster bench).
    #[arg(long, default_value_t = 5)]
    pub failovers: usize,
    /// A named setting for the cluster's nodes (`cluster_in_flight=8`; cluster and regions
    /// benches).
    #[arg(long = "node-setting")]
    pub node_settings: Vec<String>,
    /// The node (1–3) whose region should lead: it gets shorter election timeouts than the
    /// others (regions bench).
    #[arg(long)]
    pub prefer_node: Option<usize>,
    /// The link profile (`loopback`, `satellite`, `adsl` or `3g`; links bench). Every
    /// profile when not given.
    #[arg(long)]
    pub profile: Option<String>,
    /// The peer links' HTTP (links bench): `2` (HTTP/2 without asking first, as over TLS
    /// where ALPN picks it), `1.1`, or `both` (each profile with 1.1 then 2, side by side).
    #[arg(long, default_value = "2")]
    pub peer_http: String,
    /// Links bench: the outage is a busy office's day offline (3,000 bookings with their
    /// guests, a note on each, 300 cancelled: about 10k changes) instead of 1,000 one-night
    /// bookings, and the catch-up's bulk travels at the site's uplink rate.
    #[arg(long)]
    pub day_offline: bool,
    /// Links bench: only the outage's catch-up (no idle window, no visibility bookings).
    #[arg(long)]
    pub catch_up_only: bool,
}

/// A server process started for a benchmark or test, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Its base URL.
    pub base: String,
    /// Its data directory.
    pub dir: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `innsync serve` from this executable on a free loopback port.
pub fn spawn_server(dir: &Path, token: &str) -> anyhow::Result<ServerProcess> {
    spawn_server_with(dir, token, &["--listen", "127.0.0.1:0", "--server", "WB"])
}

/// Starts `innsync serve` with these arguments (besides the data directory).
/// A free port on 127.0.0.1 (for the benches' environment files).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `innsync serve` for server `code` of environment `env` on `port`, its data under `dir/code`,
/// with `extra` arguments.
pub fn start_in_environment(
    dir: &Path,
    env: &Path,
    code: &str,
    port: u16,
    token: &str,
    extra: &[&str],
) -> anyhow::Result<ServerProcess> {
    let listen = format!("127.0.0.1:{port}");
    let envs = env.display().to_string();
    let mut args = vec![
        "--environment",
        &envs,
        "--server",
        code,
        "--listen",
        &listen,
    ];
    args.extend_from_slice(extra);
    spawn_server_with(&dir.join(code), token, &args)
}

pub fn spawn_server_with(dir: &Path, token: &str, args: &[&str]) -> anyhow::Result<ServerProcess> {
    let exe = std::env::current_exe().context("finding the innsync executable")?;
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--data-dir".to_string(), dir.display().to_string()]);
    let launched = innsync_chaos::launch::serve(innsync_chaos::launch::Serve {
        binary: &exe,
        args: &all,
        token,
        log: "warn",
    })?;
    Ok(ServerProcess {
        child: launched.child,
        base: launched.addr,
        dir: dir.to_path_buf(),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A fresh directory for one benchmark's servers under the temp directory, removed when it
/// is dropped — after a failure too.
pub fn scratch_dir(name: &str) -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("innsync-bench-{name}-"))
        .tempdir()?)
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    super::init_logging("warn");
    match a.what.as_str() {
        "bookings" => {}
        "replication" => return super::bench_replication::run(&a).await,
        "queue" => return super::bench_queue::run(&a).await,
        "quote" => return super::bench_quote::run(&a).await,
        "cluster" => return super::bench_cluster::run(&a).await,
        "regions" => return super::bench_regions::run(&a).await,
        "all" => return super::bench_all::run(&a).await,
        "looktobook" => return super::bench_looktobook::run(&a).await,
        "scale" => return super::bench_scale::run(&a).await,
        "links" => return super::bench_links::run(&a).await,
        other => bail!(
            "unknown benchmark {other:?}: bookings, replication, queue, quote, cluster, regions, all, looktobook, scale or links"
        ),
    }
    let f = measure_bookings(&a).await?;
    f.print(&a);
    if f.errors > 0 {
        bail!("{} requests failed unexpectedly", f.errors);
    }
    Ok(())
}

/// What the bookings benchmark measured.
pub struct BookingFigures {
    /// Bookings confirmed (201).
    pub confirmed: usize,
    /// How long the load ran.
    pub elapsed: Duration,
    /// Confirmations per second.
    pub rate: f64,
    /// Booking latency p50 and p99.
    pub latency: (Duration, Duration),
    /// Refused for lack of rooms.
    pub full: u64,
    /// Anything else that went wrong.
    pub errors: u64,
    /// Availability query in the store, p50 and p99.
    pub store: (Duration, Duration),
    /// Availability over HTTP, p50 and p99.
    pub http: (Duration, Duration),
}

impl BookingFigures {
    fn print(&self, a: &BenchArgs) {
        println!();
        println!("| measure | value |");
        println!("|---|---|");
        println!(
            "| bookings confirmed (201) | {} in {:.1} s |",
            self.confirmed,
            self.elapsed.as_secs_f64()
        );
        println!(
            "| booking confirmations/s, durable, {} clients | {:.0} |",
            a.clients, self.rate
        );
        println!(
            "| booking latency p50 / p99 | {} / {} |",
            ms(self.latency.0),
            ms(self.latency.1)
        );
        println!(
            "| refused no_availability (409) / other errors | {} / {} |",
            self.full, self.errors
        );
        println!(
            "| availability {} types x 365 nights, store query p50 / p99 | {} / {} |",
            a.room_types,
            ms(self.store.0),
            ms(self.store.1)
        );
        println!(
            "| availability {} types x 365 nights, HTTP round trip p50 / p99 | {} / {} |",
            a.room_types,
            ms(self.http.0),
            ms(self.http.1)
        );
        println!("| invariants after the load | hold |");
    }
}

/// Starts a server on a fresh directory, loads it, measures, and removes the directory.
pub async fn measure_bookings(a: &BenchArgs) -> anyhow::Result<BookingFigures> {
    let dir = std::env::temp_dir().join(format!("innsync-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let token = random_token();
    let server = spawn_server(&dir, &token)?;
    let api = Api::new(&server.base, &token)?;
    let result = bench(a, &api, &server).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench(a: &BenchArgs, api: &Api, server: &ServerProcess) -> anyhow::Result<BookingFigures> {
    let today = Utc::now().date_naive();
    println!(
        "seeding: 1 property, {} room types x {} rooms",
        a.room_types, a.rooms_per_type
    );
    api.post_ok(
        "/api/v1/properties",
        json!({"code": "BNC", "name": "Bench Hotel", "timezone": "UTC", "currency": "EUR"}),
    )
    .await?;
    for t in 0..a.room_types {
        let code = format!("T{t:02}");
        api.post_ok(
            "/api/v1/properties/BNC/room-types",
            json!({"code": code, "name": format!("Type {t}"), "max_occupancy": 2}),
        )
        .await?;
        api.put_ok(&format!("/api/v1/properties/BNC/rates/{code}"), json!({"from": today.to_string(), "to": (today + Days::new(400)).to_string(), "amount": 10_000, "currency": "EUR"})).await?;
        let rooms = (0..a.rooms_per_type).map(|r| {
            let body = json!({"number": format!("{t:02}{r:03}"), "room_type": code});
            let api = api.clone();
            async move { api.post_ok("/api/v1/properties/BNC/rooms", body).await }
        });
        for r in join_all(rooms).await {
            r?;
        }
    }
    println!(
        "load: {} clients for {} s, 1-unit bookings of 1-3 nights over the next year",
        a.clients, a.seconds
    );
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let start = Instant::now();
    let tasks = (0..a.clients).map(|c| {
        let api = api.clone();
        let types = a.room_types;
        let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed * 1_000 + c as u64);
        tokio::spawn(async move {
            let (mut lat, mut full, mut errors) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let arrival = today + Days::new(rng.gen_range(1..360));
                let nights = rng.gen_range(1..=3);
                let body = json!({"property": "BNC", "room_type": format!("T{:02}", rng.gen_range(0..types)),
                    "arrival": arrival.to_string(), "departure": (arrival + Days::new(nights)).to_string(),
                    "guest": {"name": "Bench Guest"}});
                let t0 = Instant::now();
                match api.call(Method::POST, "/api/v1/bookings", Some(&body)).await {
                    Ok((StatusCode::CREATED, _)) => lat.push(t0.elapsed()),
                    Ok((StatusCode::CONFLICT, _)) => full += 1,
                    _ => errors += 1,
                }
            }
            (lat, full, errors)
        })
    });
    let mut lat = Vec::new();
    let (mut full, mut errors) = (0, 0);
    for r in join_all(tasks).await {
        let (l, f, e) = r?;
        lat.extend(l);
        full += f;
        errors += e;
    }
    let elapsed = start.elapsed();
    lat.sort();
    let rate = lat.len() as f64 / elapsed.as_secs_f64();
    // Availability: 50 room types x 365 nights, in the store and over HTTP.
    let nights = Nights::new(today, today + Days::new(365), 731).map_err(anyhow::Error::msg)?;
    let pool = innsync_store::ReadPool::new(server.dir.join(innsync_store::DB_FILE));
    let mut store_t = Vec::new();
    for _ in 0..30 {
        let t0 = Instant::now();
        let av = pool.availability("BNC", nights)?;
        store_t.push(t0.elapsed());
        assert_eq!(av.room_types.len(), a.room_types);
    }
    store_t.sort();
    let mut http_t = Vec::new();
    let path = format!(
        "/api/v1/availability?property=BNC&from={}&to={}",
        nights.from, nights.to
    );
    for _ in 0..30 {
        let t0 = Instant::now();
        let (s, _) = api.call(Method::GET, &path, None).await?;
        if !s.is_success() {
            bail!("availability answered {s}");
        }
        http_t.push(t0.elapsed());
    }
    http_t.sort();
    pool.check_invariants()
        .map_err(anyhow::Error::msg)
        .context("after the load")?;
    Ok(BookingFigures {
        confirmed: lat.len(),
        elapsed,
        rate,
        latency: (percentile(&lat, 0.5), percentile(&lat, 0.99)),
        full,
        errors,
        store: (percentile(&store_t, 0.5), percentile(&store_t, 0.99)),
        http: (percentile(&http_t, 0.5), percentile(&http_t, 0.99)),
    })
}

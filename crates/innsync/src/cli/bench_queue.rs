//! `innsync bench queue`: the pending-operation queue between two real server processes on
//! loopback — WB, whose distribution rule copies every new guest to a partner environment, and
//! SF, that partner. Measures how many operations a second the queue carries when it has a
//! backlog, and the age of its oldest open item under a steady load.

use super::bench::{free_port, start_in_environment, BenchArgs, ServerProcess};
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Guests written at once for the throughput figure.
const BACKLOG: usize = 2_000;
/// Guests a second during the steady load.
const STEADY_RATE: u64 = 100;
/// How long the steady load lasts.
const STEADY_FOR: Duration = Duration::from_secs(10);
/// How long any phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(300);

/// Queue settings quick enough that the bench measures the queue, not its idle waits.
const FAST_QUEUE: [&str; 8] = [
    "--setting",
    "pending_poll=20ms",
    "--setting",
    "pending_retry_min=20ms",
    "--setting",
    "pending_retry_max=100ms",
    "--setting",
    "pending_max_attempts=100000",
];

fn start(
    dir: &Path,
    env: &Path,
    code: &str,
    port: u16,
    token: &str,
) -> anyhow::Result<ServerProcess> {
    start_in_environment(dir, env, code, port, token, &FAST_QUEUE)
}

/// Open operations and the queue time of the oldest, in milliseconds.
async fn queue(api: &Api) -> anyhow::Result<(u64, Option<f64>)> {
    let (s, a) = api
        .call(Method::GET, "/api/v1/pending?limit=1", None)
        .await?;
    if !s.is_success() {
        bail!("reading the queue: {s}");
    }
    let oldest = a["oldest_created_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0
        });
    Ok((a["depth"].as_u64().unwrap_or(0), oldest))
}

async fn drained(api: &Api, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + PHASE_LIMIT;
    while queue(api).await?.0 > 0 {
        if Instant::now() > deadline {
            bail!("the queue did not drain ({what})");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn guest(api: &Api, i: usize) -> anyhow::Result<()> {
    api.post_ok(
        "/api/v1/guests",
        json!({"name": format!("Bench Guest {i}"), "email": format!("g{i}@bench.example")}),
    )
    .await
    .map(|_| ())
}

pub async fn run(_a: &BenchArgs) -> anyhow::Result<()> {
    let dir = super::bench::scratch_dir("queue")?;
    bench(dir.path()).await
}

async fn bench(dir: &Path) -> anyhow::Result<()> {
    let token = random_token();
    let (wb_port, sf_port) = (free_port()?, free_port()?);
    let kraal = dir.join("kraal.toml");
    let safari = dir.join("safari.toml");
    std::fs::write(&kraal, format!(
        "name = \"kraal\"\nsecret = \"{}\"\ninitial_master = \"WB\"\n\n[[servers]]\ncode = \"WB\"\nrole = \"web\"\nurl = \"http://127.0.0.1:{wb_port}\"\n\n[[partners]]\nname = \"safari\"\nurl = \"http://127.0.0.1:{sf_port}\"\ntoken = \"{token}\"\n\n[[rules]]\nname = \"guests-to-safari\"\nkind = \"guest\"\non = \"create\"\noperation = \"transfer\"\ntarget = \"partner:safari\"\nmode = \"independent_copy\"\nduplicates = \"new_id\"\n",
        random_token()
    ))?;
    std::fs::write(&safari, format!(
        "name = \"safari\"\nsecret = \"{}\"\ninitial_master = \"SF\"\n\n[[servers]]\ncode = \"SF\"\nrole = \"web\"\nurl = \"http://127.0.0.1:{sf_port}\"\n",
        random_token()
    ))?;
    let wb = start(dir, &kraal, "WB", wb_port, &token)?;
    let api = Api::new(&wb.base, &token)?;
    println!(
        "queue between two servers on loopback: every guest created on WB is copied to partner SF"
    );

    // 1. A backlog: the guests are written while SF is down, so the copies queue up; then SF
    //    starts and the queue is timed until it is empty.
    let writers = (0..BACKLOG).map(|i| {
        let api = api.clone();
        async move { guest(&api, i).await }
    });
    for chunk in join_all(writers).await {
        chunk.context("writing guests")?;
    }
    let deadline = Instant::now() + PHASE_LIMIT;
    while (queue(&api).await?.0 as usize) < BACKLOG {
        if Instant::now() > deadline {
            bail!("the copies were not all queued");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _sf = start(dir, &safari, "SF", sf_port, &token)?;
    let started = Instant::now();
    drained(&api, "backlog").await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "  backlog of {BACKLOG} copies, carried once the partner came up: {secs:.2} s — {:.0} operations/s",
        BACKLOG as f64 / secs
    );

    // 2. A steady load: the age of the oldest open operation, sampled while guests arrive at a
    //    fixed rate.
    let stop_at = Instant::now() + STEADY_FOR;
    let load = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut i = BACKLOG;
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / STEADY_RATE));
            while Instant::now() < stop_at {
                tick.tick().await;
                guest(&api, i).await?;
                i += 1;
            }
            anyhow::Ok(i - BACKLOG)
        })
    };
    let mut ages = vec![];
    let mut depths = vec![];
    while Instant::now() < stop_at {
        let (depth, oldest) = queue(&api).await?;
        ages.push(oldest.unwrap_or(0.0));
        depths.push(depth);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let written = load.await.context("load task")??;
    drained(&api, "steady load").await?;
    ages.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| ages[((ages.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "  steady load of {STEADY_RATE} operations/s for {} s ({written} written): oldest open item p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; depth max {}",
        STEADY_FOR.as_secs(),
        pick(0.5),
        pick(0.99),
        ages.last().copied().unwrap_or(0.0),
        depths.iter().max().copied().unwrap_or(0)
    );
    Ok(())
}

//! `innsync bench links`: what replication costs on the wire (issue 22). Two real server
//! processes, WB (master) and RS (an office), reach each other only through counting relays
//! (`innsync-faultproxy`), so every byte of the peer link — both pulls, requests and answers,
//! HTTP framing included — is counted. Per link profile: bytes per replicated booking with its
//! guest (made one at a time, each waited for on RS), an idle link's bytes per second, and how
//! soon a booking is visible on the other side (p50/p99).
//!
//! Profiles are the relay's delay per forwarded chunk (each direction), not a kernel shaper:
//! this machine's tests cannot assume network namespaces, so loss and bandwidth limits are not
//! modelled here — the figures say which ran.

use super::bench::{free_port, ms, start_in_environment, BenchArgs, ServerProcess};
use super::bench_replication::wait_until;
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::Days;
use innsync_faultproxy::{Proxy, ProxyHandle};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bookings made one at a time per profile.
const BOOKINGS: u64 = 40;
/// How long a booking may take to show on the other side before the bench gives up.
const VISIBLE_WITHIN: Duration = Duration::from_secs(30);

/// A link profile: a name and the relay's delay per chunk, each way.
struct Profile {
    name: &'static str,
    one_way: Duration,
}

const PROFILES: [Profile; 2] = [
    Profile {
        name: "loopback",
        one_way: Duration::ZERO,
    },
    Profile {
        name: "satellite latency (300 ms each way, no loss or rate limit)",
        one_way: Duration::from_millis(300),
    },
];

/// What one profile measured.
struct LinkFigures {
    profile: &'static str,
    bytes_per_booking: f64,
    idle_bytes_per_s: f64,
    visibility: (Duration, Duration),
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("innsync-bench-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    let mut result = Ok(());
    for p in &PROFILES {
        match measure(a, &dir.join(p.name.split(' ').next().unwrap_or("p")), p).await {
            Ok(f) => rows.push(f),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!("| profile | bytes per booking with its guest (both directions) | idle link, bytes/s | visibility WB → RS p50 / p99 |");
    println!("|---|---|---|---|");
    for f in &rows {
        println!(
            "| {} | {:.0} | {:.1} | {} / {} |",
            f.profile,
            f.bytes_per_booking,
            f.idle_bytes_per_s,
            ms(f.visibility.0),
            ms(f.visibility.1)
        );
    }
    result
}

fn total(p: &[&ProxyHandle]) -> u64 {
    p.iter()
        .map(|h| {
            let s = h.stats();
            s.bytes_up + s.bytes_down
        })
        .sum()
}

async fn measure(a: &BenchArgs, dir: &Path, profile: &Profile) -> anyhow::Result<LinkFigures> {
    std::fs::create_dir_all(dir)?;
    let token = random_token();
    let (wb_port, rs_port) = (free_port()?, free_port()?);
    let upstream = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let to_wb = Proxy::start("127.0.0.1:0", upstream(wb_port)).await?;
    let to_rs = Proxy::start("127.0.0.1:0", upstream(rs_port)).await?;
    let env = dir.join("environment.toml");
    std::fs::write(&env, format!(
        "name = \"links\"\nsecret = \"{}\"\ninitial_master = \"WB\"\n\n[[servers]]\ncode = \"WB\"\nrole = \"web\"\nurl = \"http://{}\"\n\n[[servers]]\ncode = \"RS\"\nrole = \"reservation\"\nurl = \"http://{}\"\n",
        random_token(), to_wb.addr(), to_rs.addr()
    ))?;
    // The night audit's first check writes each server's business day; run it at once, so the
    // idle window sees only the steady state.
    let quick_audit = ["--setting", "night_audit_check=1s"];
    let wb = start_in_environment(dir, &env, "WB", wb_port, &token, &quick_audit)?;
    let rs = start_in_environment(dir, &env, "RS", rs_port, &token, &quick_audit)?;
    let (wb_api, rs_api) = (Api::new(&wb.base, &token)?, Api::new(&rs.base, &token)?);
    wb_api
        .post_ok(
            "/api/v1/properties",
            json!({"code": "LNK", "name": "Link Lodge", "timezone": "UTC", "currency": "EUR"}),
        )
        .await?;
    wb_api
        .post_ok(
            "/api/v1/properties/LNK/room-types",
            json!({"code": "STD", "name": "Standard", "max_occupancy": 2}),
        )
        .await?;
    let today = chrono::Utc::now().date_naive();
    wb_api
        .put_ok(
            "/api/v1/properties/LNK/rates/STD",
            json!({"from": today.to_string(), "to": (today + Days::new(400)).to_string(), "amount": 120_000, "currency": "EUR"}),
        )
        .await?;
    for r in 0..10 {
        wb_api
            .post_ok(
                "/api/v1/properties/LNK/rooms",
                json!({"number": format!("{}", 100 + r), "room_type": "STD"}),
            )
            .await?;
    }
    // Both business days written and held by both servers (RS writes nothing else).
    wait_until(
        "the first night audits on both servers",
        VISIBLE_WITHIN,
        async || {
            let mut held = true;
            for s in [&wb, &rs] {
                let pool = innsync_store::ReadPool::new(s.dir.join(innsync_store::DB_FILE));
                for day in ["LNK/WB", "LNK/RS"] {
                    held &= pool.record("business_day", day)?.is_some();
                }
            }
            Ok(held)
        },
    )
    .await?;
    caught_up(&wb_api, &rs_api).await?;
    to_wb.set_delay(profile.one_way);
    to_rs.set_delay(profile.one_way);
    let links = [&to_wb, &to_rs];
    // Idle: nothing written; what the two long-polls cost.
    // Long enough for several long-polls of each side (`--seconds` × 6).
    let idle_for = Duration::from_secs(a.seconds.max(1) * 6);
    let before = heads(&wb, &rs)?;
    let (b0, t0) = (total(&links), Instant::now());
    tokio::time::sleep(idle_for).await;
    let idle = (total(&links) - b0) as f64 / t0.elapsed().as_secs_f64();
    let after = heads(&wb, &rs)?;
    if after != before {
        println!(
            "{}: the idle link carried changes (WB's log {} → {}, RS's {} → {})",
            profile.name, before.0, after.0, before.1, after.1
        );
    }
    // Bookings, one at a time, each waited for on RS.
    let b0 = total(&links);
    let mut vis = Vec::new();
    for i in 0..BOOKINGS {
        let arrival = today + Days::new(1 + i % 300);
        let body = json!({"property": "LNK", "room_type": "STD", "arrival": arrival.to_string(),
            "departure": (arrival + Days::new(2)).to_string(),
            "guest": {"name": format!("Guest {i} Mokoena"), "email": format!("guest{i}@example.co.za"), "phone": "+27 82 555 0101"}});
        let (s, b) = wb_api
            .call(Method::POST, "/api/v1/bookings", Some(&body))
            .await?;
        if s != StatusCode::CREATED {
            bail!("booking {i} answered {s}: {b}");
        }
        let acked = Instant::now();
        let r = b["reference"].as_str().context("reference")?;
        visible(&rs_api, &format!("/api/v1/bookings/{r}")).await?;
        vis.push(acked.elapsed());
    }
    let per_booking = (total(&links) - b0) as f64 / BOOKINGS as f64;
    vis.sort();
    let pct = |p: f64| vis[((vis.len() as f64 - 1.0) * p).round() as usize];
    drop(rs);
    drop(wb);
    Ok(LinkFigures {
        profile: profile.name,
        bytes_per_booking: per_booking,
        idle_bytes_per_s: idle,
        visibility: (pct(0.5), pct(0.99)),
    })
}

/// How much of WB's log RS holds, and of RS's log WB holds.
fn heads(wb: &ServerProcess, rs: &ServerProcess) -> anyhow::Result<(u64, u64)> {
    let c = innsync_store::ReadPool::new(rs.dir.join(innsync_store::DB_FILE)).cursors()?;
    let w = innsync_store::ReadPool::new(wb.dir.join(innsync_store::DB_FILE)).cursors()?;
    Ok((
        c.get("WB").copied().unwrap_or(0),
        w.get("RS").copied().unwrap_or(0),
    ))
}

/// Waits (bounded) until `rs` holds what `wb` holds (equal digests).
async fn caught_up(wb: &Api, rs: &Api) -> anyhow::Result<()> {
    let (_, d) = wb.call(Method::GET, "/api/v1/digest", None).await?;
    let want = d["digest"].as_str().context("digest")?.to_string();
    wait_until("RS to catch up with WB", VISIBLE_WITHIN, async || {
        let (s, d) = rs.call(Method::GET, "/api/v1/digest", None).await?;
        Ok(s.is_success() && d["digest"].as_str() == Some(want.as_str()))
    })
    .await
}

/// Waits (bounded) until `path` answers 2xx on `api`.
async fn visible(api: &Api, path: &str) -> anyhow::Result<()> {
    wait_until(path, VISIBLE_WITHIN, async || {
        Ok(api.call(Method::GET, path, None).await?.0.is_success())
    })
    .await
}

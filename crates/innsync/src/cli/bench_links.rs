//! `innsync bench links`: what replication costs and how it behaves on poor links (issue 22).
//! Two real server processes, WB (master) and RS (an office, the remote site), reach each
//! other only through counting relays (`innsync-faultproxy`), so every byte of the peer link —
//! both pulls, requests and answers, HTTP framing included — is counted. The relays shape the
//! link as a named profile (`--profile satellite|adsl|3g|loopback`; every one when not given):
//! token-bucket rate, delay with jitter, loss as TCP stalls, drop-outs — modelled in the proxy,
//! not by the kernel's `netem`, which this machine lacks. Per profile: bytes per replicated
//! booking with its guest (made one at a time, each waited for on RS), an idle link's bytes per
//! second, how soon a booking made on WB is visible on RS (p50/p99), and the catch-up after an
//! outage during which WB wrote [`OUTAGE_BOOKINGS`] bookings (scaled down from a day's).

use super::bench::{free_port, ms, start_in_environment, BenchArgs, ServerProcess};
use super::bench_replication::wait_until;
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, NaiveDate};
use futures::future::join_all;
use innsync_faultproxy::{profile, LinkProfile, Proxy, ProxyHandle, Site};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bookings made one at a time per profile.
const BOOKINGS: u64 = 40;
/// Bookings WB writes while the link is cut (about two changes each: the guest, the booking).
const OUTAGE_BOOKINGS: u64 = 1_000;
/// Rooms of the bench property: room for the outage's one-night bookings over 300 nights.
const ROOMS: u64 = 20;
/// How long a booking may take to show on the other side before the bench gives up (a 3G
/// drop-out lasts 30 s).
const VISIBLE_WITHIN: Duration = Duration::from_secs(120);
/// How long the catch-up may take before the bench gives up.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(600);
/// Seed of the relays' jitter and loss.
const SEED: u64 = 22;

/// What one profile measured.
struct LinkFigures {
    profile: &'static str,
    /// The peer links' HTTP version.
    http: &'static str,
    bytes_per_booking: f64,
    idle_bytes_per_s: f64,
    visibility: (Duration, Duration),
    /// Changes RS applied after the outage, how long that took, and the bytes it cost.
    catch_up: (u64, Duration, u64),
    /// Stalls (simulated lost segments) and drop-outs the relays applied.
    events: (u64, u64),
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let profiles: Vec<LinkProfile> = match &a.profile {
        None => profile::PROFILES.to_vec(),
        Some(name) => vec![LinkProfile::by_name(name).with_context(|| {
            format!("unknown link profile {name:?}: loopback, satellite, adsl or 3g")
        })?],
    };
    let versions: &[&'static str] = match a.peer_http.as_str() {
        "2" => &["2"],
        "1.1" => &["1.1"],
        "both" => &["1.1", "2"],
        other => bail!("--peer-http {other:?}: 2, 1.1 or both"),
    };
    let dir = std::env::temp_dir().join(format!("innsync-bench-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    let mut result = Ok(());
    'profiles: for p in &profiles {
        for http in versions {
            eprintln!("profile {} over HTTP/{http}", p.name);
            let at = dir.join(format!("{}-http{http}", p.name));
            match measure(a, &at, p, http).await {
                Ok(f) => rows.push(f),
                Err(e) => {
                    result = Err(e);
                    break 'profiles;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!("| profile | peer HTTP | bytes per booking with its guest (both directions) | idle link, bytes/s | visibility WB → RS p50 / p99 | catch-up after the outage | stalls / drop-outs |");
    println!("|---|---|---|---|---|---|---|");
    for f in &rows {
        let (changes, took, bytes) = f.catch_up;
        println!(
            "| {} | {} | {:.0} | {:.1} | {} / {} | {changes} changes in {:.1} s, {:.0} KB ({:.0} B/change) | {} / {} |",
            f.profile,
            f.http,
            f.bytes_per_booking,
            f.idle_bytes_per_s,
            ms(f.visibility.0),
            ms(f.visibility.1),
            took.as_secs_f64(),
            bytes as f64 / 1000.0,
            bytes as f64 / changes.max(1) as f64,
            f.events.0,
            f.events.1
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

/// The bench property on WB: one room type, [`ROOMS`] rooms, a rate for 400 nights.
async fn furnish(wb: &Api, today: NaiveDate) -> anyhow::Result<()> {
    wb.post_ok(
        "/api/v1/properties",
        json!({"code": "LNK", "name": "Link Lodge", "timezone": "UTC", "currency": "EUR"}),
    )
    .await?;
    wb.post_ok(
        "/api/v1/properties/LNK/room-types",
        json!({"code": "STD", "name": "Standard", "max_occupancy": 2}),
    )
    .await?;
    wb.put_ok(
        "/api/v1/properties/LNK/rates/STD",
        json!({"from": today.to_string(), "to": (today + Days::new(400)).to_string(), "amount": 120_000, "currency": "EUR"}),
    )
    .await?;
    for r in 0..ROOMS {
        wb.post_ok(
            "/api/v1/properties/LNK/rooms",
            json!({"number": format!("{}", 100 + r), "room_type": "STD"}),
        )
        .await?;
    }
    Ok(())
}

#[allow(
    clippy::too_many_lines,
    reason = "a benchmark script: its steps in the order they run"
)]
async fn measure(
    a: &BenchArgs,
    dir: &Path,
    profile: &LinkProfile,
    http: &'static str,
) -> anyhow::Result<LinkFigures> {
    std::fs::create_dir_all(dir)?;
    let token = random_token();
    let (wb_port, rs_port) = (free_port()?, free_port()?);
    let upstream = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    // RS pulls WB through `to_wb` (RS, the site, is its client); WB pulls RS through `to_rs`.
    let to_wb = Proxy::start("127.0.0.1:0", upstream(wb_port)).await?;
    let to_rs = Proxy::start("127.0.0.1:0", upstream(rs_port)).await?;
    let env = dir.join("environment.toml");
    std::fs::write(&env, format!(
        "name = \"links\"\nsecret = \"{}\"\ninitial_master = \"WB\"\n\n[[servers]]\ncode = \"WB\"\nrole = \"web\"\nurl = \"http://{}\"\n\n[[servers]]\ncode = \"RS\"\nrole = \"reservation\"\nurl = \"http://{}\"\n",
        random_token(), to_wb.addr(), to_rs.addr()
    ))?;
    // The night audit's first check writes each server's business day; run it at once, so the
    // idle window sees only the steady state.
    // HTTP/2 on these plain links is what ALPN picks over TLS between innsync servers.
    let h2c = format!("peer_h2c={}", http == "2");
    let settings = ["--setting", "night_audit_check=1s", "--setting", &h2c];
    let wb = start_in_environment(dir, &env, "WB", wb_port, &token, &settings)?;
    let rs = start_in_environment(dir, &env, "RS", rs_port, &token, &settings)?;
    let (wb_api, rs_api) = (Api::new(&wb.base, &token)?, Api::new(&rs.base, &token)?);
    let today = chrono::Utc::now().date_naive();
    furnish(&wb_api, today).await?;
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
    caught_up(&wb_api, &rs_api, VISIBLE_WITHIN).await?;
    // Both relays shaped at once: one link, one drop-out schedule.
    to_wb.set_profile(profile, Site::Client, SEED);
    to_rs.set_profile(profile, Site::Upstream, SEED + 2);
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
        eprintln!(
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
    let catch_up = outage(&wb_api, &rs_api, &wb, &rs, &links, today).await?;
    let events = links.iter().fold((0, 0), |(s, d), h| {
        let st = h.stats();
        (s + st.stalls, d.max(st.dropouts))
    });
    drop(rs);
    drop(wb);
    Ok(LinkFigures {
        profile: profile.name,
        http,
        bytes_per_booking: per_booking,
        idle_bytes_per_s: idle,
        visibility: (pct(0.5), pct(0.99)),
        catch_up,
        events,
    })
}

/// Cuts the link, writes [`OUTAGE_BOOKINGS`] one-night bookings on WB, heals it and times RS's
/// catch-up (equal digests): `(changes applied, time from the heal, bytes on the link)`.
async fn outage(
    wb_api: &Api,
    rs_api: &Api,
    wb: &ServerProcess,
    rs: &ServerProcess,
    links: &[&ProxyHandle],
    today: NaiveDate,
) -> anyhow::Result<(u64, Duration, u64)> {
    for l in links {
        l.cut();
    }
    let held_before = heads(wb, rs)?.0;
    let clients = 16u64;
    let per_client = OUTAGE_BOOKINGS.div_ceil(clients);
    let writers = (0..clients).map(|c| {
        let api = wb_api.clone();
        async move {
            for i in 0..per_client {
                let n = c * per_client + i;
                let arrival = today + Days::new(1 + n % 300);
                let body = json!({"property": "LNK", "room_type": "STD", "arrival": arrival.to_string(),
                    "departure": (arrival + Days::new(1)).to_string(), "guest": {"name": format!("Outage guest {n}")}});
                let (s, b) = api.call(Method::POST, "/api/v1/bookings", Some(&body)).await?;
                if s != StatusCode::CREATED && s != StatusCode::CONFLICT {
                    bail!("outage booking answered {s}: {b}");
                }
            }
            anyhow::Ok(())
        }
    });
    for w in join_all(writers).await {
        w?;
    }
    let b0 = total(links);
    let started = Instant::now();
    for l in links {
        l.heal();
    }
    // Cheap to poll: RS's cursor of WB's log against WB's own head; then the digests agree.
    let (wb_pool, rs_pool) = (
        innsync_store::ReadPool::new(wb.dir.join(innsync_store::DB_FILE)),
        innsync_store::ReadPool::new(rs.dir.join(innsync_store::DB_FILE)),
    );
    let head = wb_pool.cursors()?.get("WB").copied().unwrap_or(0);
    wait_until("RS to pull WB's log", CATCH_UP_WITHIN, async || {
        Ok(rs_pool.cursors()?.get("WB").copied().unwrap_or(0) >= head)
    })
    .await?;
    let took = started.elapsed();
    caught_up(wb_api, rs_api, VISIBLE_WITHIN).await?;
    let applied = heads(wb, rs)?.0.saturating_sub(held_before);
    Ok((applied, took, total(links) - b0))
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

/// Waits (bounded by `within`) until `rs` holds what `wb` holds (equal digests).
async fn caught_up(wb: &Api, rs: &Api, within: Duration) -> anyhow::Result<()> {
    let (_, d) = wb.call(Method::GET, "/api/v1/digest", None).await?;
    let want = d["digest"].as_str().context("digest")?.to_string();
    wait_until("RS to catch up with WB", within, async || {
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

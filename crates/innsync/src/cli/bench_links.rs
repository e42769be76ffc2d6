//! `innsync bench links`: what replication costs and how it behaves on poor links (issue 22).
//! Two real server processes, WB (master) and RS (an office, the remote site), reach each
//! other only through counting relays (`innsync-faultproxy`), so every byte of the peer link —
//! both pulls, requests and answers, HTTP framing included — is counted. The relays shape the
//! link as a named profile (`--profile satellite|adsl|3g|loopback`; every one when not given):
//! token-bucket rate, delay with jitter, loss as TCP stalls, drop-outs — modelled in the proxy,
//! not by the kernel's `netem`, which this machine lacks. Per profile: bytes per replicated
//! booking with its guest (made one at a time, each waited for on RS), an idle link's bytes per
//! second, how soon a booking made on WB is visible on RS (p50/p99), and the catch-up after an
//! outage during which WB wrote [`OUTAGE_BOOKINGS`] bookings (scaled down from a day's), or,
//! with `--day-offline`, a busy office's whole day ([`DAY_BOOKINGS`] bookings with their
//! guests, a note on each, [`DAY_CANCELLED`] cancelled).

use super::bench::{free_port, ms, start_in_environment, BenchArgs, ServerProcess};
use super::bench_replication::wait_until;
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, NaiveDate};
use futures::future::join_all;
use innsync_faultproxy::{profile, LinkProfile, Proxy, ProxyHandle, Site};
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bookings made one at a time per profile.
const BOOKINGS: u64 = 40;
/// Bookings WB writes while the link is cut (about two changes each: the guest, the booking).
const OUTAGE_BOOKINGS: u64 = 1_000;
/// A busy office's day (`--day-offline`): bookings with a new guest each. About 190 an hour
/// over a 16-hour day, a central reservations office selling for several lodges.
const DAY_BOOKINGS: u64 = 3_000;
/// Of the day's bookings, how many are cancelled the same day (one in ten).
const DAY_CANCELLED: u64 = 300;
/// Rooms of the bench property: room for the outage's one-night bookings over 300 nights.
const ROOMS: u64 = 20;
/// How long a booking may take to show on the other side before the bench gives up (a 3G
/// drop-out lasts 30 s).
const VISIBLE_WITHIN: Duration = Duration::from_secs(120);
/// How long the catch-up may take before the bench gives up.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(600);
/// Shortest idle window whose bytes/s the table shows: longer than a long-poll (`pull_wait`).
const IDLE_AT_LEAST: Duration = Duration::from_secs(35);
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
    /// From the heal until both servers' digests agree.
    agreed: Duration,
    /// A planned handover WB → RS, then RS → WB: each until granted and until the new master
    /// knows it, or why it did not complete.
    handovers: Vec<Result<(Duration, Duration), String>>,
    /// The PMS link over the profile: a General Reset of the property's rooms on connect, and
    /// a check-in made on WB until the PMS holds it (`None` with `--catch-up-only`).
    pms: Option<(Duration, Duration)>,
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
    println!("| profile | peer HTTP | bytes per booking with its guest (both directions) | idle link, bytes/s | visibility WB → RS p50 / p99 | catch-up after the outage | both agree (digests) | stalls / drop-outs |");
    println!("|---|---|---|---|---|---|---|---|");
    // A window shorter than one long-poll (`pull_wait`, 30 s) may see no exchange at all.
    let idle_measured = a.seconds.max(1) * 6 >= IDLE_AT_LEAST.as_secs() && !a.catch_up_only;
    for f in &rows {
        let (changes, took, bytes) = f.catch_up;
        let idle = if idle_measured {
            format!("{:.1}", f.idle_bytes_per_s)
        } else {
            "– (window too short)".to_string()
        };
        println!(
            "| {} | {} | {:.0} | {idle} | {} / {} | {changes} changes in {:.1} s, {:.0} KB ({:.0} B/change) | {:.1} s | {} / {} |",
            f.profile,
            f.http,
            f.bytes_per_booking,
            ms(f.visibility.0),
            ms(f.visibility.1),
            took.as_secs_f64(),
            bytes as f64 / 1000.0,
            bytes as f64 / changes.max(1) as f64,
            f.agreed.as_secs_f64(),
            f.events.0,
            f.events.1
        );
    }
    if rows.iter().any(|f| f.pms.is_some()) {
        println!();
        println!("| profile | peer HTTP | handover WB → RS: granted / new master knows | handover RS → WB: granted / new master knows | PMS link: General Reset of {ROOMS} rooms on connect | PMS link: check-in on WB until the PMS has it |");
        println!("|---|---|---|---|---|---|");
        for f in &rows {
            let hand = |i: usize| match f.handovers.get(i) {
                Some(Ok((g, t))) => format!("{} / {}", ms(*g), ms(*t)),
                Some(Err(why)) => format!("not done: {why}"),
                None => "–".into(),
            };
            let (reset, check_in) = f.pms.map_or(("–".into(), "–".into()), |(r, c)| {
                (
                    format!("{:.1} s", r.as_secs_f64()),
                    format!("{:.2} s", c.as_secs_f64()),
                )
            });
            println!(
                "| {} | {} | {} | {} | {reset} | {check_in} |",
                f.profile,
                f.http,
                hand(0),
                hand(1)
            );
        }
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
    let (idle, per_booking, vis) = if a.catch_up_only {
        (0.0, 0.0, vec![Duration::ZERO])
    } else {
        steady(a, &wb, &rs, &wb_api, &rs_api, &links, profile, today).await?
    };
    let pct = |p: f64| vis[((vis.len() as f64 - 1.0) * p).round() as usize];
    if a.day_offline {
        // The day's bulk goes up the office's uplink: the sites swapped, so WB's answers to
        // RS travel at the site's uplink rate, as the office's own day of changes would.
        to_wb.set_profile(profile, Site::Upstream, SEED);
        to_rs.set_profile(profile, Site::Client, SEED + 2);
    }
    let (catch_up, agreed) =
        outage(&wb_api, &rs_api, &wb, &rs, &links, today, a.day_offline).await?;
    let (handovers, pms) = if a.catch_up_only {
        (Vec::new(), None)
    } else {
        // Back to the link as the profile has it (the day's catch-up swapped the sites).
        to_wb.set_profile(profile, Site::Client, SEED);
        to_rs.set_profile(profile, Site::Upstream, SEED + 2);
        let h = handovers(&wb_api, &rs_api).await?;
        (h, Some(pms_link(&wb_api, profile, today).await?))
    };
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
        agreed,
        handovers,
        pms,
    })
}

/// Longest a handover may take over a link before the bench gives up on it (the server's own
/// `handover_timeout` is 30 s; this also covers learning the grant).
const HANDOVER_WITHIN: Duration = Duration::from_secs(120);

/// A planned handover WB → RS, then RS → WB, over the shaped link: each `Ok((until granted,
/// until the new master knows it))`, or `Err(why)` when it was refused or aborted (safe: the
/// old master stays master — the bench goes on with whoever is master).
async fn handovers(
    wb_api: &Api,
    rs_api: &Api,
) -> anyhow::Result<Vec<Result<(Duration, Duration), String>>> {
    let mut out = Vec::new();
    for (from, to, target) in [(wb_api, "RS", rs_api), (rs_api, "WB", wb_api)] {
        let t0 = Instant::now();
        let (s, b) = from
            .call(
                Method::POST,
                "/api/v1/environment/handover",
                Some(&json!({"to": to})),
            )
            .await?;
        if !s.is_success() {
            out.push(Err(format!("{s} {}", b["code"].as_str().unwrap_or("?"))));
            continue;
        }
        let granted = t0.elapsed();
        wait_until("the new master", HANDOVER_WITHIN, async || {
            let (_, e) = target
                .call(Method::GET, "/api/v1/environment", None)
                .await?;
            Ok(e["state"] == "master")
        })
        .await?;
        out.push(Ok((granted, t0.elapsed())));
    }
    Ok(out)
}

/// Longest the PMS link may take for its first General Reset or a check-in over the link.
const PMS_WITHIN: Duration = Duration::from_secs(600);

/// WB's PMS link (Mitel-style, WB connects) to the bench's own PMS system, `innsync-pms`'s
/// gateway, through a relay shaped as `profile` with the PMS at the remote site:
/// `(General Reset on connect until the gateway holds every room, a check-in made on WB until
/// the gateway shows the room occupied)`.
async fn pms_link(
    wb_api: &Api,
    profile: &LinkProfile,
    today: NaiveDate,
) -> anyhow::Result<(Duration, Duration)> {
    use innsync_pms::net::{Gateway, GatewayConfig};
    let gw = Gateway::bind(GatewayConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), 1)).await?;
    let h = gw.handle();
    let to_pms = Proxy::start("127.0.0.1:0", gw.local_addr()?).await?;
    let pms = tokio::spawn(gw.run());
    to_pms.set_profile(profile, Site::Upstream, SEED + 4);
    // Someone in house before the link starts: the reset carries a name as well as rooms.
    let arrival = today.to_string();
    let departure = (today + Days::new(2)).to_string();
    let book = |name: &str| {
        json!({"property": "LNK", "room_type": "STD", "arrival": arrival, "departure": departure,
               "guest": {"name": name}})
    };
    let (s, b) = wb_api
        .call(Method::POST, "/api/v1/bookings", Some(&book("Ayanda Zulu")))
        .await?;
    if s != StatusCode::CREATED {
        bail!("in-house booking answered {s}: {b}");
    }
    let r = b["reference"].as_str().context("reference")?.to_string();
    wb_api
        .post_ok(
            &format!("/api/v1/bookings/{r}/check-in"),
            json!({"room": "100"}),
        )
        .await?;
    let t0 = Instant::now();
    let put = json!({"property": "LNK", "dialect": "mitel", "role": "connect",
                     "address": to_pms.addr().to_string()});
    wb_api.put_ok("/api/v1/pms/links/bench", put).await?;
    let occupied = async |room: &str| -> anyhow::Result<bool> {
        Ok(h.rooms()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .iter()
            .any(|(e, r)| e.as_str() == room && r.occupied))
    };
    wait_until("the General Reset over the link", PMS_WITHIN, async || {
        let (_, l) = wb_api.call(Method::GET, "/api/v1/pms", None).await?;
        let done = l["links"][0]["resets"].as_u64().unwrap_or(0) >= 1;
        let rooms = h.rooms().await.map_err(|e| anyhow::anyhow!("{e}"))?.len();
        Ok(done && rooms as u64 >= ROOMS && occupied("100").await?)
    })
    .await?;
    let reset = t0.elapsed();
    let (s, b) = wb_api
        .call(
            Method::POST,
            "/api/v1/bookings",
            Some(&book("Bongani Sithole")),
        )
        .await?;
    if s != StatusCode::CREATED {
        bail!("check-in booking answered {s}: {b}");
    }
    let r = b["reference"].as_str().context("reference")?.to_string();
    let t1 = Instant::now();
    wb_api
        .post_ok(
            &format!("/api/v1/bookings/{r}/check-in"),
            json!({"room": "101"}),
        )
        .await?;
    wait_until("the check-in at the PMS", PMS_WITHIN, async || {
        occupied("101").await
    })
    .await?;
    let check_in = t1.elapsed();
    pms.abort();
    Ok((reset, check_in))
}

/// The steady state: an idle window's bytes per second, then [`BOOKINGS`] bookings made one at
/// a time on WB, each waited for on RS: `(idle bytes/s, bytes per booking, visibility times)`.
#[allow(
    clippy::too_many_arguments,
    reason = "the bench's two servers, their APIs and links"
)]
async fn steady(
    a: &BenchArgs,
    wb: &ServerProcess,
    rs: &ServerProcess,
    wb_api: &Api,
    rs_api: &Api,
    links: &[&ProxyHandle],
    profile: &LinkProfile,
    today: NaiveDate,
) -> anyhow::Result<(f64, f64, Vec<Duration>)> {
    // Idle: nothing written; what the two long-polls cost.
    // Long enough for several long-polls of each side (`--seconds` × 6).
    let idle_for = Duration::from_secs(a.seconds.max(1) * 6);
    let before = heads(wb, rs)?;
    let (b0, t0) = (total(links), Instant::now());
    tokio::time::sleep(idle_for).await;
    let idle = (total(links) - b0) as f64 / t0.elapsed().as_secs_f64();
    let after = heads(wb, rs)?;
    if after != before {
        eprintln!(
            "{}: the idle link carried changes (WB's log {} → {}, RS's {} → {})",
            profile.name, before.0, after.0, before.1, after.1
        );
    }
    // Bookings, one at a time, each waited for on RS.
    let b0 = total(links);
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
        visible(rs_api, &format!("/api/v1/bookings/{r}")).await?;
        vis.push(acked.elapsed());
    }
    let per_booking = (total(links) - b0) as f64 / BOOKINGS as f64;
    vis.sort();
    Ok((idle, per_booking, vis))
}

/// Cuts the link, writes [`OUTAGE_BOOKINGS`] one-night bookings on WB (or, with `day`, a busy
/// office's day: [`write_day`]), heals it and times RS's catch-up: `((changes applied, time from
/// the heal until RS's cursor holds WB's head, bytes on the link), time from the heal until the
/// digests agree)`.
async fn outage(
    wb_api: &Api,
    rs_api: &Api,
    wb: &ServerProcess,
    rs: &ServerProcess,
    links: &[&ProxyHandle],
    today: NaiveDate,
    day: bool,
) -> anyhow::Result<((u64, Duration, u64), Duration)> {
    for l in links {
        l.cut();
    }
    let held_before = heads(wb, rs)?.0;
    if day {
        let t = Instant::now();
        write_day(wb_api, today).await?;
        eprintln!(
            "the day's changes written on WB in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    } else {
        write_outage(wb_api, today).await?;
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
    let agreed = started.elapsed();
    let applied = heads(wb, rs)?.0.saturating_sub(held_before);
    Ok(((applied, took, total(links) - b0), agreed))
}

/// The scaled-down outage: [`OUTAGE_BOOKINGS`] one-night bookings, 16 clients at once.
async fn write_outage(wb_api: &Api, today: NaiveDate) -> anyhow::Result<()> {
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
    Ok(())
}

/// A busy office's day, written on WB while the link is down: [`DAY_BOOKINGS`] one-night
/// bookings, each with a new guest whose name, e-mail and phone vary (seeded, so gzip is not
/// flattered by near-identical records), a note on each (the day's edits), and
/// [`DAY_CANCELLED`] of them cancelled. 16 clients at once.
async fn write_day(wb_api: &Api, today: NaiveDate) -> anyhow::Result<()> {
    const FIRST: [&str; 12] = [
        "Thandiwe",
        "Pieter",
        "Aisha",
        "Johan",
        "Nomsa",
        "Liam",
        "Zanele",
        "Ingrid",
        "Sipho",
        "Chloé",
        "Kagiso",
        "Mariëtte",
    ];
    const LAST: [&str; 12] = [
        "Mokoena",
        "van der Merwe",
        "Naidoo",
        "Botha",
        "Dlamini",
        "O'Brien",
        "Khumalo",
        "Schröder",
        "Nkosi",
        "Pillay",
        "Fourie",
        "Mahlangu",
    ];
    let clients = 16u64;
    let per_client = DAY_BOOKINGS.div_ceil(clients);
    let writers = (0..clients).map(|c| {
        let api = wb_api.clone();
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(SEED * 1_000 + c);
            for i in 0..per_client {
                let n = c * per_client + i;
                let arrival = today + Days::new(1 + n % 300);
                let (first, last) = (
                    FIRST[rng.gen_range(0..FIRST.len())],
                    LAST[rng.gen_range(0..LAST.len())],
                );
                let phone: u32 = rng.gen_range(1_000_000..9_999_999);
                let body = json!({"property": "LNK", "room_type": "STD", "arrival": arrival.to_string(),
                    "departure": (arrival + Days::new(1)).to_string(),
                    "guest": {"name": format!("{first} {last}"),
                        "email": format!("{}.{}{}@example.co.za", first.to_lowercase(), n, rng.gen_range(0..100u32)),
                        "phone": format!("+27 8{} {phone}", rng.gen_range(1..5u32))}});
                let (s, b) = api.call(Method::POST, "/api/v1/bookings", Some(&body)).await?;
                if s == StatusCode::CONFLICT {
                    continue;
                }
                if s != StatusCode::CREATED {
                    bail!("day booking answered {s}: {b}");
                }
                let r = b["reference"].as_str().context("reference")?.to_string();
                let note = json!({"text": format!("Guest phoned: arriving about {}:{:02}, {} in party", rng.gen_range(12..22u32), rng.gen_range(0..60u32), rng.gen_range(1..3u32))});
                let (s, b) = api
                    .call(Method::POST, &format!("/api/v1/bookings/{r}/notes"), Some(&note))
                    .await?;
                if s != StatusCode::CREATED {
                    bail!("day note answered {s}: {b}");
                }
                if n.is_multiple_of(DAY_BOOKINGS / DAY_CANCELLED) {
                    let cancel = json!({"reason": "plans changed"});
                    let (s, b) = api
                        .call(Method::POST, &format!("/api/v1/bookings/{r}/cancellation"), Some(&cancel))
                        .await?;
                    if s != StatusCode::CREATED {
                        bail!("day cancellation answered {s}: {b}");
                    }
                }
            }
            anyhow::Ok(())
        }
    });
    for w in join_all(writers).await {
        w?;
    }
    Ok(())
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

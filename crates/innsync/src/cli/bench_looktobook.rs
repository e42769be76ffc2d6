//! `innsync bench looktobook`: booking-engine traffic against one server process (issue 20).
//! Three properties of `room_types` × `rooms_per_type` rooms are seeded over HTTP; then
//! `clients` concurrent clients, on the same machine, each ask for availability (or a quote)
//! of a random property for a random stay, and book one unit at 1 request in 1,000. Three
//! phases of `seconds` each: three-night availability (the default answer), the same in the
//! compact form, and a mix of availability and quotes for 1–14-night stays. Printed per
//! phase: reads/s, read latency p50 / p99, bookings made and their p50 / p99.

use super::bench::{ms, spawn_server, BenchArgs};
use crate::client::{random_token, Api};
use anyhow::bail;
use chrono::{Days, NaiveDate, Utc};
use futures::future::join_all;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const PROPERTIES: usize = 3;
/// One read in this many is a booking instead.
const LOOK_TO_BOOK: u32 = 1_000;

/// What a phase asks.
#[derive(Clone, Copy)]
enum Shape {
    /// Availability for three nights; compact or not.
    ThreeNights(bool),
    /// Availability (compact) or a quote, 1–14 nights.
    Mixed,
}

struct Figures {
    reads: usize,
    elapsed: Duration,
    read_latency: (Duration, Duration),
    bookings: usize,
    booking_latency: (Duration, Duration),
    bytes: u64,
    errors: u64,
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

/// Runs the look-to-book phases and prints their table.
pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("innsync-l2b-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let token = random_token();
    let server = spawn_server(&dir, &token)?;
    let api = Api::new(&server.base, &token)?;
    let today = Utc::now().date_naive();
    seed(a, &api, today).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .tcp_nodelay(true)
        .build()?;
    let mut rows = vec![];
    for (name, shape) in [
        ("availability, 3 nights", Shape::ThreeNights(false)),
        ("availability, 3 nights, compact", Shape::ThreeNights(true)),
        ("availability (compact) or quote, 1-14 nights", Shape::Mixed),
    ] {
        println!("phase: {name}, {} clients, {} s", a.clients, a.seconds);
        let f = phase(a, &http, &server.base, &token, today, shape).await?;
        if f.errors > 0 {
            bail!("{name}: {} requests failed", f.errors);
        }
        rows.push((name, f));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!(
        "| phase ({} clients, 1 booking per {LOOK_TO_BOOK} reads) | reads/s | read p50 / p99 | mean answer | bookings | booking p50 / p99 |",
        a.clients
    );
    println!("|---|---|---|---|---|---|");
    for (name, f) in rows {
        println!(
            "| {name} | **{:.0}** | {} / {} | {:.1} KB | {} | {} / {} |",
            f.reads as f64 / f.elapsed.as_secs_f64(),
            ms(f.read_latency.0),
            ms(f.read_latency.1),
            f.bytes as f64 / f.reads.max(1) as f64 / 1_000.0,
            f.bookings,
            ms(f.booking_latency.0),
            ms(f.booking_latency.1)
        );
    }
    Ok(())
}

async fn seed(a: &BenchArgs, api: &Api, today: NaiveDate) -> anyhow::Result<()> {
    println!(
        "seeding: {PROPERTIES} properties, {} room types x {} rooms, a rate plan each",
        a.room_types, a.rooms_per_type
    );
    for p in 0..PROPERTIES {
        let code = format!("LB{p}");
        api.post_ok(
            "/api/v1/properties",
            json!({"code": code, "name": format!("Look Hotel {p}"), "timezone": "UTC", "currency": "EUR"}),
        )
        .await?;
        for t in 0..a.room_types {
            let ty = format!("T{t:02}");
            api.post_ok(
                &format!("/api/v1/properties/{code}/room-types"),
                json!({"code": ty, "name": format!("Type {t}"), "max_occupancy": 3}),
            )
            .await?;
            api.put_ok(
                &format!("/api/v1/properties/{code}/rates/{ty}"),
                json!({"from": today.to_string(), "to": (today + Days::new(400)).to_string(), "amount": 10_000, "currency": "EUR"}),
            )
            .await?;
            let rooms = (0..a.rooms_per_type).map(|r| {
                let body = json!({"number": format!("{t:02}{r:03}"), "room_type": ty});
                let api = api.clone();
                let path = format!("/api/v1/properties/{code}/rooms");
                async move { api.post_ok(&path, body).await }
            });
            for r in join_all(rooms).await {
                r?;
            }
        }
        api.put_ok(
            &format!("/api/v1/properties/{code}/rate-plans/BAR"),
            super::bench_quote::base_plan(a.room_types, today),
        )
        .await?;
    }
    Ok(())
}

async fn phase(
    a: &BenchArgs,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    today: NaiveDate,
    shape: Shape,
) -> anyhow::Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let start = Instant::now();
    let tasks = (0..a.clients).map(|c| {
        let http = http.clone();
        let base = base.to_string();
        let auth = format!("Bearer {token}");
        let types = a.room_types;
        let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed * 10_007 + c as u64);
        tokio::spawn(async move {
            let (mut reads, mut books) = (Vec::new(), Vec::new());
            let (mut bytes, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let property = format!("LB{}", rng.gen_range(0..PROPERTIES));
                let from = today + Days::new(rng.gen_range(1..365));
                if rng.gen_range(0..LOOK_TO_BOOK) == 0 {
                    let body = json!({"property": property, "room_type": format!("T{:02}", rng.gen_range(0..types)),
                        "arrival": from.to_string(), "departure": (from + Days::new(rng.gen_range(1..4))).to_string(),
                        "guest": {"name": "Look Guest"}});
                    let t0 = Instant::now();
                    let r = http
                        .post(format!("{base}/api/v1/bookings"))
                        .header("authorization", &auth)
                        .json(&body)
                        .send()
                        .await;
                    match r {
                        Ok(resp) if matches!(resp.status(), StatusCode::CREATED | StatusCode::CONFLICT) => {
                            let _ = resp.bytes().await;
                            books.push(t0.elapsed());
                        }
                        _ => errors += 1,
                    }
                    continue;
                }
                let path = match shape {
                    Shape::ThreeNights(compact) => format!(
                        "/api/v1/availability?property={property}&from={from}&to={}{}",
                        from + Days::new(3),
                        if compact { "&format=compact" } else { "" }
                    ),
                    Shape::Mixed => {
                        let to = from + Days::new(rng.gen_range(1..=14));
                        if rng.gen_bool(0.5) {
                            format!("/api/v1/availability?property={property}&from={from}&to={to}&format=compact")
                        } else {
                            format!("/api/v1/quote?property={property}&from={from}&to={to}&adults=2")
                        }
                    }
                };
                let t0 = Instant::now();
                match http.get(format!("{base}{path}")).header("authorization", &auth).send().await {
                    Ok(resp) if resp.status() == StatusCode::OK => match resp.bytes().await {
                        Ok(b) => {
                            bytes += b.len() as u64;
                            reads.push(t0.elapsed());
                        }
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (reads, books, bytes, errors)
        })
    });
    let (mut reads, mut books, mut bytes, mut errors) = (Vec::new(), Vec::new(), 0, 0);
    for r in join_all(tasks).await {
        let (r, b, n, e) = r?;
        reads.extend(r);
        books.extend(b);
        bytes += n;
        errors += e;
    }
    let elapsed = start.elapsed();
    Ok(Figures {
        reads: reads.len(),
        elapsed,
        read_latency: p50_p99(reads),
        bookings: books.len(),
        booking_latency: p50_p99(books),
        bytes,
        errors,
    })
}

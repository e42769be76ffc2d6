//! `innsync bench quote`: the quote of a large property — 50 room types (by default) of 20
//! rooms, three rate plans (a base plan with occupancy prices for every room type, four
//! seasons and restrictions; a derived percentage plan; a derived amount plan with its own
//! restrictions), some bookings sold and an allotment granted — measured in the store and the
//! core (facts read in one transaction, then priced), for a 365-night stay and a 3-night stay,
//! and over HTTP. Prints the median and p99.

use super::bench::{ms, spawn_server, BenchArgs, ServerProcess};
use crate::client::{random_token, Api};
use anyhow::{bail, Context};
use chrono::{Days, NaiveDate, Utc};
use futures::future::join_all;
use innsync_core::dates::Nights;
use innsync_core::pricing::{quote, Party};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Quotes measured per shape.
const SAMPLES: usize = 200;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Runs the quote benchmark on a fresh server.
pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("innsync-bench-quote-{}", std::process::id()));
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

pub(super) fn base_plan(types: usize, today: NaiveDate) -> Value {
    let price = |t: usize, amount: Option<i64>| {
        let mut v = json!({"room_type": format!("T{t:02}"), "adults_included": 2, "extra_adult": 3000,
            "children": [{"up_to_age": 3, "amount": 0}, {"up_to_age": 12, "amount": 1500}], "max_adults": 3});
        if let Some(a) = amount {
            v["amount"] = json!(a);
        }
        v
    };
    let seasons: Vec<Value> = (0..4u64)
        .map(|s| {
            json!({"name": format!("Season {s}"), "from": (today + Days::new(20 + s * 90)).to_string(),
                "to": (today + Days::new(60 + s * 90)).to_string(),
                "prices": (0..types).map(|t| price(t, Some(12_000 + 1_000 * s as i64))).collect::<Vec<_>>()})
        })
        .collect();
    let restrictions: Vec<Value> = (0..12u64)
        .map(|m| json!({"from": (today + Days::new(m * 30)).to_string(), "to": (today + Days::new(m * 30 + 7)).to_string(),
            "min_stay_through": 2, "room_types": [format!("T{:02}", m as usize % types)]}))
        .collect();
    json!({"name": "Best available", "basis": {"kind": "base"},
        "occupancy": (0..types).map(|t| price(t, None)).collect::<Vec<_>>(),
        "seasons": seasons, "restrictions": restrictions})
}

#[allow(
    clippy::too_many_lines,
    reason = "a benchmark script: set-up, the runs alternated, the table, read top to bottom"
)]
async fn bench(a: &BenchArgs, api: &Api, server: &ServerProcess) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let types = a.room_types;
    println!(
        "seeding: 1 property, {types} room types x {} rooms, 3 rate plans",
        a.rooms_per_type
    );
    api.post_ok(
        "/api/v1/properties",
        json!({"code": "BNC", "name": "Bench Hotel", "timezone": "UTC", "currency": "EUR"}),
    )
    .await?;
    for t in 0..types {
        let code = format!("T{t:02}");
        api.post_ok(
            "/api/v1/properties/BNC/room-types",
            json!({"code": code, "name": format!("Type {t}"), "max_occupancy": 4}),
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
    api.put_ok(
        "/api/v1/properties/BNC/rate-plans/BAR",
        base_plan(types, today),
    )
    .await?;
    api.put_ok("/api/v1/properties/BNC/rate-plans/NRF", json!({"name": "Non-refundable",
        "basis": {"kind": "derived", "from": "BAR", "adjust": {"percent_bp": -1000}, "rounding": {"step": 100, "mode": "nearest"}},
        "refundable": false})).await?;
    api.put_ok("/api/v1/properties/BNC/rate-plans/LONG", json!({"name": "Long stay",
        "basis": {"kind": "derived", "from": "BAR", "adjust": {"amount": -1500}},
        "restrictions": [{"from": today.to_string(), "to": (today + Days::new(400)).to_string(), "min_stay_arrival": 5}]})).await?;
    // Some sales (so the sold table is not empty) and a grant (so someone else holds units).
    let sales = (0..400u64).map(|i| {
        let api = api.clone();
        let arrival = today + Days::new(1 + (i * 7) % 360);
        let body = json!({"property": "BNC", "room_type": format!("T{:02}", i as usize % types),
            "arrival": arrival.to_string(), "departure": (arrival + Days::new(1 + i % 3)).to_string(),
            "guest": {"name": "Bench Guest"}});
        async move { api.post_ok("/api/v1/bookings", body).await }
    });
    for r in join_all(sales).await {
        r?;
    }
    println!("seeded: {} rooms, 400 bookings", types * a.rooms_per_type);
    let pool = innsync_store::ReadPool::new(server.dir.join(innsync_store::DB_FILE));
    let family = Party {
        adults: 2,
        children: vec![7],
    };
    let mut rows = vec![];
    for (label, from, len) in [
        ("365-night stay", today + Days::new(1), 365u64),
        ("3-night stay", today + Days::new(30), 3),
    ] {
        let nights = Nights::stay(from, from + Days::new(len)).map_err(anyhow::Error::msg)?;
        let mut read_t = Vec::with_capacity(SAMPLES);
        let mut total_t = Vec::with_capacity(SAMPLES);
        let mut lines = 0;
        for _ in 0..SAMPLES {
            let t0 = Instant::now();
            let facts = pool
                .quote_facts("BNC", nights)?
                .context("the bench property is missing")?;
            let t1 = Instant::now();
            let q = quote(&facts, nights, &family, 1, None);
            total_t.push(t0.elapsed());
            read_t.push(t1 - t0);
            lines = q.len();
            if q.iter().all(|l| l.total.is_none()) {
                bail!("nothing priced in the {label} quote");
            }
        }
        read_t.sort();
        total_t.sort();
        let path = format!(
            "/api/v1/quote?property=BNC&from={}&to={}&adults=2&children=7",
            nights.from, nights.to
        );
        let mut http_t = Vec::with_capacity(SAMPLES / 4);
        for _ in 0..SAMPLES / 4 {
            let t0 = Instant::now();
            let (s, _) = api.call(Method::GET, &path, None).await?;
            if !s.is_success() {
                bail!("quote answered {s}");
            }
            http_t.push(t0.elapsed());
        }
        http_t.sort();
        rows.push((label, lines, read_t, total_t, http_t));
    }
    println!();
    println!("| quote, {types} room types x 3 plans, 2 adults + a child | p50 | p99 |");
    println!("|---|---|---|");
    for (label, lines, read_t, total_t, http_t) in rows {
        println!(
            "| {label}: store read (one transaction) | {} | {} |",
            ms(pct(&read_t, 0.5)),
            ms(pct(&read_t, 0.99))
        );
        println!(
            "| {label}: store read + pricing, {lines} lines | {} | {} |",
            ms(pct(&total_t, 0.5)),
            ms(pct(&total_t, 0.99))
        );
        println!(
            "| {label}: HTTP round trip (JSON) | {} | {} |",
            ms(pct(&http_t, 0.5)),
            ms(pct(&http_t, 0.99))
        );
    }
    Ok(())
}

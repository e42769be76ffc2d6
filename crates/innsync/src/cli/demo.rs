//! `innsync demo`: a working server on 127.0.0.1 with sample properties, rooms, rates, users
//! and bookings, until Ctrl-C.

use crate::client::Api;
use anyhow::Context;
use chrono::{Days, Utc};
use clap::Args;
use innsync_core::ServerCode;
use innsync_server::{ServerConfig, Settings};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `innsync demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Port of the web server.
    #[arg(long, default_value_t = 7000)]
    pub port: u16,
    /// Keep the demo's data here (default: a fresh temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed and exit instead of serving until Ctrl-C (for scripts and tests).
    #[arg(long)]
    pub seed_only: bool,
}

/// The demo login.
pub const DEMO_USER: &str = "demo";
/// The demo password.
pub const DEMO_PASSWORD: &str = "innsync-demo";

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    super::init_logging("warn");
    let (dir, _temp) = match a.data_dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile_dir()?;
            (t.clone(), Some(TempDir(t)))
        }
    };
    let token = crate::client::random_token();
    let config = ServerConfig {
        data_dir: dir.clone(),
        listen: format!("127.0.0.1:{}", a.port),
        server: ServerCode::parse("WB").map_err(anyhow::Error::msg)?,
        admin_token: Some(token.clone()),
        settings: Settings::default(),
    };
    let running = innsync_server::start(config, Arc::new(Utc::now))
        .await
        .context("starting the demo server")?;
    let base = format!("http://{}", running.addr);
    let api = Api::new(&base, &token)?;
    seed(&api).await.context("seeding sample data")?;
    println!("innsync demo: one server (WB) with sample data");
    println!("  web server  {base}   (API under {base}/api/v1)");
    println!("  login       {DEMO_USER} / {DEMO_PASSWORD}   (POST /api/v1/login)");
    println!("  admin token {token}");
    println!("  data        {}", dir.display());
    println!("  try: curl -H 'Authorization: Bearer {token}' '{base}/api/v1/availability?property=KRL&from={}&to={}'",
        Utc::now().date_naive(), Utc::now().date_naive() + Days::new(7));
    if a.seed_only {
        running.stop();
    } else {
        println!("Ctrl-C stops the demo.");
        super::serve::wait_for_stop().await;
        running.stop();
    }
    running.task.await.context("server task")??;
    Ok(())
}

/// Sample data: two properties, their room types, rooms and rates, users and bookings.
pub async fn seed(api: &Api) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let day = |n: u64| (today + Days::new(n)).to_string();
    api.post_ok(
        "/api/v1/users",
        json!({"username": DEMO_USER, "password": DEMO_PASSWORD, "roles": ["admin"]}),
    )
    .await?;
    api.post_ok(
        "/api/v1/users",
        json!({"username": "frontdesk", "password": "frontdesk-demo", "roles": ["front_desk"]}),
    )
    .await?;
    api.post_ok(
        "/api/v1/users",
        json!({"username": "viewer", "password": "viewer-demo", "roles": ["read_only"]}),
    )
    .await?;
    let properties = [
        (
            "KRL",
            "Kraal Lodge",
            "Africa/Johannesburg",
            "ZAR",
            &[
                ("STD", "Standard Chalet", 2, 6, 145_000),
                ("LUX", "Luxury Suite", 2, 4, 320_000),
                ("FAM", "Family Unit", 5, 2, 260_000),
            ][..],
        ),
        (
            "RVC",
            "River Camp",
            "Africa/Johannesburg",
            "ZAR",
            &[
                ("TNT", "Safari Tent", 2, 8, 98_000),
                ("TRE", "Tree House", 2, 2, 210_000),
            ][..],
        ),
    ];
    for (code, name, tz, cur, types) in properties {
        api.post_ok(
            "/api/v1/properties",
            json!({"code": code, "name": name, "timezone": tz, "currency": cur}),
        )
        .await?;
        let mut room_no = 100;
        for (t, tname, occ, rooms, rate) in types {
            api.post_ok(
                &format!("/api/v1/properties/{code}/room-types"),
                json!({"code": t, "name": tname, "max_occupancy": occ}),
            )
            .await?;
            room_no += 100;
            for i in 1..=*rooms {
                api.post_ok(
                    &format!("/api/v1/properties/{code}/rooms"),
                    json!({"number": (room_no + i).to_string(), "room_type": t}),
                )
                .await?;
            }
            api.put_ok(
                &format!("/api/v1/properties/{code}/rates/{t}"),
                json!({"from": day(0), "to": day(365), "amount": rate, "currency": cur}),
            )
            .await?;
        }
    }
    let guests = [
        "Thandi Nkosi",
        "Pieter van Wyk",
        "Amara Okafor",
        "Lena Fischer",
        "Kenji Sato",
        "Sofia Rossi",
        "Liam Walsh",
        "Naledi Dlamini",
    ];
    for (i, g) in guests.iter().enumerate() {
        let i = i as u64;
        let (prop, ty) = if i % 3 == 2 {
            ("RVC", "TNT")
        } else {
            ("KRL", ["STD", "LUX"][(i % 2) as usize])
        };
        let body = json!({"property": prop, "room_type": ty, "arrival": day(i % 4), "departure": day(i % 4 + 2 + i % 3),
            "units": 1, "guest": {"name": g, "email": format!("guest{i}@example.com")}, "status": "confirmed"});
        let b = api.post_ok("/api/v1/bookings", body).await?;
        // Today's arrivals check in to the first free room of their type.
        if i.is_multiple_of(4) {
            if let Some(r) = b["reference"].as_str() {
                let rooms = if prop == "KRL" {
                    if ty == "STD" {
                        201..207
                    } else {
                        301..305
                    }
                } else {
                    201..209
                };
                for room in rooms {
                    let (s, _) = api
                        .call(
                            reqwest::Method::POST,
                            &format!("/api/v1/bookings/{r}/check-in"),
                            Some(&json!({"room": room.to_string()})),
                        )
                        .await?;
                    if s.is_success() {
                        break;
                    }
                }
            }
        }
    }
    let hold = (Utc::now() + chrono::Duration::hours(4)).to_rfc3339();
    api.post_ok("/api/v1/bookings", json!({"property": "KRL", "room_type": "FAM", "arrival": day(10), "departure": day(14), "units": 2,
        "guest": {"name": "Moyo family"}, "status": "provisional", "hold_until": hold, "notes": "Awaiting deposit"})).await?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("innsync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Removes a temporary demo directory when the demo ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

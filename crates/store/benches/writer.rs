//! The writer's ceiling without HTTP: 64 concurrent submitters booking through the group-commit
//! writer on a real SQLite file with durable commits. Prints bookings/s and batch sizes.
//!
//! Every booking is checked against its seller's allotment. `BENCH_GRANTS=1` makes that check
//! read real grants: the bench server is then the property server PA owning the property, and
//! it has given a quarter of every night's rooms to `env` before the load (its own share is
//! what it sells from).
//!
//! `BENCH_PRICED=1` books every booking on a derived rate plan (a base plan with occupancy
//! prices for every room type, a season and restrictions, and a 10 % derived plan), for 2
//! adults and a child: the cost of pricing at booking time (two plan lookups by key and a
//! night-by-night price) against the unpriced path.
//!
//! `BENCH_RETURNING=1` books every booking for a returning guest (one of 500 guest profiles
//! made before the load) instead of creating a new guest with each booking: the booking path
//! alone, without the second record a new guest adds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use chrono::{Days, Utc};
use innsync_core::command::PricingRequest;
use innsync_core::pricing::{
    Adjustment, ChildBand, OccupancyPrice, Party, PlanBasis, PlanSpec, Restriction, Rounding,
    Season,
};
use innsync_core::{Command, GuestInput, InitialStatus, ServerCode};
use innsync_store::{Writer, WriterSettings};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grants = std::env::var("BENCH_GRANTS").as_deref() == Ok("1");
    let (me, settings) = if grants {
        let (wb, pa) = (
            ServerCode::parse("WB").expect("code"),
            ServerCode::parse("PA").expect("code"),
        );
        (
            pa.clone(),
            WriterSettings {
                initial_master: Some(wb.clone()),
                property_owners: vec![("BNC".into(), pa.clone())],
                holders: vec![wb, pa],
                ..WriterSettings::default()
            },
        )
    } else {
        (
            ServerCode::parse("WB").expect("code"),
            WriterSettings::default(),
        )
    };
    let (w, _reads) = Writer::open(dir.path(), me, Arc::new(Utc::now), settings).expect("open");
    let today = Utc::now().date_naive();
    let mut setup = vec![Command::CreateProperty {
        code: "BNC".into(),
        name: "Bench".into(),
        timezone: "UTC".into(),
        currency: Some("EUR".into()),
    }];
    for t in 0..50 {
        setup.push(Command::CreateRoomType {
            property: "BNC".into(),
            code: format!("T{t:02}"),
            name: "T".into(),
            max_occupancy: 2,
        });
        setup.push(Command::SetRate {
            property: "BNC".into(),
            room_type: format!("T{t:02}"),
            from: today,
            to: today + Days::new(400),
            amount: 10_000,
            currency: "EUR".into(),
        });
        for r in 0..20 {
            setup.push(Command::CreateRoom {
                property: "BNC".into(),
                number: format!("{t:02}{r:03}"),
                room_type: format!("T{t:02}"),
            });
        }
    }
    // BENCH_GRANTS=1 with BENCH_NO_GRANT_ROWS=1: the same property server, selling from the
    // whole inventory (no grants written), to tell the cost of grants from that of the setup.
    let grant_rows = grants && std::env::var("BENCH_NO_GRANT_ROWS").as_deref() != Ok("1");
    if grant_rows {
        for t in 0..50 {
            setup.push(Command::GrantAllotment {
                property: "BNC".into(),
                room_type: format!("T{t:02}"),
                from: today,
                to: today + Days::new(365),
                units: 5,
                to_holder: innsync_core::Authority::Env,
                from_holder: None,
                reason: Some("bench".into()),
            });
        }
    }
    let priced = std::env::var("BENCH_PRICED").as_deref() == Ok("1");
    if priced {
        setup.extend(rate_plans(today));
    }
    for c in setup {
        w.submit(c, "bench", None).await.expect("setup");
    }
    let mut returning: Vec<innsync_core::RecordId> = Vec::new();
    if std::env::var("BENCH_RETURNING").as_deref() == Ok("1") {
        for g in 0..500 {
            let out = w
                .submit(
                    Command::CreateGuest {
                        name: format!("Returning Guest {g}"),
                        email: Some(format!("guest{g}@example.com")),
                        phone: None,
                    },
                    "bench",
                    None,
                )
                .await
                .expect("guest");
            match out.outcome() {
                innsync_core::Outcome::Written { record, .. } => {
                    returning.push(record.meta().id.clone());
                }
                other => panic!("a guest was not written: {other:?}"),
            }
        }
    }
    let returning = Arc::new(returning);
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // BENCH_BOOKINGS=N stops after N attempts in all instead (for instruction counts).
    let budget: Option<u64> = std::env::var("BENCH_BOOKINGS")
        .ok()
        .and_then(|s| s.parse().ok());
    let attempts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..64u64)
        .map(|c| {
            let w = w.clone();
            let attempts = attempts.clone();
            let returning = returning.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut i = c;
                loop {
                    let tried = attempts.fetch_add(1, Ordering::Relaxed);
                    let done = match budget {
                        Some(b) => tried >= b,
                        None => Instant::now() >= deadline,
                    };
                    if done {
                        break;
                    }
                    i = i
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let arrival = today + Days::new(1 + (i >> 33) % 359);
                    let cmd = Command::CreateBooking {
                        property: "BNC".into(),
                        room_type: format!("T{:02}", (i >> 20) % 50),
                        arrival,
                        departure: arrival + Days::new(1 + (i >> 40) % 3),
                        units: 1,
                        guest: if returning.is_empty() {
                            GuestInput::New {
                                name: "Bench Guest".into(),
                                email: None,
                                phone: None,
                            }
                        } else {
                            let g =
                                usize::try_from((i >> 24) % returning.len() as u64).expect("index");
                            GuestInput::Existing(returning[g].clone())
                        },
                        status: InitialStatus::Confirmed,
                        hold_until: None,
                        notes: None,
                        pricing: priced.then(|| PricingRequest {
                            rate_plan: Some("NRF".into()),
                            party: Party {
                                adults: 1,
                                children: vec![7],
                            },
                        }),
                    };
                    if w.submit(cmd, "bench", None).await.is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    let secs = start.elapsed().as_secs_f64();
    let s = w.stats();
    let batches = s.batches.load(Ordering::Relaxed);
    println!(
        "writer alone, 64 submitters, durable group commit{}:",
        if grants {
            ", selling from an allotment with grants"
        } else {
            ""
        }
    );
    println!("  bookings/s          {:.0}", total as f64 / secs);
    println!(
        "  commits             {batches} (avg {:.1} commands, max {})",
        s.commands.load(Ordering::Relaxed) as f64 / batches.max(1) as f64,
        s.max_batch.load(Ordering::Relaxed)
    );
}

/// A base plan BAR (occupancy prices for the 50 room types, a season, restrictions) and NRF,
/// 10 % off it.
fn rate_plans(today: chrono::NaiveDate) -> Vec<Command> {
    let price = |t: usize, amount: Option<i64>| OccupancyPrice {
        room_type: format!("T{t:02}"),
        amount,
        adults_included: 2,
        extra_adult: 3_000,
        children: vec![ChildBand {
            up_to_age: 12,
            amount: 1_500,
        }],
        max_adults: None,
    };
    let spec = |basis, occupancy, seasons, restrictions| PlanSpec {
        name: "Bench".into(),
        currency: None,
        basis,
        occupancy,
        seasons,
        restrictions,
        reprice_on_edit: false,
        refundable: true,
        deposit: Default::default(),
        cancellation: Default::default(),
    };
    let bar = spec(
        PlanBasis::Base,
        (0..50).map(|t| price(t, None)).collect(),
        vec![Season {
            name: "High".into(),
            from: today + Days::new(100),
            to: today + Days::new(200),
            prices: (0..50).map(|t| price(t, Some(14_000))).collect(),
        }],
        vec![Restriction {
            from: today + Days::new(300),
            to: today + Days::new(310),
            max_stay_through: Some(14),
            ..Restriction::default()
        }],
    );
    let nrf = spec(
        PlanBasis::Derived {
            from: "BAR".into(),
            adjust: Adjustment::PercentBp(-1_000),
            rounding: Rounding::default(),
        },
        vec![],
        vec![],
        vec![],
    );
    [("BAR", bar), ("NRF", nrf)]
        .into_iter()
        .map(|(code, spec)| Command::PutRatePlan {
            property: "BNC".into(),
            code: code.into(),
            spec: Box::new(spec),
            if_match: None,
        })
        .collect()
}

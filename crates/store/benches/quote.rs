//! The quote in the store and the core, without HTTP: one property of 50 room types × 20
//! rooms with nightly rates, three rate plans (a base plan with occupancy prices for every
//! room type, four seasons and twelve restrictions; a 10 % derived plan; a derived amount plan
//! with its own minimum stay), 400 bookings sold and a quarter of every room type granted to
//! another holder. Measures `ReadPool::quote_facts` (one read transaction) and
//! `pricing::quote` for a 365-night stay and a 3-night stay, for 2 adults and a child of 7;
//! prints the median and p99 of `QUOTE_SAMPLES` (default 200) quotes each.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use chrono::{Days, NaiveDate, Utc};
use innsync_core::dates::Nights;
use innsync_core::pricing::{
    quote, Adjustment, ChildBand, OccupancyPrice, Party, PlanBasis, PlanSpec, Restriction,
    Rounding, Season,
};
use innsync_core::{Authority, Command, GuestInput, InitialStatus, ServerCode};
use innsync_store::{Writer, WriterSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TYPES: usize = 50;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn spec(
    basis: PlanBasis,
    occupancy: Vec<OccupancyPrice>,
    seasons: Vec<Season>,
    restrictions: Vec<Restriction>,
) -> PlanSpec {
    PlanSpec {
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
    }
}

fn plans(today: NaiveDate) -> Vec<(&'static str, PlanSpec)> {
    let price = |t: usize, amount: Option<i64>| OccupancyPrice {
        room_type: format!("T{t:02}"),
        amount,
        adults_included: 2,
        extra_adult: 3_000,
        children: vec![
            ChildBand {
                up_to_age: 3,
                amount: 0,
            },
            ChildBand {
                up_to_age: 12,
                amount: 1_500,
            },
        ],
        max_adults: Some(3),
    };
    let seasons = (0..4u64)
        .map(|s| Season {
            name: format!("Season {s}"),
            from: today + Days::new(20 + s * 90),
            to: today + Days::new(60 + s * 90),
            prices: (0..TYPES)
                .map(|t| price(t, Some(12_000 + 1_000 * s as i64)))
                .collect(),
        })
        .collect();
    let restrictions = (0..12u64)
        .map(|m| Restriction {
            from: today + Days::new(m * 30),
            to: today + Days::new(m * 30 + 7),
            room_types: vec![format!("T{:02}", m as usize % TYPES)],
            min_stay_through: Some(2),
            ..Restriction::default()
        })
        .collect();
    vec![
        (
            "BAR",
            spec(
                PlanBasis::Base,
                (0..TYPES).map(|t| price(t, None)).collect(),
                seasons,
                restrictions,
            ),
        ),
        (
            "NRF",
            spec(
                PlanBasis::Derived {
                    from: "BAR".into(),
                    adjust: Adjustment::PercentBp(-1_000),
                    rounding: Rounding::default(),
                },
                vec![],
                vec![],
                vec![],
            ),
        ),
        (
            "LONG",
            spec(
                PlanBasis::Derived {
                    from: "BAR".into(),
                    adjust: Adjustment::Amount(-1_500),
                    rounding: Rounding::default(),
                },
                vec![],
                vec![],
                vec![Restriction {
                    from: today,
                    to: today + Days::new(400),
                    min_stay_arrival: Some(5),
                    ..Restriction::default()
                }],
            ),
        ),
    ]
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// This process's CPU time (user + system) from `/proc/self/stat`, in clock ticks of 10 ms:
/// unlike wall-clock time, what other processes do to the machine hardly changes it.
fn cpu_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wb = ServerCode::parse("WB").expect("code");
    let rs = ServerCode::parse("RS").expect("code");
    let settings = WriterSettings {
        initial_master: Some(wb.clone()),
        holders: vec![wb.clone(), rs.clone()],
        ..WriterSettings::default()
    };
    let (w, reads) = Writer::open(dir.path(), wb, Arc::new(Utc::now), settings).expect("open");
    let today = Utc::now().date_naive();
    let mut setup = vec![Command::CreateProperty {
        code: "BNC".into(),
        name: "Bench".into(),
        timezone: "UTC".into(),
        currency: Some("EUR".into()),
    }];
    for t in 0..TYPES {
        let code = format!("T{t:02}");
        setup.push(Command::CreateRoomType {
            property: "BNC".into(),
            code: code.clone(),
            name: "T".into(),
            max_occupancy: 4,
        });
        setup.push(Command::SetRate {
            property: "BNC".into(),
            room_type: code.clone(),
            from: today,
            to: today + Days::new(400),
            amount: 10_000,
            currency: "EUR".into(),
        });
        for r in 0..20 {
            setup.push(Command::CreateRoom {
                property: "BNC".into(),
                number: format!("{t:02}{r:03}"),
                room_type: code.clone(),
            });
        }
        setup.push(Command::GrantAllotment {
            property: "BNC".into(),
            room_type: code,
            from: today,
            to: today + Days::new(380),
            units: 5,
            to_holder: Authority::Server(rs.clone()),
            from_holder: None,
            reason: Some("bench".into()),
        });
    }
    for (code, s) in plans(today) {
        setup.push(Command::PutRatePlan {
            property: "BNC".into(),
            code: code.into(),
            spec: Box::new(s),
            if_match: None,
        });
    }
    for i in 0..400u64 {
        let arrival = today + Days::new(1 + (i * 7) % 360);
        setup.push(Command::CreateBooking {
            property: "BNC".into(),
            room_type: format!("T{:02}", i as usize % TYPES),
            arrival,
            departure: arrival + Days::new(1 + i % 3),
            units: 1,
            guest: GuestInput::New {
                name: "Bench Guest".into(),
                email: None,
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: None,
        });
    }
    for c in setup {
        w.submit(c, "bench", None).await.expect("setup");
    }
    let samples: usize = std::env::var("QUOTE_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let family = Party {
        adults: 2,
        children: vec![7],
    };
    println!(
        "quote, 1 property, {TYPES} room types x 20 rooms, 3 rate plans, 400 bookings, a grant per room type; 2 adults + a child of 7; {samples} quotes each"
    );
    println!("| stay | store read p50 / p99 | read + pricing p50 / p99 | CPU per quote | lines |");
    println!("|---|---|---|---|---|");
    for (label, from, len) in [
        ("365 nights", today + Days::new(1), 365u64),
        ("3 nights", today + Days::new(30), 3),
    ] {
        let nights = Nights::stay(from, from + Days::new(len)).expect("nights");
        let (mut read_t, mut all_t) = (Vec::new(), Vec::new());
        let mut lines = 0;
        let ticks = cpu_ticks();
        for _ in 0..samples {
            let t0 = Instant::now();
            let facts = reads
                .quote_facts("BNC", nights)
                .expect("read")
                .expect("property");
            let t1 = Instant::now();
            let q = quote(&facts, nights, &family, 1, None);
            all_t.push(t0.elapsed());
            read_t.push(t1 - t0);
            lines = q.len();
            assert!(q.iter().any(|l| l.total.is_some()), "something is priced");
            assert!(q.iter().any(|l| !l.held_by.is_empty()), "RS holds units");
        }
        let cpu = Duration::from_millis((cpu_ticks() - ticks) * 10) / samples.max(1) as u32;
        read_t.sort();
        all_t.sort();
        println!(
            "| {label} | {} / {} | {} / {} | {} | {lines} |",
            ms(pct(&read_t, 0.5)),
            ms(pct(&read_t, 0.99)),
            ms(pct(&all_t, 0.5)),
            ms(pct(&all_t, 0.99)),
            ms(cpu)
        );
    }
}

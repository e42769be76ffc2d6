//! `innsync bench scale`: the same reads and a booking on stores of growing size, to show that
//! their cost stays flat (issue 20). Each store is built through the store's writer directly
//! (no HTTP): 10 properties × 10 room types × 10 rooms (1,000 rooms) with nightly rates and a
//! rate plan, then one-night bookings spread over two years (more for a large store: see
//! [`span`]), a new guest each, by many
//! concurrent submitters (group commit). Then, in this process, each operation runs `samples`
//! times and the median and p99 are printed per store size. The reads are the calls the API
//! makes: availability and quote (3 nights, one property), the property read (record, room
//! types, room count), a booking by reference, a property's bookings list (20, from a
//! reference in the middle), a guest search by name; the booking is a durable write.

use super::bench::{ms, BenchArgs};
use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use futures::future::join_all;
use innsync_core::dates::Nights;
use innsync_core::{Command, GuestInput, InitialStatus, Outcome, Record, ServerCode};
use innsync_store::{BookingFilter, ReadPool, WriteOutcome, Writer, WriterSettings};
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PROPERTIES: usize = 10;
const TYPES: usize = 10;
const ROOMS: usize = 10;
/// Concurrent submitters while building a store.
const BUILDERS: usize = 64;
/// Nights the bookings of a small store spread over (two years).
const MIN_SPAN: u64 = 730;
/// The average occupancy a large store is built to: past two years' worth, its bookings spread
/// over as many nights as keep the rooms this full (1M bookings: 1,429 nights), so the store
/// holds what it was asked for and the timed bookings still find rooms.
const OCCUPANCY_PERCENT: u64 = 70;

/// The nights `size` one-night bookings spread over (within the booking horizon).
fn span(size: u64) -> u64 {
    let rooms = (PROPERTIES * TYPES * ROOMS) as u64;
    (size * 100)
        .div_ceil(rooms * OCCUPANCY_PERCENT)
        .clamp(MIN_SPAN, innsync_core::limits::HORIZON_DAYS_AHEAD - 1)
}

/// One measured operation: its name, p50 and p99.
type Row = (&'static str, Duration, Duration);

/// Store sizes measured, in bookings.
fn sizes() -> Vec<u64> {
    std::env::var("SCALE_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000])
}

/// Runs the scale table.
pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let samples: usize = std::env::var("SCALE_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut table: Vec<(u64, Vec<Row>)> = vec![];
    for size in sizes() {
        let dir = std::env::temp_dir().join(format!("innsync-scale-{}-{size}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let today = Utc::now().date_naive();
        let me = ServerCode::parse("WB").map_err(anyhow::Error::msg)?;
        let (w, reads) = Writer::open(&dir, me, Arc::new(Utc::now), WriterSettings::default())?;
        let t0 = Instant::now();
        let refs = build(&w, today, size, a.seed).await?;
        println!(
            "built {size} bookings in {:.1} s ({:.0} MB)",
            t0.elapsed().as_secs_f64(),
            dir_size(&dir) as f64 / 1e6
        );
        let rows = measure(&w, &reads, today, &refs, samples, a.seed).await?;
        table.push((size, rows));
        drop(w);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!();
    let head: Vec<String> = table.iter().map(|(s, _)| format!("{s} bookings")).collect();
    println!("| operation (p50 / p99) | {} |", head.join(" | "));
    println!("|---|{}", "---|".repeat(table.len()));
    if let Some((_, first)) = table.first() {
        for (i, (name, _, _)) in first.iter().enumerate() {
            let cells: Vec<String> = table
                .iter()
                .map(|(_, rows)| format!("{} / {}", ms(rows[i].1), ms(rows[i].2)))
                .collect();
            println!("| {name} | {} |", cells.join(" | "));
        }
    }
    Ok(())
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn property(p: usize) -> String {
    format!("P{p:02}")
}

/// Reference data, then `size` one-night bookings over two years; returns their references.
async fn build(w: &Writer, today: NaiveDate, size: u64, seed: u64) -> anyhow::Result<Vec<String>> {
    let mut setup = vec![];
    for p in 0..PROPERTIES {
        setup.push(Command::CreateProperty {
            code: property(p),
            name: format!("Scale Hotel {p}"),
            timezone: "UTC".into(),
            currency: Some("EUR".into()),
        });
        for t in 0..TYPES {
            setup.push(Command::CreateRoomType {
                property: property(p),
                code: format!("T{t:02}"),
                name: format!("Type {t}"),
                max_occupancy: 2,
            });
            // Rates over the whole span, in ranges a rate command takes (700 nights each).
            let last = span(size).max(700);
            for from in (0..last).step_by(700) {
                setup.push(Command::SetRate {
                    property: property(p),
                    room_type: format!("T{t:02}"),
                    from: today + Days::new(from),
                    to: today + Days::new((from + 700).min(last)),
                    amount: 10_000,
                    currency: "EUR".into(),
                });
            }
            for r in 0..ROOMS {
                setup.push(Command::CreateRoom {
                    property: property(p),
                    number: format!("{t:02}{r:02}"),
                    room_type: format!("T{t:02}"),
                });
            }
        }
    }
    for cmd in setup {
        w.submit(cmd, "bench", None).await?;
    }
    let per = size.div_ceil(BUILDERS as u64);
    let tasks = (0..BUILDERS).map(|b| {
        let w = w.clone();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed * 7_919 + b as u64);
        tokio::spawn(async move {
            let mut refs = vec![];
            for i in 0..per {
                let arrival = today + Days::new(rng.gen_range(1..span(size)));
                let cmd = Command::CreateBooking {
                    property: property(rng.gen_range(0..PROPERTIES)),
                    room_type: format!("T{:02}", rng.gen_range(0..TYPES)),
                    arrival,
                    departure: arrival + Days::new(1),
                    units: 1,
                    guest: GuestInput::New {
                        name: format!("Guest {b} {i} Scale"),
                        email: None,
                        phone: None,
                    },
                    status: InitialStatus::Confirmed,
                    hold_until: None,
                    notes: None,
                    pricing: None,
                };
                if let Ok(WriteOutcome::Done(Outcome::Written {
                    record: Record::Booking(bk),
                    ..
                })) = w.submit(cmd, "bench", None).await
                {
                    refs.push(bk.meta.id.to_string());
                }
            }
            refs
        })
    });
    let mut refs = vec![];
    for r in join_all(tasks).await {
        refs.extend(r.context("a builder failed")?);
    }
    refs.sort();
    Ok(refs)
}

fn p50_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

/// Times `samples` runs of `f`.
fn time<T>(
    samples: usize,
    mut f: impl FnMut(usize) -> anyhow::Result<T>,
) -> anyhow::Result<(Duration, Duration)> {
    let mut v = Vec::with_capacity(samples);
    for i in 0..samples {
        let t0 = Instant::now();
        f(i)?;
        v.push(t0.elapsed());
    }
    Ok(p50_p99(v))
}

async fn measure(
    w: &Writer,
    reads: &ReadPool,
    today: NaiveDate,
    refs: &[String],
    samples: usize,
    seed: u64,
) -> anyhow::Result<Vec<Row>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let stays: Vec<(String, Nights)> = (0..samples)
        .map(|_| {
            let from = today + Days::new(rng.gen_range(1..700));
            (
                property(rng.gen_range(0..PROPERTIES)),
                Nights {
                    from,
                    to: from + Days::new(3),
                },
            )
        })
        .collect();
    let mut rows = vec![];
    // A booking: one durable write at a time.
    let mut lat = vec![];
    for (i, (p, n)) in stays.iter().enumerate().take(samples.min(200)) {
        let cmd = Command::CreateBooking {
            property: p.clone(),
            room_type: format!("T{:02}", i % TYPES),
            arrival: n.from,
            departure: n.from + Days::new(1),
            units: 1,
            guest: GuestInput::New {
                name: "Timed Guest".into(),
                email: None,
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: None,
        };
        // A night already full of this room type is refused; the next room type is tried
        // (only the booking that is written is timed).
        let mut cmd = cmd;
        let mut tries = 0;
        let took = loop {
            let t0 = Instant::now();
            match w.submit(cmd.clone(), "bench", None).await {
                Ok(_) => break t0.elapsed(),
                Err(innsync_store::StoreError::Refused(
                    innsync_core::DomainError::NoAvailability { .. },
                )) if tries < TYPES => {
                    tries += 1;
                    if let Command::CreateBooking { room_type, .. } = &mut cmd {
                        *room_type = format!("T{:02}", (i + tries) % TYPES);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        lat.push(took);
    }
    let (a, b) = p50_p99(lat);
    rows.push(("book (1 night, durable, one at a time)", a, b));
    let (a, b) = time(samples, |i| {
        let (p, n) = &stays[i];
        reads.availability(p, *n).map_err(anyhow::Error::from)
    })?;
    rows.push(("availability, 3 nights, 10 room types", a, b));
    let (a, b) = time(samples, |i| {
        let (p, n) = &stays[i];
        reads.quote_facts(p, *n).map_err(anyhow::Error::from)
    })?;
    rows.push(("quote facts, 3 nights", a, b));
    let (a, b) = time(samples, |i| {
        let p = &stays[i].0;
        Ok((
            reads.property(p)?,
            reads.room_types(p)?,
            reads.room_count(p)?,
        ))
    })?;
    rows.push(("property read (record, room types, room count)", a, b));
    let (a, b) = time(samples, |i| {
        reads
            .booking(&refs[(i * 7_919) % refs.len()])
            .map_err(anyhow::Error::from)
    })?;
    rows.push(("booking read", a, b));
    let (a, b) = time(samples, |i| {
        reads
            .bookings(&BookingFilter {
                property: Some(stays[i].0.clone()),
                after: Some(refs[refs.len() / 2].clone()),
                limit: 20,
                ..BookingFilter::default()
            })
            .map_err(anyhow::Error::from)
    })?;
    rows.push(("bookings list, one property, 20 from the middle", a, b));
    let (a, b) = time(samples, |i| {
        reads
            .search_guests(&format!("Guest {} {}", i % BUILDERS, i % 50), 20)
            .map_err(anyhow::Error::from)
    })?;
    rows.push(("guest search by name", a, b));
    Ok(rows)
}

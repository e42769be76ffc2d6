//! `innsync bench all`: one table for the whole system, each area measured by its own
//! benchmark in a reduced mode so that the table takes a few minutes: bookings and
//! availability on one server, replication (catch-up, visibility, handover) between two, and
//! a General Reset of 10,000 rooms over the PMS link, and a three-node cluster (throughput
//! through the leader, failover after kill -9 of the leader) — every figure measured now.

use super::bench::{measure_bookings, ms, BenchArgs};
use super::bench_cluster::measure_cluster;
use super::bench_replication::measure_replication;
use anyhow::bail;
use std::time::Duration;

/// Seconds of booking load in the reduced mode.
pub const BOOKING_SECONDS: u64 = 10;
/// Changes written while the second server is offline, in the reduced mode.
pub const OFFLINE_CHANGES: u64 = 50_000;
/// Rooms of the General Reset.
pub const RESET_ROOMS: u32 = 10_000;
/// Nodes of the gateway it runs against.
pub const RESET_NODES: usize = 4;

/// Seconds of load on the cluster in the reduced mode.
pub const CLUSTER_SECONDS: u64 = 5;
/// Failovers timed in the reduced mode.
pub const FAILOVERS: usize = 3;

#[allow(
    clippy::too_many_lines,
    reason = "one row of the table per area, in the order printed"
)]
pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    eprintln!(
        "1/4 bookings on one server: {} clients, {BOOKING_SECONDS} s",
        a.clients
    );
    let bookings = measure_bookings(&BenchArgs {
        seconds: BOOKING_SECONDS.min(a.seconds),
        what: "bookings".into(),
        ..a.clone()
    })
    .await?;
    eprintln!("2/4 replication between two servers: {OFFLINE_CHANGES} changes offline");
    let repl = measure_replication(&BenchArgs {
        offline_changes: OFFLINE_CHANGES.min(a.offline_changes),
        what: "replication".into(),
        ..a.clone()
    })
    .await?;
    eprintln!("3/4 General Reset of {RESET_ROOMS} rooms on {RESET_NODES} nodes over loopback");
    let settings = innsync_pms::Settings {
        keepalive_interval_ms: None,
        ..innsync_pms::Settings::default()
    };
    let (reset, link) =
        innsync_pms::net::reset_timing::time_general_reset(RESET_ROOMS, RESET_NODES, settings)
            .await
            .map_err(anyhow::Error::msg)?;
    link.gateway.shutdown().await;
    eprintln!("4/4 a three-node cluster: {CLUSTER_SECONDS} s of load, {FAILOVERS} failovers");
    let cluster = measure_cluster(&BenchArgs {
        seconds: CLUSTER_SECONDS.min(a.seconds),
        failovers: FAILOVERS.min(a.failovers.max(1)),
        what: "cluster".into(),
        ..a.clone()
    })
    .await?;
    let per_s = |d: Duration, n: usize| n as f64 / d.as_secs_f64();
    let rows: Vec<(String, String)> = vec![
        (
            format!("bookings/s, one server, {} clients, durable", a.clients),
            format!("{:.0}", bookings.rate),
        ),
        (
            "booking latency p50 / p99, one server".into(),
            format!("{} / {}", ms(bookings.latency.0), ms(bookings.latency.1)),
        ),
        (
            format!("bookings/s and p50 / p99 on a three-node cluster (leader), {} clients", a.clients),
            format!(
                "{:.0}, {} / {}",
                cluster.leader.0,
                ms(cluster.leader.1),
                ms(cluster.leader.2)
            ),
        ),
        (
            format!(
                "availability, {} room types x 365 nights: store p50 / p99, HTTP p50 / p99",
                a.room_types
            ),
            format!(
                "{} / {}, {} / {}",
                ms(bookings.store.0),
                ms(bookings.store.1),
                ms(bookings.http.0),
                ms(bookings.http.1)
            ),
        ),
        (
            format!(
                "replication visibility WB → RS p50 / p99 ({} bookings)",
                repl.visible
            ),
            format!("{} / {}", ms(repl.visibility.0), ms(repl.visibility.1)),
        ),
        (
            format!("catch-up after {} changes offline", repl.caught_up),
            format!(
                "{:.0} changes/s ({:.2} s)",
                repl.changes_per_s(),
                repl.catch_up.as_secs_f64()
            ),
        ),
        (
            "handover when caught up: until granted / until the new master writes".into(),
            format!("{} / {}", ms(repl.handover.0), ms(repl.handover.1)),
        ),
        (
            "failover: kill -9 of the leader → first acknowledged write, min / median / max".into(),
            match cluster.failover {
                Some((n, min, med, max)) => {
                    format!("{} / {} / {} ({n} runs)", ms(min), ms(med), ms(max))
                }
                None => "no failover run".into(),
            },
        ),
        (
            format!(
                "General Reset of {} rooms on {RESET_NODES} nodes: END acknowledged / all committed",
                reset.rooms
            ),
            format!(
                "{} ({:.0} messages/s) / {}",
                ms(reset.end_acked),
                per_s(reset.end_acked, reset.messages),
                ms(reset.committed)
            ),
        ),
    ];
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    for (m, v) in &rows {
        println!("| {m} | {v} |");
    }
    println!();
    println!(
        "(whole table in {:.0} s; full runs: `innsync bench`, `innsync bench replication`, `cargo bench -p innsync-pms --bench general_reset`)",
        started.elapsed().as_secs_f64()
    );
    if bookings.errors > 0 {
        bail!("{} booking requests failed unexpectedly", bookings.errors);
    }
    if reset.occupied == 0 {
        bail!("the General Reset left no room occupied");
    }
    Ok(())
}

//! General Reset benchmark: 10,000 rooms over 4 nodes through `run_pms_link` and `run_gateway`
//! on loopback TCP with realistic protocol timeouts, plus message round trips per second and the
//! same reset between the two sans-I/O cores in memory (the protocol's own cost).
//!
//! Run with `cargo bench -p innsync-pms --bench general_reset`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use std::time::{Duration, Instant};

use innsync_pms::net::reset_timing::{time_general_reset, TimedLink};
use innsync_pms::net::{PmsLinkEvent, PmsRequest};
use innsync_pms::{
    Command, Extension, Message, MessageId, PmsEvent, PmsLink, RoomOccupancy, RoomPlan, Settings,
    SystemSide,
};

const ROOMS: u32 = 10_000;
const FIRST: u32 = 10_000;
const NODES: usize = 4;
const ROUND_TRIPS: u64 = 5_000;

fn snapshot() -> Vec<RoomOccupancy> {
    innsync_pms::net::reset_timing::snapshot(ROOMS)
}

/// Realistic protocol settings: PMS.md timeouts, a 200 ms commit, keep-alive off for clean figures.
fn settings() -> Settings {
    Settings {
        keepalive_interval_ms: None,
        ..Settings::default()
    }
}

async fn over_tcp() {
    let (t, link) = time_general_reset(ROOMS, NODES, settings())
        .await
        .expect("general reset over loopback");
    let TimedLink {
        requests,
        mut events,
        gateway: handle,
    } = link;
    let (messages, end_acked, committed, occupied) =
        (t.messages, t.end_acked, t.committed, t.occupied);
    println!(
        "General Reset over loopback TCP, {ROOMS} rooms on {NODES} nodes ({messages} messages):"
    );
    println!(
        "  GRS .. END acknowledged : {:>8.1} ms  ({:.0} messages/s)",
        ms(end_acked),
        messages as f64 / end_acked.as_secs_f64()
    );
    println!(
        "  all nodes committed     : {:>8.1} ms  (includes the 200 ms modelled commit)",
        ms(committed)
    );
    println!("  rooms occupied after    : {occupied}");

    let started = Instant::now();
    for i in 0..ROUND_TRIPS {
        let extension =
            Extension::new(&(FIRST + (i % u64::from(ROOMS)) as u32).to_string()).expect("ext");
        let message = if i % 2 == 0 {
            Message::CheckOut(extension)
        } else {
            Message::CheckIn(extension)
        };
        requests
            .send(PmsRequest::Send {
                id: MessageId(i),
                message,
            })
            .await
            .expect("link running");
        while let Some(e) = events.recv().await {
            match e {
                PmsLinkEvent::Pms(PmsEvent::Delivered(_)) => break,
                PmsLinkEvent::Pms(PmsEvent::Failed(id, why)) => panic!("{id:?} failed: {why}"),
                _ => {}
            }
        }
    }
    let elapsed = started.elapsed();
    println!("Outbox messages, one at a time (ENQ/ACK/text/ACK + application round trip):");
    println!(
        "  {ROUND_TRIPS} messages in {:.1} ms: {:.0} messages/s, {:.1} µs each",
        ms(elapsed),
        ROUND_TRIPS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / ROUND_TRIPS as f64
    );
    handle.shutdown().await;
}

/// The same reset between the two cores, bytes passed in memory: the protocol's own CPU cost.
fn in_memory() {
    let settings = Settings {
        commit_duration_ms: 0,
        reset_on_link_start: false,
        ..settings()
    };
    let mut pms = PmsLink::new(settings.clone()).expect("settings");
    let mut system = SystemSide::new(
        settings,
        NODES,
        RoomPlan::numbered(FIRST, ROOMS, NODES).expect("plan"),
    )
    .expect("system");
    let started = Instant::now();
    pms.link_up(0);
    system.link_up(0);
    pms.start_general_reset(0, snapshot()).expect("reset");
    let mut done = false;
    let mut steps = 0u64;
    while !done {
        let mut to_system = Vec::new();
        for c in pms.take_commands() {
            match c {
                Command::Send(b) => to_system.extend(b),
                Command::Deliver(PmsEvent::ResetCompleted { .. }) => done = true,
                _ => {}
            }
        }
        system.handle_bytes(0, &to_system);
        let mut to_pms = Vec::new();
        for c in system.take_commands() {
            if let Command::Send(b) = c {
                to_pms.extend(b);
            }
        }
        pms.handle_bytes(0, &to_pms);
        steps += 1;
        assert!(steps < 1_000_000, "in-memory reset did not finish");
    }
    let elapsed = started.elapsed();
    println!(
        "General Reset between the sans-I/O cores in memory, {ROOMS} rooms: {:.1} ms",
        ms(elapsed)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    in_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(over_tcp());
}

//! Two real servers over a geostationary satellite link, unscaled (700 ms round trip,
//! 256 kbit/s each way, 3% of segments lost and retransmitted), modelled by the fault proxy
//! (issue 22): bookings made on both sides converge, the operator sees the link's figures, and
//! a link dropped in the middle of a pull's answer loses and duplicates nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;
mod links_common;

use innsync_faultproxy::profile::SATELLITE;
use links_common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_on_both_sides_converge_over_satellite_and_the_operator_sees_the_link() {
    let p = pair(&[]).await;
    p.shape(&SATELLITE, 1);
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 5).await;
    let mut refs = Vec::new();
    for i in 0..5u64 {
        for (api, arrival) in [(&wb, 1 + i), (&rs, 20 + i)] {
            let b = api
                .ok("/api/v1/bookings", tent(arrival, &format!("Guest {i}")))
                .await;
            refs.push(b["reference"].as_str().unwrap().to_string());
        }
    }
    converged(&wb, &rs, Duration::from_secs(45)).await;
    let (on_wb, on_rs) = (references(&wb).await, references(&rs).await);
    assert_eq!(on_wb, on_rs);
    for r in &refs {
        assert!(on_rs.contains(r), "{r} missing");
    }
    assert_eq!(on_rs.len(), refs.len());
    // Over the link: the relays carried it, with some segments lost.
    let st = p.to_wb.stats();
    assert!(st.bytes_down > 0 && st.bytes_up > 0, "{st:?}");
    // The operator sees the link from either end: traffic, a round trip of at least the
    // satellite (a pull's time less the peer's long-poll wait), retries.
    // The smoothed round trip reaches the satellite's after a few pulls over it.
    let l = within(
        Duration::from_secs(30),
        "RS to see the satellite's round trip",
        || async {
            let l = link_of(&rs, "WB").await;
            (l["rtt_ms"].as_u64().unwrap_or(0) >= 600).then_some(l)
        },
    )
    .await;
    assert!(l["bytes_in"].as_u64().unwrap() > 1_000, "{l}");
    assert!(l["bytes_out"].as_u64().unwrap() > 500, "{l}");
    assert!(l["since_success_s"].as_u64().is_some(), "{l}");
    assert_eq!(l["catch_up_s"].as_f64(), Some(0.0), "{l}");
    let l = link_of(&wb, "RS").await;
    assert!(l["bytes_out"].as_u64().unwrap() > 1_000, "{l}");
    // `innsync status` shows the same figures.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args(["status", "--url", &p.rs.base, "--token", common::TOKEN])
        .env("INNSYNC_CA", common::test_certs().join("ca.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("link"))
        .find(|l| l.starts_with("WB"))
        .unwrap_or_else(|| panic!("no link row for WB:\n{text}"));
    let rtt: u64 = row.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert!(rtt >= 600, "{row}");
    let m = metrics(&rs).await;
    for family in [
        "innsync_peer_link_bytes_in_total{peer=\"WB\"}",
        "innsync_peer_link_bytes_out_total{peer=\"WB\"}",
        "innsync_peer_link_round_trip_seconds{peer=\"WB\"}",
        "innsync_peer_link_since_success_seconds{peer=\"WB\"}",
        "innsync_peer_link_catch_up_seconds{peer=\"WB\"}",
        "innsync_peer_link_in_bytes_per_second{peer=\"WB\"}",
    ] {
        assert!(m.contains(family), "{family} not in /metrics:\n{m}");
    }
    p.wb.check_invariants();
    p.rs.check_invariants();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_dropped_mid_pull_loses_and_duplicates_nothing() {
    let p = pair(&[]).await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 10).await;
    converged(&wb, &rs, Duration::from_secs(30)).await;
    p.shape(&SATELLITE, 2);
    // RS is cut off while WB takes 800 bookings (about 1,600 changes: two pulls' worth), on
    // nights after RS's own allotment.
    p.cut();
    let acked = offline_bookings(&wb, 800).await;
    // The link returns; once an answer is streaming down to RS (past the TLS handshake),
    // it drops again, in the middle of the pull.
    p.drop_mid_pull(&wb, &rs).await;
    p.heal();
    every_booking_once(&wb, &rs, &acked, Duration::from_secs(50)).await;
    p.rs.check_invariants();
    // The operator of RS saw the failed pulls.
    let l = link_of(&rs, "WB").await;
    assert!(l["retries"].as_u64().unwrap() >= 1, "{l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_catch_up_too_big_for_the_pull_timeout_shrinks_its_batch_and_finishes() {
    // 2 s for a pull after a failure: a new TLS connection over the satellite takes about two
    // round trips (1.4 s), so a 1,000-change answer (about 30 KB, 0.9 s at 256 kbit/s) can never
    // arrive in time; only smaller batches can.
    let p = pair(&["--setting", "peer_request_timeout=2s"]).await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 10).await;
    converged(&wb, &rs, Duration::from_secs(30)).await;
    p.shape(&SATELLITE, 4);
    p.cut();
    let acked = offline_bookings(&wb, 800).await;
    p.heal();
    converged(&wb, &rs, Duration::from_secs(55)).await;
    let on_rs = references(&rs).await;
    assert_eq!(on_rs.len(), acked.len());
    for r in &acked {
        assert!(on_rs.contains(r), "{r} lost");
    }
    let l = link_of(&rs, "WB").await;
    assert!(l["retries"].as_u64().unwrap() >= 1, "{l}");
}

/// Both servers' link meters count what the link really carries: over TLS with HTTP/2 (what
/// peers negotiate), each server's figures for the other — its own pulls and the pulls it
/// serves — add up to what the two relays carried, within 3%. The meter once estimated headers
/// at their HTTP/1.1 size and left TLS out, which missed this by far more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_link_meter_counts_what_the_relays_carry() {
    let p = pair(&[]).await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 5).await;
    p.shape(&SATELLITE, 5);
    for i in 0..8u64 {
        let (api, arrival) = if i % 2 == 0 {
            (&wb, 1 + i)
        } else {
            (&rs, 20 + i)
        };
        api.ok(
            "/api/v1/bookings",
            tent(arrival, &format!("Metered guest {i}")),
        )
        .await;
    }
    converged(&wb, &rs, Duration::from_secs(45)).await;
    let relays = || {
        p.links()
            .iter()
            .map(|l| {
                let s = l.stats();
                s.bytes_up + s.bytes_down
            })
            .sum::<u64>()
    };
    let metered = |l: serde_json::Value| {
        l["bytes_in"].as_u64().unwrap_or(0) + l["bytes_out"].as_u64().unwrap_or(0)
    };
    // Once nothing is in flight (both long-polls waiting), the counts agree.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (carried, on_wb, on_rs) = loop {
        let carried = relays();
        let (on_wb, on_rs) = (
            metered(link_of(&wb, "RS").await),
            metered(link_of(&rs, "WB").await),
        );
        let close = |m: u64| m.abs_diff(carried) * 100 <= carried * 3;
        if close(on_wb) && close(on_rs) {
            break (carried, on_wb, on_rs);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relays carried {carried} bytes; WB's meter says {on_wb}, RS's {on_rs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(carried > 5_000, "the link carried only {carried} bytes");
    eprintln!("relays {carried} bytes, WB's meter {on_wb}, RS's meter {on_rs}");
}

/// A planned handover over the satellite, WB → RS and back: each completes (or, if the link
/// stalls past `handover_timeout`, aborts with the old master still master), both ends agree
/// on the master afterwards, the new master's writes reach the other side, and no epoch has
/// two servers writing environment data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handover_over_satellite_and_back_completes_or_aborts_safely() {
    let p = pair(&[]).await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 5).await;
    p.shape(&SATELLITE, 7);
    for i in 0..3u64 {
        wb.ok("/api/v1/bookings", tent(1 + i, &format!("Before {i}")))
            .await;
    }
    let mut master = "WB";
    let mut completed = 0;
    for (from, from_code, to) in [(&wb, "WB", "RS"), (&rs, "RS", "WB")] {
        if master != from_code {
            continue;
        }
        for _ in 0..3 {
            if try_handover(from, from_code, to).await {
                master = to;
                completed += 1;
                break;
            }
        }
        agree_on_master(&wb, &rs, master, Duration::from_secs(30)).await;
        // The master of the moment takes an env write, and the other side gets it.
        let m = if master == "WB" { &wb } else { &rs };
        m.ok(
            "/api/v1/properties/LNK/rooms",
            serde_json::json!({"number": format!("9{completed}"), "room_type": "TNT"}),
        )
        .await;
        converged(&wb, &rs, Duration::from_secs(45)).await;
    }
    assert_eq!(
        completed, 2,
        "a handover over the satellite did not complete"
    );
    assert_eq!(master, "WB");
    one_env_writer_per_epoch(&p);
    assert_eq!(
        references(&wb).await,
        references(&rs).await,
        "the bookings differ after the handovers"
    );
}

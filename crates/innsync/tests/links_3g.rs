//! Two real servers over a 3G link with its drop-outs (issue 22), modelled by the fault proxy:
//! 384 kbit/s each way, 2% loss, jitter, and the link dropping out periodically. Times are
//! scaled by 0.2 so the test runs in well under a minute: 30 ms ± 16 ms round trip, a 6 s
//! drop-out every 24 s (the profile: 150 ms ± 80 ms, 30 s every 2 minutes). Bookings made on
//! both sides across a drop-out converge, and a handover over the link either completes or
//! aborts with the old master still master — never two masters, nothing lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;
mod links_common;

use innsync_faultproxy::profile::THREE_G;
use links_common::*;
use serde_json::json;
use std::time::Duration;

/// The profile's times × this.
const SCALE: f64 = 0.2;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bookings_and_a_handover_over_3g_with_drop_outs_stay_safe() {
    let p = pair(&[
        "--setting",
        "handover_timeout=4s",
        "--setting",
        "handover_silence=1s",
    ])
    .await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 10).await;
    let g = THREE_G.scaled(SCALE);
    p.shape(&g, 3);
    // Bookings on both sides, one pair every 300 ms, until a drop-out has come and gone.
    let mut refs = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    let mut i = 0u64;
    let mut first_out: Option<u64> = None;
    loop {
        tick.tick().await;
        for (api, arrival) in [(&wb, 1 + i % 15), (&rs, 20 + i % 20)] {
            let a = api
                .post("/api/v1/bookings", tent(arrival, &format!("Guest {i}")))
                .await;
            match a.status.as_u16() {
                201 => refs.push(a.body["reference"].as_str().unwrap().to_string()),
                // Sold out (RS has one tent a night of its own): refused, nothing written.
                409 => {}
                s => panic!("booking answered {s}: {:?}", a.body),
            }
        }
        i += 1;
        if first_out.is_none() && p.to_wb.stats().dropouts >= 1 {
            first_out = Some(i);
        }
        // 25 ticks (7.5 s) on from its start: past the 6 s drop-out.
        if first_out.is_some_and(|f| i >= f + 25) {
            break;
        }
        assert!(i < 200, "no drop-out came");
    }
    let (a, b) = (p.to_wb.stats(), p.to_rs.stats());
    assert!(
        a.severed + b.severed + a.refused_cut + b.refused_cut >= 1,
        "{a:?} {b:?}"
    );
    every_booking_once(&wb, &rs, &refs, Duration::from_secs(40)).await;
    // A handover over the link, drop-outs and all: it completes, or aborts and WB stays master.
    let mut completed = false;
    for _ in 0..10 {
        if try_handover(&wb, "WB", "RS").await {
            completed = true;
            break;
        }
    }
    let master = if completed { "RS" } else { "WB" };
    agree_on_master(&wb, &rs, master, Duration::from_secs(40)).await;
    // The master takes an env write; it reaches the other side; one env writer per epoch.
    let m = if completed { &rs } else { &wb };
    m.ok(
        "/api/v1/properties/LNK/rooms",
        json!({"number": "99", "room_type": "TNT"}),
    )
    .await;
    converged(&wb, &rs, Duration::from_secs(40)).await;
    one_env_writer_per_epoch(&p);
    assert!(completed, "ten handovers over 3G all aborted");
}

/// A 3G drop-out in the middle of a catch-up's answer: RS was cut off while WB took 800
/// bookings; the link returns, and once an answer is on its way down it drops out again (the
/// way 3G does: open connections severed). RS ends with every booking once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_3g_drop_out_mid_pull_loses_and_duplicates_nothing() {
    let p = pair(&[]).await;
    let (wb, rs) = (p.wb.api(), p.rs.api());
    furnish(&wb, &rs, 10).await;
    converged(&wb, &rs, Duration::from_secs(30)).await;
    // The 3G link's rate, loss and jitter, without its own schedule of drop-outs: this test
    // drops it when an answer is under way.
    let mut g = THREE_G.scaled(SCALE);
    g.dropouts = None;
    p.shape(&g, 6);
    p.cut();
    let acked = offline_bookings(&wb, 800).await;
    p.drop_mid_pull(&wb, &rs).await;
    p.heal();
    every_booking_once(&wb, &rs, &acked, Duration::from_secs(50)).await;
    p.rs.check_invariants();
    p.wb.check_invariants();
}

//! kill -9 in the middle of a write load: after a restart every acknowledged booking is there,
//! unchanged, and the invariants hold.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_booking_survives_kill_9() {
    let mut s = TestServer::start();
    let api = s.api();
    seed(&api, 50).await;
    let acked: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(tokio::sync::Notify::new());
    const KILL_AFTER: usize = 400;
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (api, acked, count, reached) =
                (api.clone(), acked.clone(), count.clone(), reached.clone());
            tokio::spawn(async move {
                for i in 0u64.. {
                    let mut b = booking(1 + (i + w) % 60, 1 + i % 3);
                    b["guest"] = json!({"name": format!("Writer {w} #{i}")});
                    let req = api
                        .http
                        .post(format!("{}/api/v1/bookings", api.base))
                        .bearer_auth(TOKEN)
                        .json(&b);
                    // After the kill, requests fail: that is the end of this writer.
                    let Ok(resp) = req.send().await else { return };
                    if resp.status() != 201 {
                        if resp.status() == 409 {
                            continue;
                        }
                        return;
                    }
                    let Ok(body) = resp.json::<serde_json::Value>().await else {
                        return;
                    };
                    acked.lock().unwrap().push(body);
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                        reached.notify_one();
                    }
                }
            })
        })
        .collect();
    reached.notified().await;
    s.kill9();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER);
    s.restart();
    let api = s.api();
    for b in &acked {
        let r = b["reference"].as_str().unwrap();
        let now = api.get(&format!("/api/v1/bookings/{r}")).await;
        assert_eq!(now.status, 200, "acknowledged booking {r} lost");
        for field in ["status", "arrival", "departure", "units", "version"] {
            assert_eq!(now.body[field], b[field], "{r}.{field}");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args(["check", "--data-dir"])
        .arg(&s.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // New bookings continue with fresh references.
    let fresh = api.ok("/api/v1/bookings", booking(200, 1)).await;
    let r = fresh["reference"].as_str().unwrap();
    assert!(acked.iter().all(|b| b["reference"] != r));
}

//! 64 clients race over HTTP for the last rooms: exactly the free units are sold, every other
//! attempt gets 409 `no_availability`, and the invariants hold afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use futures::future::join_all;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_race_for_the_last_rooms() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 5).await;
    // Night 10 already has 2 of 5 sold: 3 remain.
    api.ok("/api/v1/bookings", booking(10, 1)).await;
    api.ok("/api/v1/bookings", booking(10, 1)).await;
    for (round, (arrival, nights, free)) in [(10u64, 1u64, 3usize), (20, 3, 5), (9, 3, 0)]
        .into_iter()
        .enumerate()
    {
        let attempts = (0..64).map(|i| {
            let api = api.clone();
            async move {
                let mut b = booking(arrival, nights);
                b["guest"] = json!({"name": format!("Racer {round}-{i}")});
                api.post("/api/v1/bookings", b).await
            }
        });
        let answers = join_all(attempts).await;
        let sold = answers.iter().filter(|a| a.status == 201).count();
        for a in answers.iter().filter(|a| a.status != 201) {
            a.problem(409, "no_availability");
        }
        assert_eq!(sold, free, "round {round}: {sold} sold, {free} were free");
    }
    // Overlapping multi-night races against single nights: never more than 5 on any night.
    let mixed = (0..64).map(|i| {
        let api = api.clone();
        async move {
            api.post("/api/v1/bookings", booking(30 + (i % 4), 1 + (i % 3)))
                .await
        }
    });
    join_all(mixed).await;
    let a = api
        .get(&format!(
            "/api/v1/availability?property=KRL&from={}&to={}",
            day(0),
            day(40)
        ))
        .await
        .body;
    for t in a["room_types"].as_array().unwrap() {
        for n in t["nights"].as_array().unwrap() {
            assert!(
                n["booked"].as_u64().unwrap() <= n["total"].as_u64().unwrap(),
                "{n}"
            );
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
}

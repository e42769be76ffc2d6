//! The booking screens of the reservation model and the admin screens, in a real browser
//! against a real `innsync serve` process (headless Chromium through WebDriver, as
//! `ui_browser.rs`; screenshots in `target/ui-screenshots/`, every page through the axe-core
//! audit).
//!
//! `a_reservation_gets_a_line_and_new_dates` adds a line to a booking from its page, changes the
//! first line's departure and sees it re-priced (the line's price, the reservation's total, the
//! notice with the old and new price, the change in the history); a change the domain refuses
//! is shown inline with nothing written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;
mod ui;

use common::*;
use serde_json::json;
use ui::{audit, axe_source, browser_or_skip, log_in, screenshot_dir, Browser};

const MANAGER: (&str, &str) = ("manager", "manager-pass-1");

async fn add_user(api: &Api, (name, password): (&str, &str), roles: &[&str]) {
    api.ok(
        "/api/v1/users",
        json!({"username": name, "password": password, "roles": roles, "servers": []}),
    )
    .await;
}

#[tokio::test]
async fn a_reservation_gets_a_line_and_new_dates() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    add_user(&api, MANAGER, &["admin"]).await;
    let first = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(3),
                   "guest": {"name": "Lines Guest"}}),
        )
        .await;
    let reference = first["reference"].as_str().unwrap_or_default().to_string();
    let shots = screenshot_dir();
    let base = s.base.clone();
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &base, MANAGER).await;

    // One line, two nights at 100.00.
    let page = format!("{base}/ui/bookings/{reference}");
    b.goto(&page).await;
    b.wait_text("[data-testid=reservation-total]", "ZAR 200.00")
        .await;
    assert_eq!(b.count("[data-testid=lines] tr[data-line]").await, 1);

    // Add a second Deluxe for the first night only.
    let add = "form[data-testid=add-line]";
    b.set_value(&format!("{add} select[name=room_type]"), "DLX")
        .await;
    b.set_value(&format!("{add} input[name=arrival]"), &day(1))
        .await;
    b.set_value(&format!("{add} input[name=departure]"), &day(2))
        .await;
    b.click("button[data-action=add-line]").await;
    b.wait_text("[data-testid=done]", "Line added").await;
    assert_eq!(b.count("[data-testid=lines] tr[data-line]").await, 2);
    b.wait_text("[data-testid=reservation-total]", "ZAR 300.00")
        .await;
    b.wait_text("[data-testid=lines] h2", "2 lines").await;
    audit(&b, &axe, "booking with two lines").await;
    b.screenshot(&shots.join("reservation-two-lines.png")).await;

    // Stay one night longer on the first line: re-priced, the total follows.
    let edit = "form[data-testid=edit-line]";
    b.set_value(&format!("{edit} input[name=departure]"), &day(4))
        .await;
    b.click("button[data-action=edit-line]").await;
    let done = b.wait_text("[data-testid=done]", "Booking changed").await;
    assert!(
        done.contains("Price was ZAR 200.00, now ZAR 300.00"),
        "{done}"
    );
    let row = format!("[data-testid=lines] tr[data-line='{reference}']");
    b.wait_text(&row, &day(4)).await;
    b.wait_text(&format!("{row} [data-testid=line-price]"), "ZAR 300.00")
        .await;
    b.wait_text("[data-testid=reservation-total]", "ZAR 400.00")
        .await;
    let history = b.wait_text("[data-testid=history]", "changed").await;
    assert!(history.contains(&day(4)), "old and new dates: {history}");
    assert!(history.contains("line added"), "{history}");
    let api_view = api.get(&format!("/api/v1/bookings/{reference}")).await;
    assert_eq!(api_view.body["departure"], json!(day(4)));
    assert_eq!(api_view.body["price"]["amount"], json!(30000));
    b.screenshot(&shots.join("reservation-edited.png")).await;
    b.set_window(820, 1180).await;
    b.screenshot(&shots.join("reservation-edited-tablet.png"))
        .await;
    b.set_window(1280, 800).await;

    // A departure before the arrival is refused in words, the page kept, nothing written.
    b.set_value(&format!("{edit} input[name=departure]"), &day(1))
        .await;
    b.click("button[data-action=edit-line]").await;
    b.wait_for("[data-testid=problem]").await;
    audit(&b, &axe, "refused edit").await;
    let after = api.get(&format!("/api/v1/bookings/{reference}")).await;
    assert_eq!(after.body["departure"], json!(day(4)), "nothing written");
    assert_eq!(after.body["version"], api_view.body["version"]);
    b.quit().await;
}

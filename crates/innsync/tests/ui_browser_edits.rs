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
    b.click("[data-testid=add-line-box] summary").await;
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
    b.click("[data-testid=edit-line-box] summary").await;
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
    b.click("[data-testid=edit-line-box] summary").await;
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

/// Rate plans from the admin screen: none at first; a plan with a price and a season created
/// from the form (amounts typed in units), changed with the rest of it kept, and a season that
/// ends before it starts refused inline with the form as typed and nothing written.
#[tokio::test]
async fn rate_plans_are_created_and_changed_on_the_admin_screen() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    add_user(&api, MANAGER, &["admin"]).await;
    let shots = screenshot_dir();
    let base = s.base.clone();
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &base, MANAGER).await;

    let list = format!("{base}/ui/rate-plans?property=KRL");
    b.goto(&list).await;
    b.wait_text("main", "No rate plans yet").await;
    let form = "form[data-testid=plan-form]";
    b.fill(&format!("{form} input[name=code]"), "BAR").await;
    b.fill(&format!("{form} input[name=name]"), "Best available rate")
        .await;
    b.fill(&format!("{form} input[name=price_DLX]"), "120")
        .await;
    b.fill(&format!("{form} input[name=season0_name]"), "Festive")
        .await;
    b.set_value(&format!("{form} input[name=season0_from]"), &day(10))
        .await;
    b.set_value(&format!("{form} input[name=season0_to]"), &day(20))
        .await;
    b.fill(&format!("{form} input[name=season0_price_DLX]"), "150.50")
        .await;
    audit(&b, &axe, "rate plans (new)").await;
    b.click("button[data-action=save-plan]").await;
    b.wait_text("[data-testid=done]", "Rate plan BAR saved")
        .await;
    b.wait_text(
        "table[data-testid=plans] tr[data-plan=BAR]",
        "Best available rate",
    )
    .await;
    b.wait_text("[data-testid=plan-prices]", "ZAR 120.00").await;
    b.wait_text("[data-testid=plan]", "Festive").await;
    let plan = api.get("/api/v1/properties/KRL/rate-plans/BAR").await.body;
    assert_eq!(plan["occupancy"][0]["amount"], json!(12000), "{plan}");
    assert_eq!(
        plan["seasons"][0]["prices"][0]["amount"],
        json!(15050),
        "{plan}"
    );
    audit(&b, &axe, "rate plan").await;
    b.screenshot(&shots.join("rate-plan.png")).await;

    // Change the price; the season stays.
    b.fill(&format!("{form} input[name=price_DLX]"), "130")
        .await;
    b.click("button[data-action=save-plan]").await;
    b.wait_text("[data-testid=plan-prices]", "ZAR 130.00").await;
    let plan = api.get("/api/v1/properties/KRL/rate-plans/BAR").await.body;
    assert_eq!(plan["occupancy"][0]["amount"], json!(13000), "{plan}");
    assert_eq!(plan["seasons"].as_array().map(Vec::len), Some(1), "{plan}");

    // A season ending before it starts: refused in words, the form kept, nothing written.
    b.goto(&list).await;
    b.fill(&format!("{form} input[name=code]"), "BAD").await;
    b.fill(&format!("{form} input[name=name]"), "Backwards")
        .await;
    b.fill(&format!("{form} input[name=season0_name]"), "Upside down")
        .await;
    b.set_value(&format!("{form} input[name=season0_from]"), &day(20))
        .await;
    b.set_value(&format!("{form} input[name=season0_to]"), &day(10))
        .await;
    b.fill(&format!("{form} input[name=season0_price_DLX]"), "99")
        .await;
    b.click("button[data-action=save-plan]").await;
    b.wait_for("[data-testid=problem]").await;
    assert_eq!(
        b.exec(
            "return document.querySelector('form[data-testid=plan-form] input[name=name]').value",
            json!([])
        )
        .await,
        json!("Backwards")
    );
    audit(&b, &axe, "rate plan refused").await;
    b.screenshot(&shots.join("rate-plan-refused.png")).await;
    assert_eq!(
        api.get("/api/v1/properties/KRL/rate-plans/BAD")
            .await
            .status,
        404
    );
    b.quit().await;
}

/// Users from the admin screen: the list with roles in words; a user added with a role and a
/// server, who can then log in; a too-short password refused inline, the username kept, the
/// password not echoed; a front-desk user is not shown the page or its menu entry.
#[tokio::test]
async fn users_are_listed_and_added_on_the_admin_screen() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let s = TestServer::start();
    let api = s.api();
    add_user(&api, MANAGER, &["admin"]).await;
    let shots = screenshot_dir();
    let base = s.base.clone();
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &base, MANAGER).await;
    b.click("nav.main a[href='/ui/admin']").await;
    b.click("[data-testid=admin-screens] a[href='/ui/users']")
        .await;
    b.wait_text(
        "table[data-testid=users] tr[data-user=manager]",
        "Administrator",
    )
    .await;
    audit(&b, &axe, "users").await;

    // Too short a password: refused in words, the name kept, the password not shown again.
    let form = "[data-testid=add-user] form";
    b.fill(&format!("{form} input[name=username]"), "nina")
        .await;
    b.exec(
        "const p = document.querySelector('[data-testid=add-user] input[name=password]'); \
         p.removeAttribute('minlength'); p.value = 'short'; \
         document.querySelector('[data-testid=add-user] input[name=role_front_desk]').checked = true; return 1;",
        json!([]),
    )
    .await;
    b.click("button[data-action=add-user]").await;
    b.wait_text("[data-testid=problem]", "characters long")
        .await;
    assert_eq!(
        b.exec(
            "return [document.querySelector('[data-testid=add-user] input[name=username]').value, \
             document.querySelector('[data-testid=add-user] input[name=password]').value]",
            json!([])
        )
        .await,
        json!(["nina", ""])
    );
    audit(&b, &axe, "users refused").await;

    // Now properly: front desk, this server only.
    b.fill(&format!("{form} input[name=password]"), "nina-pass-123")
        .await;
    b.click("button[data-action=add-user]").await;
    b.wait_text("[data-testid=done]", "User nina added").await;
    let row = b
        .wait_text("table[data-testid=users] tr[data-user=nina]", "Front desk")
        .await;
    assert!(row.contains("active"), "{row}");
    b.screenshot(&shots.join("users.png")).await;

    // Nina logs in; she has no Users entry and the page refuses her.
    ui::log_out(&b).await;
    log_in(&b, &base, ("nina", "nina-pass-123")).await;
    b.goto(&format!("{base}/ui/admin")).await;
    b.wait_for("[data-testid=admin-screens]").await;
    assert_eq!(b.count("a[href='/ui/users']").await, 0);
    b.goto(&format!("{base}/ui/users")).await;
    b.wait_text("h1", "Not allowed").await;
    b.quit().await;
}

/// Allotments from the admin screen, on the lodge's server of a two-server environment: the
/// lodge holds every room; it gives one Deluxe for tonight to the web, which the table then
/// shows; giving more than it holds is refused inline with the form as typed.
#[tokio::test]
async fn allotments_are_shown_and_given_on_the_admin_screen() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = [("WB", free_port()), ("PA", free_port())];
    let env = environment_file(dir.path(), &ports);
    let servers: Vec<TestServer> = ports
        .iter()
        .map(|(c, p)| TestServer::start_in(&env, c, &format!("127.0.0.1:{p}"), &[]))
        .collect();
    let (wb, pa) = (servers[0].api(), servers[1].api());
    for api in [&wb, &pa] {
        until("the admin user on every server", || async {
            (api.get("/api/v1/me").await.status == 200).then_some(())
        })
        .await;
    }
    seed(&pa, 2).await;
    add_user(&wb, MANAGER, &["admin"]).await;
    until("PA to know the manager", || async {
        (pa.get("/api/v1/users")
            .await
            .body
            .to_string()
            .contains("manager"))
        .then_some(())
    })
    .await;
    let shots = screenshot_dir();
    let base = servers[1].base.clone();
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &base, MANAGER).await;
    b.click("nav.main a[href='/ui/admin']").await;
    b.click("[data-testid=admin-screens] a[href='/ui/allotments']")
        .await;
    let lodge = "[data-testid=holdings][data-room-type=DLX] tr[data-holder='server:PA']";
    b.wait_text(lodge, "2 held").await;
    audit(&b, &axe, "allotments").await;

    let form = "[data-testid=grant-units] form";
    b.set_value(&format!("{form} select[name=room_type]"), "DLX")
        .await;
    b.set_value(&format!("{form} input[name=grant_from]"), &day(0))
        .await;
    b.set_value(&format!("{form} input[name=grant_to]"), &day(1))
        .await;
    b.fill(&format!("{form} input[name=units]"), "1").await;
    b.set_value(&format!("{form} select[name=to_holder]"), "server:WB")
        .await;
    b.fill(&format!("{form} input[name=reason]"), "web sale")
        .await;
    b.click("button[data-action=grant-units]").await;
    b.wait_text("[data-testid=done]", "Gave 1 unit(s) to the web")
        .await;
    let web = "[data-testid=holdings][data-room-type=DLX] tr[data-holder='server:WB']";
    b.wait_text(web, "1 held").await;
    b.screenshot(&shots.join("allotments.png")).await;

    // More than the lodge holds: refused in words, the form kept.
    b.set_value(&format!("{form} select[name=room_type]"), "DLX")
        .await;
    b.set_value(&format!("{form} input[name=grant_from]"), &day(0))
        .await;
    b.set_value(&format!("{form} input[name=grant_to]"), &day(1))
        .await;
    b.fill(&format!("{form} input[name=units]"), "5").await;
    b.set_value(&format!("{form} select[name=to_holder]"), "server:WB")
        .await;
    b.click("button[data-action=grant-units]").await;
    b.wait_for("[data-testid=problem]").await;
    assert_eq!(
        b.exec(
            "return document.querySelector('[data-testid=grant-units] input[name=units]').value",
            json!([])
        )
        .await,
        json!("5")
    );
    // The page keeps its range of nights (a fortnight), not the grant's one night.
    assert!(
        b.count("[data-testid=holdings][data-room-type=DLX] thead th")
            .await
            > 2,
        "the page's range is kept"
    );
    audit(&b, &axe, "allotments refused").await;
    b.screenshot(&shots.join("allotments-refused.png")).await;
    b.quit().await;
}

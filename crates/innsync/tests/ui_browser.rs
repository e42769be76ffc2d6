//! The operator's web UI against a real `innsync serve` process.
//!
//! `operator_works_through_the_ui_in_a_real_browser` drives headless Chromium through
//! WebDriver (Debian's chromium and chromium-driver, installed by `scripts/install-browser`):
//! log in, create a booking with live availability, see it on the tape chart, check it in, a
//! double booking of the last room refused in plain words, the environment dashboard with the
//! server as master and its PMS links (General Reset with a confirmation), a tablet-sized
//! window, and a read-only user who sees no action buttons and is refused a forged POST.
//! `handover_from_the_dashboard_moves_the_master` runs two servers of one environment and
//! hands the master over from the dashboard, which then shows the new master.
//! Screenshots of the main pages go to `target/ui-screenshots/`.
//!
//! `ui_access_rules_hold_without_a_browser` checks the same rules with plain HTTP: no session
//! means the login page, CSRF and Origin checks, roles, server restrictions, escaping.
//!
//! Without chromium or chromedriver the browser test tries `scripts/install-browser` and fails
//! with a clear message if that does not help, unless `INNSYNC_SKIP_BROWSER=1` is set.
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
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::json;
use ui::{audit, axe_source, browser_or_skip, log_in, log_out, screenshot_dir, Browser};

const MANAGER: (&str, &str) = ("manager", "manager-pass-1");
const DESK: (&str, &str) = ("desk", "desk-pass-123");
const VIEWER: (&str, &str) = ("viewer", "viewer-pass-1");

async fn add_user(api: &Api, (name, password): (&str, &str), roles: &[&str], servers: &[&str]) {
    api.ok(
        "/api/v1/users",
        json!({"username": name, "password": password, "roles": roles, "servers": servers}),
    )
    .await;
}

/// Property KRL with DLX rooms 101 and 102 and one STD room (201), the STD room already
/// booked for tonight and tomorrow, and three users.
async fn prepare(api: &Api) {
    seed(api, 2).await;
    add_user(api, MANAGER, &["admin"], &[]).await;
    add_user(api, DESK, &["front_desk"], &[]).await;
    add_user(api, VIEWER, &["read_only"], &[]).await;
    api.ok(
        "/api/v1/bookings",
        json!({"property": "KRL", "room_type": "STD", "arrival": day(0), "departure": day(2),
               "guest": {"name": "Early Bird"}}),
    )
    .await;
}

#[tokio::test]
async fn operator_works_through_the_ui_in_a_real_browser() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let s = TestServer::start();
    let api = s.api();
    prepare(&api).await;
    api.put(
        "/api/v1/pms/links/switch",
        json!({"property": "KRL", "dialect": "mitel", "role": "connect", "address": "127.0.0.1:9"}),
    )
    .await;
    let shots = screenshot_dir();
    let base = s.base.clone();
    let b = Browser::start(&chromium, &driver).await;

    // Unauthenticated: the root leads to the login page; a wrong password is refused.
    b.goto(&format!("{base}/")).await;
    b.wait_for("input[name=username]").await;
    assert!(b.url().await.contains("/ui/login"), "{}", b.url().await);
    b.fill("input[name=username]", MANAGER.0).await;
    b.fill("input[name=password]", "not-the-password").await;
    b.click("form[action='/ui/login'] button[type=submit]")
        .await;
    b.wait_text("[data-testid=problem]", "Wrong username or password")
        .await;
    b.screenshot(&shots.join("login.png")).await;

    // Log in; today's work is the home page.
    log_in(&b, &base, MANAGER).await;
    b.wait_for("[data-testid=arrivals]").await;
    assert!(b.url().await.ends_with("/ui/today"), "{}", b.url().await);

    // Create a booking: live availability first, then the form.
    b.goto(&format!("{base}/ui/bookings/new")).await;
    b.set_value("select[name=stock]", "KRL/DLX").await;
    b.set_value("input[name=arrival]", &day(0)).await;
    b.set_value("input[name=departure]", &day(2)).await;
    b.fill("input[name=guest_name]", "Grace Hopper").await;
    b.fill("input[name=email]", "grace@example.com").await;
    b.wait_text("[data-testid=live-summary]", "2 Deluxe free on every night")
        .await;
    b.screenshot(&shots.join("new-booking.png")).await;
    b.click("button[data-action=create]").await;
    b.wait_text("[data-testid=done]", "Booking created").await;
    let reference = b
        .text_of("[data-testid=reference]")
        .await
        .unwrap_or_default()
        .trim_start_matches("Booking ")
        .to_string();
    assert!(reference.starts_with("WB-"), "{reference:?}");
    assert_eq!(
        b.text_of("[data-testid=guest]").await.as_deref(),
        Some("Grace Hopper")
    );

    // The grid: one DLX booked tonight, and the booking waiting for a room.
    b.goto(&format!("{base}/ui/grid?property=KRL")).await;
    let tonight = format!("tr[data-room-type=DLX] td[data-night='{}']", day(0));
    b.wait_text(&tonight, "1 free").await;
    b.wait_text(&tonight, "1 you can sell").await;
    b.wait_text("[data-testid=unassigned]", &reference).await;
    b.screenshot(&shots.join("grid.png")).await;

    // Open it from the grid and check it in to room 102.
    b.click(&format!(
        "[data-testid=unassigned] a[href='/ui/bookings/{reference}']"
    ))
    .await;
    b.wait_text("[data-testid=reference]", &reference).await;
    b.set_value("form[action$='/check-in'] select[name=room]", "102")
        .await;
    b.click("button[data-action=check-in]").await;
    b.wait_text("[data-testid=done]", "Guest checked in").await;
    b.wait_text("[data-testid=status]", "Checked in").await;
    b.wait_text("[data-testid=room]", "102").await;
    let history = b.wait_text("[data-testid=history]", "checked in").await;
    assert!(
        !history.contains("booking.check_in") && !history.contains("checked_in"),
        "history in words: {history}"
    );
    b.screenshot(&shots.join("booking.png")).await;

    // On the grid, room 102 now shows the guest on both nights.
    b.goto(&format!("{base}/ui/grid?property=KRL")).await;
    let bar = format!("tr[data-room='102'] a[data-booking='{reference}']");
    b.wait_text(&bar, "Grace Hopper").await;
    b.screenshot(&shots.join("grid-checked-in.png")).await;

    // A double booking of the last STD room is refused in plain words.
    b.goto(&format!("{base}/ui/bookings/new")).await;
    b.set_value("select[name=stock]", "KRL/STD").await;
    b.set_value("input[name=arrival]", &day(0)).await;
    b.set_value("input[name=departure]", &day(2)).await;
    b.fill("input[name=guest_name]", "Late Comer").await;
    b.wait_text("[data-testid=live-summary]", "No availability")
        .await;
    b.click("button[data-action=create]").await;
    let refused = b
        .wait_text("[data-testid=problem]", "No availability")
        .await;
    assert!(refused.contains("STD"), "{refused}");
    assert_eq!(
        b.count("[data-testid=problem][data-code=no_availability]")
            .await,
        1
    );
    assert_eq!(
        b.exec(
            "return document.querySelector('input[name=guest_name]').value",
            json!([])
        )
        .await,
        json!("Late Comer"),
        "the refused form keeps what was typed"
    );
    b.screenshot(&shots.join("double-booking.png")).await;

    // The environment dashboard: this server is the master; the PMS link with a reset button.
    b.goto(&format!("{base}/ui/environment")).await;
    b.wait_text("[data-testid=state]", "master").await;
    b.wait_text("[data-testid=master]", "WB").await;
    b.wait_text("[data-testid=servers]", "reachable").await;
    b.wait_text("[data-testid=pms]", "switch").await;
    b.screenshot(&shots.join("environment.png")).await;
    b.click("button[data-action=general-reset]").await;
    b.accept_confirm("General Reset").await;
    b.wait_text(
        "[data-testid=done]",
        "General Reset requested on link switch",
    )
    .await;

    // The booking list finds the guest by part of the name.
    b.goto(&format!("{base}/ui/bookings?guest=hopper")).await;
    b.wait_text("table[data-testid=bookings]", &reference).await;
    b.screenshot(&shots.join("bookings.png")).await;

    // A tablet: the same pages still lay out.
    b.set_window(820, 1180).await;
    b.goto(&format!("{base}/ui/grid?property=KRL")).await;
    b.wait_for("table[data-testid=rooms]").await;
    b.screenshot(&shots.join("grid-tablet.png")).await;
    b.goto(&format!("{base}/ui/bookings/{reference}")).await;
    b.wait_for("[data-testid=actions]").await;
    b.screenshot(&shots.join("booking-tablet.png")).await;
    b.set_window(1280, 800).await;

    // A read-only user sees the booking but no action, and a forged POST is refused.
    log_out(&b).await;
    log_in(&b, &base, VIEWER).await;
    b.goto(&format!("{base}/ui/bookings/{reference}")).await;
    b.wait_for("[data-testid=no-actions]").await;
    assert_eq!(
        b.count("[data-action]").await,
        0,
        "read-only sees no buttons"
    );
    assert_eq!(b.count("a[href='/ui/bookings/new']").await, 0);
    b.screenshot(&shots.join("booking-read-only.png")).await;
    b.exec(
        "const f = document.createElement('form'); f.method = 'post'; \
         f.action = '/ui/bookings/' + arguments[0] + '/check-out'; \
         const c = document.querySelector('input[name=_csrf]').cloneNode(); f.appendChild(c); \
         document.body.appendChild(f); f.submit(); return true;",
        json!([reference]),
    )
    .await;
    b.wait_text("h1", "Not allowed").await;
    b.wait_text("[data-testid=error-detail]", "may not do this")
        .await;
    b.screenshot(&shots.join("forbidden.png")).await;
    let still = api.get(&format!("/api/v1/bookings/{reference}")).await;
    assert_eq!(still.body["status"], "checked_in", "nothing was written");

    b.quit().await;
    eprintln!("screenshots in {}", shots.display());
}

#[tokio::test]
async fn handover_from_the_dashboard_moves_the_master() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = [("WB", free_port()), ("RS", free_port())];
    let env = environment_file(dir.path(), &ports);
    let servers: Vec<TestServer> = ports
        .iter()
        .map(|(c, p)| TestServer::start_in(&env, c, &format!("127.0.0.1:{p}"), &[]))
        .collect();
    let (wb, rs) = (servers[0].api(), servers[1].api());
    for api in [&wb, &rs] {
        until("the admin user on every server", || async {
            (api.get("/api/v1/me").await.status == 200).then_some(())
        })
        .await;
    }
    add_user(&wb, MANAGER, &["admin"], &[]).await;
    until("WB to reach RS", || async {
        let e = wb.get("/api/v1/environment").await.body;
        e["servers"]
            .as_array()?
            .iter()
            .any(|s| s["code"] == "RS" && s["reachable"] == true)
            .then_some(())
    })
    .await;
    let shots = screenshot_dir();
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &servers[0].base, MANAGER).await;
    b.goto(&format!("{}/ui/environment", servers[0].base)).await;
    b.wait_text("[data-testid=state]", "master").await;
    b.wait_text("[data-testid=servers] tr[data-server=RS]", "reachable")
        .await;
    b.screenshot(&shots.join("environment-two-servers.png"))
        .await;
    assert_eq!(
        b.exec(
            "return document.querySelector('select[name=to]').value",
            json!([])
        )
        .await,
        json!(""),
        "no target is chosen for the operator"
    );
    b.wait_text(
        "[data-testid=handover-effect] tr[data-target=RS]",
        "shared stock",
    )
    .await;
    b.set_value("select[name=to]", "RS").await;
    b.fill("input[name=reason]", "shift change").await;
    b.click("button[data-action=handover]").await;
    b.accept_confirm("Hand the master role").await;
    b.wait_text("[data-testid=done]", "is now the master").await;
    b.wait_text("[data-testid=master]", "RS").await;
    b.wait_text("[data-testid=state]", "slave").await;
    assert_eq!(
        b.count("[data-testid=handover]").await,
        0,
        "a slave offers no handover"
    );
    b.screenshot(&shots.join("environment-after-handover.png"))
        .await;
    b.quit().await;
    let e = rs.get("/api/v1/environment").await.body;
    assert_eq!(e["master"]["server"], "RS");
}

/// A client that does not follow redirects, so the tests see them.
fn http() -> reqwest::Client {
    common::client_builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Logs in through the form; returns the session cookie (`name=value`).
async fn session(base: &str, (name, password): (&str, &str)) -> String {
    let r = http()
        .post(format!("{base}/ui/login"))
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {name}");
    let set = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attr), "{set}");
    }
    set.split(';').next().unwrap_or_default().to_string()
}

/// A page's text, fetched with `cookie`.
async fn page(base: &str, path: &str, cookie: &str) -> (StatusCode, String) {
    let r = http()
        .get(format!("{base}{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get");
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// The CSRF token rendered in a page's forms.
fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap_or(0)].to_string()
}

async fn post_form(
    base: &str,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http().post(format!("{base}{path}")).form(fields);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    if let Some(o) = origin {
        req = req.header(ORIGIN, o);
    }
    req.send().await.expect("post")
}

#[tokio::test]
async fn ui_access_rules_hold_without_a_browser() {
    let s = TestServer::start();
    let api = s.api();
    prepare(&api).await;
    add_user(&api, ("elsewhere", "elsewhere-pass"), &["admin"], &["RS"]).await;
    let base = s.base.as_str();
    let booked = api.ok("/api/v1/bookings", booking(0, 2)).await;
    let reference = booked["reference"].as_str().unwrap_or_default().to_string();
    let check_in = format!("/ui/bookings/{reference}/check-in");

    // No session: pages and actions lead to the login page, and nothing is written.
    let r = http().get(format!("{base}/")).send().await.expect("get /");
    assert!(r.status().is_redirection());
    assert_eq!(location(&r), "/ui");
    let r = http()
        .get(format!("{base}/ui/bookings?status=confirmed"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        "/ui/login?next=%2Fui%2Fbookings%3Fstatus%3Dconfirmed"
    );
    let r = post_form(base, &check_in, None, None, &[("room", "101")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/ui/login");
    let r = post_form(
        base,
        &check_in,
        Some("innsync_session=isk_forged"),
        None,
        &[],
    )
    .await;
    assert_eq!(location(&r), "/ui/login", "an unknown token is no session");

    let r = http()
        .get(format!(
            "{base}/ui/bookings/new/availability?stock=KRL%2FDLX"
        ))
        .header("hx-request", "true")
        .send()
        .await
        .expect("fragment");
    assert_eq!(
        r.headers().get("hx-redirect").and_then(|v| v.to_str().ok()),
        Some("/ui/login"),
        "an htmx fragment without a session sends the whole page to the login"
    );

    // Wrong password and a user restricted to another server are refused at login.
    let r = post_form(
        base,
        "/ui/login",
        None,
        None,
        &[("username", "viewer"), ("password", "nope-nope")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("Wrong username or password"));
    let r = post_form(
        base,
        "/ui/login",
        None,
        None,
        &[("username", "elsewhere"), ("password", "elsewhere-pass")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("may not log in on server WB"));
    let r = post_form(
        base,
        "/ui/login",
        None,
        Some("http://evil.example"),
        &[("username", "viewer"), ("password", VIEWER.1)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "login from another site");

    // Read-only: sees the booking, no buttons; a POST with its own valid token is still 403.
    let viewer = session(base, VIEWER).await;
    let (status, html) = page(base, &format!("/ui/bookings/{reference}"), &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&reference) && !html.contains("data-action"),
        "{html}"
    );
    let token = csrf_in(&html);
    let r = post_form(
        base,
        &check_in,
        Some(&viewer),
        None,
        &[("_csrf", &token), ("room", "101")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap_or_default().contains("Not allowed"));
    let (status, _) = page(base, "/ui/bookings/new", &viewer).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "read-only may not open the create form"
    );

    // Front desk: without the CSRF token, with another session's token, or from another
    // site: refused. With everything right: checked in.
    let desk = session(base, DESK).await;
    let (_, html) = page(base, &format!("/ui/bookings/{reference}"), &desk).await;
    assert!(html.contains("data-action=\"check-in\""));
    let desk_token = csrf_in(&html);
    for (token, origin) in [
        ("", None),
        (token.as_str(), None),
        (desk_token.as_str(), Some("http://evil.example")),
    ] {
        let r = post_form(
            base,
            &check_in,
            Some(&desk),
            origin,
            &[("_csrf", token), ("room", "101")],
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "token {token:?} origin {origin:?}"
        );
    }
    assert_eq!(
        api.get(&format!("/api/v1/bookings/{reference}")).await.body["status"],
        "confirmed"
    );
    let r = post_form(
        base,
        &check_in,
        Some(&desk),
        Some(base),
        &[("_csrf", &desk_token), ("room", "101")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        format!("/ui/bookings/{reference}?done=check-in")
    );
    let now = api.get(&format!("/api/v1/bookings/{reference}")).await;
    assert_eq!(now.body["status"], "checked_in");
    assert_eq!(now.body["room"], "101");

    // A refused action shows the domain's reason in plain words, no trace.
    let r = post_form(
        base,
        &format!("/ui/bookings/{reference}/confirm"),
        Some(&desk),
        None,
        &[("_csrf", &desk_token)],
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let text = r.text().await.unwrap_or_default();
    assert!(
        text.contains("Not possible now") && !text.contains("panicked"),
        "{text}"
    );

    // A provisional hold shows its time left; cancelling (with a reason) works from the page.
    let hold_until = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let mut held = booking(5, 1);
    held["status"] = json!("provisional");
    held["hold_until"] = json!(hold_until);
    let held = api.ok("/api/v1/bookings", held).await;
    let held_ref = held["reference"].as_str().unwrap_or_default().to_string();
    let (_, html) = page(base, &format!("/ui/bookings/{held_ref}"), &desk).await;
    assert!(
        html.contains("2 h 59 min left") || html.contains("3 h 0 min left"),
        "{html}"
    );
    assert!(
        html.contains("data-confirm=\"Cancel booking"),
        "cancelling asks first"
    );
    let r = post_form(
        base,
        &format!("/ui/bookings/{held_ref}/cancel"),
        Some(&desk),
        None,
        &[("_csrf", &desk_token), ("reason", "guest changed plans")],
    )
    .await;
    assert_eq!(location(&r), format!("/ui/bookings/{held_ref}?done=cancel"));
    let now = api.get(&format!("/api/v1/bookings/{held_ref}")).await;
    assert_eq!(now.body["status"], "cancelled");
    assert_eq!(now.body["cancel_reason"], "guest changed plans");

    // User text is escaped; pages carry the security headers; assets are served.
    let manager = session(base, MANAGER).await;
    let (_, html) = page(base, "/ui/bookings/new", &manager).await;
    let token = csrf_in(&html);
    let stock = "KRL/DLX";
    let (arrival, departure) = (day(3), day(4));
    let r = post_form(
        base,
        "/ui/bookings",
        Some(&manager),
        None,
        &[
            ("_csrf", &token),
            ("stock", stock),
            ("arrival", &arrival),
            ("departure", &departure),
            ("guest_name", "<script>alert(1)</script>"),
            ("idem", "k1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let again = post_form(
        base,
        "/ui/bookings",
        Some(&manager),
        None,
        &[
            ("_csrf", &token),
            ("stock", stock),
            ("arrival", &arrival),
            ("departure", &departure),
            ("guest_name", "<script>alert(1)</script>"),
            ("idem", "k1"),
        ],
    )
    .await;
    assert_eq!(
        location(&again),
        location(&r),
        "the same form sent twice books once"
    );
    let r = http()
        .get(format!("{base}/ui/bookings?guest=script"))
        .header(COOKIE, &manager)
        .send()
        .await
        .expect("list");
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.unwrap_or_default();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !html.contains("<script>alert(1)")
    );
    let r = http()
        .get(format!("{base}/ui/assets/htmx.min.js"))
        .send()
        .await
        .expect("asset");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap_or_default().contains("htmx"));

    // Logging out ends the session in the browser.
    let r = post_form(
        base,
        "/ui/logout",
        Some(&manager),
        None,
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(location(&r), "/ui/login");
    let set = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(set.contains("Max-Age=0"), "{set}");
    // And the session's token is revoked: the old cookie no longer opens a page.
    let r = http()
        .get(format!("{base}/ui/bookings"))
        .header(COOKIE, &manager)
        .send()
        .await
        .expect("get");
    assert!(
        location(&r).starts_with("/ui/login"),
        "the old session still works: {:?}",
        location(&r)
    );
}

/// The dashboard's operator work without a browser: a write forwarded to an unreachable owner
/// shows as a pending operation with retry and cancel; cancel works; "transfer now" reports what
/// moved; the conflicts section is there.
#[tokio::test]
async fn dashboard_pending_operations_conflicts_and_transfer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = [("WB", free_port()), ("PA", free_port())];
    let env = environment_file(dir.path(), &ports);
    let to_pa = innsync_faultproxy::Proxy::start(
        "127.0.0.1:0",
        format!("127.0.0.1:{}", ports[1].1).parse().unwrap(),
    )
    .await
    .expect("proxy");
    let wb_server = TestServer::start_in(
        &env,
        "WB",
        &format!("127.0.0.1:{}", ports[0].1),
        &[("PA".into(), format!("http://{}", to_pa.addr()))],
    );
    let pa_server = TestServer::start_in(&env, "PA", &format!("127.0.0.1:{}", ports[1].1), &[]);
    let (wb, pa) = (wb_server.api(), pa_server.api());
    until("admin on PA", || async {
        (pa.get("/api/v1/me").await.status == 200).then_some(())
    })
    .await;
    add_user(&wb, MANAGER, &["admin"], &[]).await;
    pa.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal", "timezone": "UTC"}),
    )
    .await;
    until("KRL on WB", || async {
        (wb.get("/api/v1/properties/KRL").await.status == 200).then_some(())
    })
    .await;
    to_pa.cut();
    let q = wb
        .post(
            "/api/v1/properties/KRL/room-types?forward=true",
            json!({"code": "FAM", "name": "Family", "max_occupancy": 4}),
        )
        .await;
    assert_eq!(q.status, 202, "{:?}", q.body);
    let id = q.body["pending"]["id"].as_i64().expect("id");
    let base = &wb_server.base;
    let cookie = session(base, MANAGER).await;
    let (status, html) = page(base, "/ui/environment", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("data-pending=\"{id}\"")),
        "the pending operation is listed"
    );
    assert!(html.contains("room_type.create for admin at PA"));
    assert!(html.contains("data-action=\"retry\"") && html.contains("data-action=\"cancel\""));
    assert!(html.contains("data-testid=\"conflicts-list\"") && html.contains("No conflicts."));
    let token = csrf_in(&html);
    let r = post_form(
        base,
        &format!("/ui/pending/{id}/cancel"),
        Some(&cookie),
        None,
        &[("_csrf", &token)],
    )
    .await;
    assert!(
        location(&r).starts_with("/ui/environment?done="),
        "{}",
        location(&r)
    );
    let (_, html) = page(base, &location(&r), &cookie).await;
    assert!(html.contains("is now canceled"), "{html}");
    to_pa.heal();
    let r = post_form(
        base,
        "/ui/environment/transfer",
        Some(&cookie),
        None,
        &[("_csrf", &token), ("with", "PA")],
    )
    .await;
    let (_, html) = page(base, &location(&r), &cookie).await;
    assert!(html.contains("Transfer with PA"), "{html}");
    assert_eq!(
        wb.get("/api/v1/pending?state=canceled").await.body["pending"]
            .as_array()
            .map_or(0, Vec::len),
        1
    );
}

/// The front desk's morning, in a real browser, from the Today page: two guests of a group
/// arrive and are checked in into rooms from their rows (one at desk width, one on a tablet,
/// the second reached with the "t" shortcut), both show in house; a charge is posted on a
/// folio and paid, and the guest checks out. The header search finds a guest and opens a
/// booking by reference; an unknown /ui/ address gets the UI's error page; every page passes
/// the axe-core audit (no serious or critical violation).
#[tokio::test]
async fn front_desk_morning_from_the_today_page() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 2).await;
    add_user(&api, DESK, &["front_desk"], &[]).await;
    let mut refs = vec![];
    for name in ["Ada Group", "Bea Group"] {
        let r = api
            .ok(
                "/api/v1/bookings",
                json!({"property": "KRL", "room_type": "DLX", "arrival": day(0), "departure": day(2),
                       "guest": {"name": name, "email": format!("{}@example.com", name.to_lowercase().replace(' ', "."))}}),
            )
            .await;
        refs.push(r["reference"].as_str().unwrap_or_default().to_string());
    }
    let hold_until = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    api.ok(
        "/api/v1/bookings",
        json!({"property": "KRL", "room_type": "STD", "arrival": day(3), "departure": day(4),
               "guest": {"name": "Held Guest"}, "status": "provisional", "hold_until": hold_until}),
    )
    .await;
    let shots = screenshot_dir();
    let base = s.base.clone();
    let b = Browser::start(&chromium, &driver).await;

    // The login page leads to Today; the day's arrivals and the hold are there.
    log_in(&b, &base, DESK).await;
    assert!(b.url().await.ends_with("/ui/today"), "{}", b.url().await);
    b.wait_text("[data-testid=arrivals]", "Ada Group").await;
    b.wait_text("[data-testid=arrivals]", "Bea Group").await;
    b.wait_text("[data-testid=holds]", "Held Guest").await;
    b.wait_text("[data-testid=today-date]", &day(0)).await;
    audit(&b, &axe, "today").await;
    b.screenshot(&shots.join("today.png")).await;

    // Check in the first guest from the row, into room 101.
    let row = |r: &str| format!("[data-testid=arrivals] tr[data-booking='{r}']");
    b.set_value(&format!("{} select[name=room]", row(&refs[0])), "101")
        .await;
    b.click(&format!("{} button[data-action=check-in]", row(&refs[0])))
        .await;
    b.wait_text("[data-testid=done]", "Guest checked in").await;
    b.wait_text("[data-testid=room]", "101").await;
    audit(&b, &axe, "booking").await;

    // On a tablet: back to Today with the keyboard ("t"), check in the second into 102.
    b.set_window(820, 1180).await;
    b.exec(
        "document.activeElement && document.activeElement.blur(); \
         document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 't', bubbles: true})); return 1;",
        json!([]),
    )
    .await;
    b.wait_for("[data-testid=arrivals]").await;
    assert!(b.url().await.ends_with("/ui/today"), "{}", b.url().await);
    b.set_value(&format!("{} select[name=room]", row(&refs[1])), "102")
        .await;
    b.screenshot(&shots.join("today-tablet.png")).await;
    b.click(&format!("{} button[data-action=check-in]", row(&refs[1])))
        .await;
    b.wait_text("[data-testid=done]", "Guest checked in").await;
    b.goto(&format!("{base}/ui/today")).await;
    b.wait_text("[data-testid=in-house]", "Ada Group").await;
    b.wait_text("[data-testid=in-house]", "Bea Group").await;
    assert_eq!(b.count("[data-testid=arrivals] tr[data-booking]").await, 0);
    b.screenshot(&shots.join("today-in-house-tablet.png")).await;
    b.set_window(1280, 800).await;

    // Post a charge on Ada's folio, then take the balance as payment.
    b.click(&format!(
        "[data-testid=in-house] tr[data-booking='{}'] a[href$='/folio']",
        refs[0]
    ))
    .await;
    b.wait_for("[data-testid=balance]").await;
    audit(&b, &axe, "folio").await;
    b.fill("form[action$='/charge'] input[name=amount]", "2500")
        .await;
    b.fill("form[action$='/charge'] input[name=description]", "Minibar")
        .await;
    b.click("button[data-action=charge]").await;
    b.wait_text("[data-testid=done]", "").await;
    let balance = b.wait_text("[data-testid=balance]", "ZAR").await;
    let folio = api
        .get(&format!("/api/v1/bookings/{}/folio", refs[0]))
        .await
        .body;
    let owed = folio["balance"]["amount"]
        .as_i64()
        .or_else(|| folio["balance"].as_i64())
        .unwrap_or_else(|| panic!("no balance in {folio}"));
    assert!(owed >= 2500, "the charge is owed: {balance} / {folio}");
    b.fill(
        "form[action$='/payment'] input[name=amount]",
        &owed.to_string(),
    )
    .await;
    b.click("button[data-action=payment]").await;
    b.wait_text("[data-testid=balance]", "Balance 0.00").await;
    b.screenshot(&shots.join("folio-paid.png")).await;

    // Check out from the booking page.
    b.goto(&format!("{base}/ui/bookings/{}", refs[0])).await;
    b.click("button[data-action=check-out]").await;
    b.accept_confirm("Check out Ada Group").await;
    b.wait_text("[data-testid=status]", "Checked out").await;
    let history = b.wait_text("[data-testid=history]", "checked out").await;
    assert!(history.contains("desk"), "{history}");

    // The header search: a name lists guests and bookings; a reference opens the booking.
    b.fill("#header-search", "Bea").await;
    b.click("form.search button[type=submit]").await;
    b.wait_text("[data-testid=guest-results]", "Bea Group")
        .await;
    b.wait_text("[data-testid=booking-results]", &refs[1]).await;
    audit(&b, &axe, "search").await;
    b.fill("#header-search", &refs[1]).await;
    b.click("form.search button[type=submit]").await;
    b.wait_text("[data-testid=reference]", &refs[1]).await;

    // An unknown address inside the UI gets the UI's page, not JSON; the favicon is served.
    b.goto(&format!("{base}/ui/no-such-page")).await;
    b.wait_text("h1", "Not found").await;
    b.wait_text("[data-testid=error-detail]", "/ui/no-such-page")
        .await;
    let icon = http_client()
        .get(format!("{base}/favicon.ico"))
        .send()
        .await
        .expect("favicon");
    assert_eq!(icon.status(), StatusCode::OK);

    // The tape chart and the booking form pass the audit too.
    b.goto(&format!("{base}/ui/grid?property=KRL")).await;
    b.wait_for("table[data-testid=availability]").await;
    audit(&b, &axe, "tape chart").await;
    b.quit().await;
}

/// An office's day on the web server of an environment whose lodge (PA) owns its property:
/// the tape chart shows the lodge's rooms as free but held by the lodge's server (not "full"),
/// the agent requests a unit from it, sees the quote and books; then cancels a lodge booking,
/// which can only be done by sending it to the lodge — the page offers exactly that and shows
/// it done. Logging in on the lodge's server in the same browser leaves the web session alone.
#[tokio::test]
async fn office_day_books_lodge_stock_and_forwards_a_cancellation() {
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
    add_user(&wb, MANAGER, &["admin"], &[]).await;
    // An agent with a contracted net rate at the lodge (the plan is the lodge's, the agent the
    // environment's).
    let plan = pa
        .put(
            "/api/v1/properties/KRL/rate-plans/NET",
            json!({"name": "Agent net rate", "basis": {"kind": "base"},
                   "occupancy": [{"room_type": "DLX", "amount": 8000, "adults_included": 2}]}),
        )
        .await;
    assert!(plan.status.is_success(), "{:?}", plan.body);
    let agent = wb
        .put(
            "/api/v1/agents/SAFARI",
            json!({"name": "Safari Tours", "commission_bp": 1000, "rate_plan": "NET",
                   "payment_terms": "30 days from invoice"}),
        )
        .await;
    assert!(agent.status.is_success(), "{:?}", agent.body);
    until("the lodge's net rate on WB", || async {
        (wb.get("/api/v1/properties/KRL/rate-plans/NET").await.status == 200).then_some(())
    })
    .await;
    let lodge = pa.ok("/api/v1/bookings", booking(2, 2)).await;
    let lodge_ref = lodge["reference"].as_str().unwrap_or_default().to_string();
    assert!(lodge_ref.starts_with("PA-"), "{lodge_ref}");
    until("the lodge's rooms and booking on WB", || async {
        let ok = wb
            .get(&format!("/api/v1/bookings/{lodge_ref}"))
            .await
            .status
            == 200
            && wb.get("/api/v1/properties/KRL/rooms").await.status == 200;
        ok.then_some(())
    })
    .await;
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
    let (wb_base, pa_base) = (servers[0].base.clone(), servers[1].base.clone());
    let b = Browser::start(&chromium, &driver).await;
    log_in(&b, &wb_base, MANAGER).await;

    // The chart: rooms free at the lodge, none sellable here, held by the lodge's server.
    let grid = format!("{wb_base}/ui/grid?property=KRL");
    b.goto(&grid).await;
    let tonight = format!("tr[data-room-type=DLX] td[data-night='{}']", day(0));
    let cell = b.wait_text(&tonight, "2 free").await;
    assert!(cell.contains("0 you can sell"), "{cell}");
    assert!(cell.contains("Kraal Lodge's server"), "{cell}");
    assert!(
        !cell.contains("server:PA"),
        "no internal names on screen: {cell}"
    );
    audit(&b, &axe, "tape chart (office)").await;
    b.screenshot(&shots.join("office-grid-before-request.png"))
        .await;

    // Request one unit for tonight from the lodge: granted at once (the lodge is reachable).
    b.set_value("[data-testid=request-units] select[name=room_type]", "DLX")
        .await;
    b.set_value("[data-testid=request-units] input[name=from]", &day(0))
        .await;
    b.set_value("[data-testid=request-units] input[name=to]", &day(1))
        .await;
    b.set_value(
        "[data-testid=request-units] select[name=from_holder]",
        "server:PA",
    )
    .await;
    b.click("button[data-action=request-units]").await;
    b.wait_text("[data-testid=done]", "gave 1 unit").await;
    b.reload_until(&grid, &tonight, "1 you can sell").await;

    // Quote it (the nightly rate), then book it for the agent: its contracted plan is
    // preselected, the price is the net rate and the commission is shown.
    b.goto(&format!("{wb_base}/ui/bookings/new")).await;
    b.set_value("select[name=stock]", "KRL/DLX").await;
    b.set_value("input[name=arrival]", &day(0)).await;
    b.set_value("input[name=departure]", &day(1)).await;
    b.fill("input[name=guest_name]", "Office Guest").await;
    b.wait_text("[data-testid=live-summary]", "1 Deluxe free on every night")
        .await;
    b.wait_text("[data-testid=live-price]", "ZAR 100.00").await;
    b.screenshot(&shots.join("office-quote.png")).await;
    b.set_value("select[name=agent]", "SAFARI").await;
    until("the agent's contracted plan preselected", || async {
        (b.exec(
            "return document.querySelector('select[name=rate_plan]').value",
            json!([]),
        )
        .await
            == json!("KRL/NET"))
        .then_some(())
    })
    .await;
    b.wait_text("[data-testid=live-price]", "ZAR 80.00").await;
    let about = b
        .wait_text("[data-testid=agent-summary]", "Safari Tours")
        .await;
    assert!(about.contains("10 %"), "{about}");
    b.wait_text("[data-testid=commission]", "ZAR 8.00").await;
    audit(&b, &axe, "new booking for an agent").await;
    b.screenshot(&shots.join("office-agent-quote.png")).await;
    b.click("button[data-action=create]").await;
    b.wait_text("[data-testid=done]", "Booking created").await;
    b.wait_text("[data-testid=price]", "ZAR 80.00").await;
    let sold_for = b.wait_text("[data-testid=agent]", "Safari Tours").await;
    assert!(
        sold_for.contains("10 %") && sold_for.contains("ZAR 8.00"),
        "{sold_for}"
    );
    b.screenshot(&shots.join("office-agent-booking.png")).await;

    // A past arrival is not offered as bookable.
    b.goto(&format!("{wb_base}/ui/bookings/new")).await;
    b.set_value("select[name=stock]", "KRL/DLX").await;
    let yesterday = (today() - chrono::Days::new(1)).to_string();
    b.set_value("input[name=arrival]", &yesterday).await;
    b.set_value("input[name=departure]", &day(1)).await;
    b.wait_text("[data-testid=live-summary]", "in the past")
        .await;

    // The lodge's booking: only "send to the lodge" actions, no room buttons that would fail.
    let page = format!("{wb_base}/ui/bookings/{lodge_ref}");
    b.goto(&page).await;
    b.wait_text("[data-testid=owner]", "Kraal Lodge's server")
        .await;
    b.wait_text("[data-testid=elsewhere]", "Kraal Lodge's server")
        .await;
    let cancel = b
        .wait_text("button[data-action=cancel]", "send to Kraal Lodge's server")
        .await;
    assert!(cancel.starts_with("Cancel booking"), "{cancel}");
    let buttons = b
        .exec(
            "return Array.from(document.querySelectorAll('[data-testid=actions] button[data-action]')).map(x => x.textContent)",
            json!([]),
        )
        .await;
    let buttons: Vec<String> = serde_json::from_value(buttons).unwrap_or_default();
    assert!(!buttons.is_empty());
    assert!(
        buttons
            .iter()
            .all(|t| t.contains("send to Kraal Lodge's server")),
        "every action is offered as a send to the lodge, none that would fail here: {buttons:?}"
    );
    audit(&b, &axe, "lodge booking (office)").await;
    b.set_window(820, 1180).await;
    b.screenshot(&shots.join("office-lodge-booking-tablet.png"))
        .await;
    b.set_window(1280, 800).await;
    b.fill(
        "form[action$='/cancel'] input[name=reason]",
        "guest asked the office",
    )
    .await;
    b.click("button[data-action=cancel]").await;
    b.accept_confirm("Cancel booking").await;
    b.wait_for("[data-testid=done]").await;
    b.reload_until(&page, "[data-testid=status]", "Cancelled")
        .await;
    b.wait_text("[data-testid=forwarded]", "done").await;
    b.screenshot(&shots.join("office-lodge-cancelled.png"))
        .await;
    let at_lodge = pa.get(&format!("/api/v1/bookings/{lodge_ref}")).await;
    assert_eq!(at_lodge.body["status"], "cancelled");
    assert_eq!(at_lodge.body["cancel_reason"], "guest asked the office");

    // Logging in on the lodge's server (same host, other port) keeps the web session.
    log_in(&b, &pa_base, MANAGER).await;
    b.goto(&format!("{wb_base}/ui/today")).await;
    b.wait_text("[data-testid=user]", MANAGER.0).await;
    b.quit().await;
}

//! The reports page (`/ui/reports`) in a real browser against a real `innsync serve` process,
//! on seeded data: guests in house with room nights posted by the night audit, minibar and
//! laundry charges, bookings ahead. The page's four SVG charts are there with one bar per night
//! (or charge type), its tables show, night by night and per charge type, exactly the figures
//! the reports API answers, it says how fresh its data is, it passes the axe-core audit, and a
//! screenshot goes to `target/ui-screenshots/reports.png`.
//!
//! Browser and axe-core as in `ui_browser.rs` (`scripts/install-browser`; `INNSYNC_SKIP_BROWSER=1`
//! skips deliberately when the browser is missing).
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
use std::path::{Path, PathBuf};
use ui::Browser;

const MANAGER: (&str, &str) = ("manager", "manager-pass-1");
/// Nights the page and the API are compared over.
const NIGHTS: u64 = 7;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn install_browser() -> std::io::Result<std::process::ExitStatus> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-browser");
    std::process::Command::new("bash").arg(&script).status()
}

/// Chromium and chromedriver, installing them if needed; `None` only when they are missing and
/// `INNSYNC_SKIP_BROWSER=1` says to skip.
fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    if let (Some(c), Some(d)) = ui::browser_paths() {
        return Some((c, d));
    }
    if std::env::var("INNSYNC_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: chromium/chromedriver are not installed and INNSYNC_SKIP_BROWSER=1");
        return None;
    }
    let ran = install_browser();
    match ui::browser_paths() {
        (Some(c), Some(d)) => Some((c, d)),
        _ => panic!(
            "the browser test needs chromium and chromedriver, and scripts/install-browser \
             could not install them ({ran:?}); set INNSYNC_SKIP_BROWSER=1 to skip deliberately"
        ),
    }
}

/// axe-core's script from `target/axe/` (installed when missing).
fn axe_source() -> String {
    let file = target_dir().join("axe/node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let ran = install_browser();
        assert!(
            file.exists(),
            "axe-core is missing at {} and scripts/install-browser could not install it ({ran:?})",
            file.display()
        );
    }
    std::fs::read_to_string(&file).expect("read axe.min.js")
}

/// Money as the page writes it: `45.00 ZAR`.
fn money(amount: i64) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    format!("{sign}{}.{:02} ZAR", a / 100, a % 100)
}

/// Basis points as the page writes them: `40.00%`.
fn pct(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// Books a stay of `nights` from `arrival` days ahead on DLX; checks it in to `room` if given.
async fn stay(api: &Api, arrival: u64, nights: u64, name: &str, room: Option<&str>) -> String {
    let mut b = booking(arrival, nights);
    b["guest"] = json!({"name": name});
    let r = api.ok("/api/v1/bookings", b).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    if let Some(room) = room {
        api.ok(
            &format!("/api/v1/bookings/{r}/check-in"),
            json!({"room": room}),
        )
        .await;
    }
    r
}

/// KRL with four DLX rooms and one STD room at 100.00, a catalogue (room and minibar, VAT 15%
/// inclusive), two guests in house with tonight's room nights posted by the night audit, a
/// minibar and a laundry charge, and two bookings ahead.
async fn seed_a_week(api: &Api) {
    seed(api, 4).await;
    let a = api
        .put(
            "/api/v1/properties/KRL/catalog",
            json!({
                "taxes": [{"code": "VAT", "name": "VAT 15%", "rate_bp": 1500, "inclusive": true}],
                "items": [
                    {"code": "ROOM", "name": "Room", "price": null, "tax": "VAT", "group": "rooms"},
                    {"code": "MINIBAR", "name": "Minibar", "price": 4500, "tax": "VAT", "group": "beverage"}
                ]
            }),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let ada = stay(api, 0, 3, "Ada Lovelace", Some("101")).await;
    let bo = stay(api, 0, 2, "Bo Chen", Some("102")).await;
    stay(api, 1, 3, "Cy Dube", None).await;
    stay(api, 3, 2, "Di Eze", None).await;
    api.ok(
        &format!("/api/v1/bookings/{ada}/charges"),
        json!({"item": "MINIBAR", "quantity": 2}),
    )
    .await;
    api.ok(
        &format!("/api/v1/bookings/{bo}/charges"),
        json!({"amount": 1200, "description": "Laundry"}),
    )
    .await;
    let audit = api
        .post(
            "/api/v1/night-audit",
            json!({"property": "KRL", "business_date": day(0)}),
        )
        .await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    api.ok(
        "/api/v1/users",
        json!({"username": MANAGER.0, "password": MANAGER.1, "roles": ["admin"], "servers": []}),
    )
    .await;
}

/// The whole-property row of the API's occupancy report for one night.
async fn api_night(api: &Api, night: u64) -> (i64, i64, i64) {
    let r = api
        .get(&format!(
            "/api/v1/reports/occupancy?property=KRL&from={}&to={}",
            day(night),
            day(night + 1)
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let row = r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["room_type"] == "*")
        .cloned()
        .unwrap_or_else(|| panic!("no total row: {}", r.body));
    let n = |k: &str| row[k].as_i64().unwrap_or(0);
    (n("occupancy_bp"), n("adr"), n("revpar"))
}

/// The cells of every body row of the table `testid`, as the page shows them.
async fn table(b: &Browser, testid: &str) -> Vec<Vec<String>> {
    let v = b
        .exec(
            "return Array.from(document.querySelectorAll(\
             'table[data-testid=' + arguments[0] + '] tbody tr')).map(\
             tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim()));",
            json!([testid]),
        )
        .await;
    serde_json::from_value(v).unwrap_or_else(|e| panic!("table {testid}: {e}"))
}

#[tokio::test]
async fn the_reports_page_charts_the_figures_the_api_reports() {
    let Some((chromium, driver)) = browser_or_skip() else {
        return;
    };
    let axe = axe_source();
    let s = TestServer::start();
    let api = s.api();
    seed_a_week(&api).await;
    let b = Browser::start(&chromium, &driver).await;
    b.goto(&format!("{}/ui/login", s.base)).await;
    b.fill("input[name=username]", MANAGER.0).await;
    b.fill("input[name=password]", MANAGER.1).await;
    b.click("form[action='/ui/login'] button[type=submit]")
        .await;
    b.wait_text("[data-testid=user]", MANAGER.0).await;
    b.goto(&format!(
        "{}/ui/reports?property=KRL&from={}&to={}",
        s.base,
        day(0),
        day(NIGHTS)
    ))
    .await;
    b.wait_for("table[data-testid=occupancy]").await;

    // Four charts, each an accessible SVG image with its title; one bar per night.
    let charts: Vec<String> = serde_json::from_value(
        b.exec(
            "return Array.from(document.querySelectorAll('figure svg[role=img]'))\
             .map(s => s.getAttribute('aria-label'));",
            json!([]),
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        charts,
        [
            "Occupancy",
            "ADR (average daily rate)",
            "RevPAR (revenue per available room)",
            "Revenue by charge type"
        ]
    );
    let bars: Vec<u64> = serde_json::from_value(
        b.exec(
            "return Array.from(document.querySelectorAll('figure svg[role=img]'))\
             .map(s => s.querySelectorAll('rect').length);",
            json!([]),
        )
        .await,
    )
    .unwrap();
    assert_eq!(&bars[..3], &[NIGHTS; 3], "one bar per night: {bars:?}");

    // Night by night, the page's figures are the API's.
    let rows = table(&b, "occupancy").await;
    assert_eq!(rows.len() as u64, NIGHTS, "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        let (occ, adr, revpar) = api_night(&api, i as u64).await;
        assert_eq!(
            row,
            &vec![day(i as u64), pct(occ), money(adr), money(revpar)],
            "night {i}"
        );
    }
    // Tonight two of five rooms are sold, their room nights posted by the audit (100.00 with
    // 15% VAT inside: 86.96 net); night 1 has three.
    assert_eq!(rows[0][1], "40.00%", "{rows:?}");
    assert_eq!(
        rows[0][2],
        money(8696),
        "the audit's room nights make the ADR: {rows:?}"
    );
    assert_eq!(rows[1][1], "60.00%", "{rows:?}");
    // Revenue by charge type: the API's charge and tax rows, gross.
    let revenue = api
        .get(&format!(
            "/api/v1/reports/revenue?property=KRL&from={}&to={}",
            day(0),
            day(NIGHTS)
        ))
        .await;
    assert_eq!(revenue.status, 200, "{:?}", revenue.body);
    let expected: Vec<Vec<String>> = revenue.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["kind"].as_str(), Some("charge" | "tax")))
        .map(|r| {
            let kind = r["kind"].as_str().unwrap_or_default();
            let name = match r["item"].as_str().filter(|i| !i.is_empty()) {
                Some(item) => format!("{kind} {item}"),
                None => kind.to_string(),
            };
            vec![name, money(r["gross"].as_i64().unwrap_or(0))]
        })
        .collect();
    let shown = table(&b, "revenue").await;
    assert_eq!(shown, expected);
    assert!(
        shown
            .iter()
            .any(|r| r[0] == "charge MINIBAR" && r[1] == "90.00 ZAR"),
        "{shown:?}"
    );
    assert_eq!(bars[3] as usize, expected.len(), "one bar per charge type");
    let fresh = b.text_of("section.card p.muted").await.unwrap_or_default();
    assert!(
        fresh.contains("last change from each server"),
        "the page says how fresh it is: {fresh}"
    );

    let v = b.accessibility_violations(&axe).await;
    assert!(
        v.is_empty(),
        "accessibility violations on /ui/reports:\n{}",
        v.join("\n")
    );
    b.screenshot(&target_dir().join("ui-screenshots/reports.png"))
        .await;
    b.quit().await;
}
